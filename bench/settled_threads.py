"""Index the dev part's settled threads for :mod:`weightfit.explain.resemblance`.

Reads ``tests/data/errors-real/`` (the ``dev`` split only: the held-back part must not
answer its own texts) and writes ``src/weightfit/knowledge/settled_threads.json``: the key
of every word that at least two threads use (:func:`weightfit.explain.resemblance.word_key`),
and per thread its URL, repository, settled category and words (as numbers into that list).

Run: ``.venv/bin/python bench/settled_threads.py [--check]`` (``--check``: exit 1 when the
index is not current with the corpus, write nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "errors-real"
INDEX = ROOT / "src" / "weightfit" / "knowledge" / "settled_threads.json"
MIN_THREADS = 2
"""Threads that must use a word for it to be indexed: a word of one thread matches none."""


def build(corpus: Path = CORPUS) -> str:
    """The index of ``corpus``'s dev threads, as the JSON text written."""
    from weightfit.explain import readable
    from weightfit.explain.resemblance import word_keys

    threads = []
    for meta_path in sorted(corpus.glob("*.yaml")):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("split") != "dev":
            continue
        text = meta_path.with_suffix(".txt").read_text(encoding="utf-8")
        threads.append((meta, word_keys(readable(text))))
    used = Counter(word for _, found in threads for word in found)
    vocabulary = sorted(word for word, count in used.items() if count >= MIN_THREADS)
    number = {word: n for n, word in enumerate(vocabulary)}
    data = {
        "about": (
            "Word keys of the settled threads of tests/data/errors-real/ (dev split), for "
            "weightfit.explain.resemblance. Written by bench/settled_threads.py."
        ),
        "word_keys": vocabulary,
        "threads": [
            {
                "url": meta["source_url"],
                "repo": meta["repo"],
                "category": meta["category"],
                "words": sorted(number[w] for w in found if w in number),
            }
            for meta, found in threads
        ],
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the index is stale")
    args = parser.parse_args()
    text = build()
    if args.check:
        current = INDEX.exists() and INDEX.read_text(encoding="utf-8") == text
        print("settled_threads.json is " + ("current" if current else "stale"))
        return 0 if current else 1
    INDEX.write_text(text, encoding="utf-8")
    print(f"wrote {INDEX.relative_to(ROOT)}: {len(text) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
