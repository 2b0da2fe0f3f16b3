"""Measure how ``weightfit explain`` holds up to what pasting does to a text.

People paste the same error through terminals, loggers, chat apps, web pages and
quoting replies. This benchmark pastes each text of the *dev* part of
``tests/data/errors-real/`` again through one such transformation at a time (a
terminal's hard wrap at 64, 80, 100 and 120 columns, log prefixes, a quoting reply,
an exception's repr, a JSON log, HTML escapes, colours, curly quotes, full-width
punctuation ...) and counts the texts whose reading is unchanged: the same top
categories and the same names and shapes on the same sides. The held-back part is
never read.

The result replaces this benchmark's section of ``BENCHMARKS.md`` unless ``--no-write``.

Run: ``.venv/bin/python bench/explain_paste.py [--no-write] [--show-changed]``.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Callable
from pathlib import Path

import _measure
from _measure import machine
from explain_real import load_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pasting import hard_wrapped

BEGIN, END = "<!-- bench/explain_paste.py begin -->", "<!-- bench/explain_paste.py end -->"


def wrapped(width: int, mark: str = "") -> Callable[[str], str]:
    """A terminal of ``width`` columns breaking every longer line (a reply quoting it)."""
    return lambda text: hard_wrapped(text, width, mark)


def prefixed(prefix: str) -> Callable[[str], str]:
    return lambda text: "\n".join(prefix + line for line in text.split("\n"))


PASTES: dict[str, Callable[[str], str]] = {
    "terminal wrap at 64 columns": wrapped(64),
    "terminal wrap at 80 columns": wrapped(80),
    "terminal wrap at 100 columns": wrapped(100),
    "terminal wrap at 120 columns": wrapped(120),
    "quoting reply of an 80-column wrap": wrapped(78, "> "),
    "rank prefix, then wrapped at 100": lambda t: wrapped(100)(prefixed("[rank0]: ")(t)),
    "logging prefix (asctime - name - level -)": prefixed(
        "2024-05-01 10:11:12,345 - root - ERROR - "
    ),
    "loguru prefix": prefixed("2024-05-01 10:11:12.345 | ERROR    | __main__:main:10 - "),
    "vLLM logger prefix": prefixed("ERROR 12-04 11:26:27 engine.py:366] "),
    "glog / absl prefix": prefixed("E1204 11:26:27.123456 12345 loader.cc:123] "),
    "docker compose prefix": prefixed("vllm-server  | "),
    "quoting reply (> )": prefixed("> "),
    "indented code block": prefixed("    "),
    "ANSI colours": lambda t: "\n".join(f"\x1b[31m{line}\x1b[0m" for line in t.split("\n")),
    "Windows line ends": lambda t: t.replace("\n", "\r\n"),
    "HTML escapes": html.escape,
    "exception repr": lambda t: f"RuntimeError({t!r})",
    "JSON log string": lambda t: json.dumps(t)[1:-1],
    "curly quotes": lambda t: t.replace("'", "\u2019").replace('"', "\u201d"),
    "full-width punctuation, no-break spaces": lambda t: (
        t.replace(",", "\uff0c").replace(":", "\uff1a").replace(" ", "\u00a0")
    ),
}
"""Each transformation a paste may apply, by what does it."""


def reading(text: str) -> tuple[object, ...]:
    """The top categories and every name and shape read, or "no loading error"."""
    import weightfit
    from weightfit.errors import NoLoadingErrorFound
    from weightfit.explain import sections

    try:
        found = sections(text)
        report = weightfit.explain(text)
    except NoLoadingErrorFound:
        return ("no loading error",)
    return (
        [f.category for f in report.findings[:2]],
        sorted((n, v) for s in found for n, v in s.mismatched.items()),
        sorted(n for s in found for n in s.missing),
        sorted(n for s in found for n in s.unexpected),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--show-changed", action="store_true", help="list the texts read otherwise")
    args = parser.parse_args()

    texts = {case.ident: case.text for case in load_corpus() if case.split == "dev"}
    original = {ident: reading(text) for ident, text in texts.items()}
    lines = [
        BEGIN,
        "### explain on the same errors pasted again (`bench/explain_paste.py`)",
        "",
        f"Machine: {machine()}. Each of the {len(texts)} dev texts of "
        "`tests/data/errors-real/` pasted again through one transformation; a text is kept "
        "when its top categories and every name and shape read stay the same.",
        "",
        "| paste | texts read the same |",
        "| --- | --- |",
    ]
    changed: list[str] = []
    for label, paste in PASTES.items():
        same = [ident for ident, text in texts.items() if reading(paste(text)) == original[ident]]
        lines.append(f"| {label} | {len(same)} / {len(texts)} |")
        changed += [f"{label}: {ident}" for ident in texts if ident not in same]
    lines.append(END)
    section = "\n".join(lines)
    print(section)
    if args.show_changed:
        print("\n".join(changed))
    if not args.no_write:
        _measure.replace_section(section)


if __name__ == "__main__":
    main()
