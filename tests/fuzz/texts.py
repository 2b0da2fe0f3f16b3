"""Fuzz ``weightfit.explain`` with real loading-error texts cut, spliced and mutated.

Seeds are the texts of ``tests/data/errors-real/`` (verbatim pastes) and
``tests/data/errors/`` (the generated corpus). Each input is one of: lines drawn from
many texts, or one text with a span of another spliced in; half of them then get a few
characters replaced by digits, brackets, quotes, dots and separators (shapes and names
half-written). A report or ``NoLoadingErrorFound`` is fine; any other exception is a
finding, kept with its input.

Run once (the figure goes in the report): ``python tests/fuzz/texts.py --count 100000``.
The test suite runs a small sample (``test_fuzz_sample.py``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import weightfit
from weightfit.errors import NoLoadingErrorFound

DATA = Path(__file__).resolve().parents[1] / "data"
NOISE = "0123456789[](),.'\" \nx-:_{}"
"""Characters a mutation writes: what shapes, names and lists are made of."""


@dataclass
class Stats:
    """What one run did."""

    inputs: int = 0
    reports: int = 0
    no_error: int = 0
    findings: list[tuple[str, str]] = field(default_factory=list)


def seeds() -> list[str]:
    """Every real and generated error text."""
    paths = sorted((DATA / "errors-real").glob("*.txt")) + sorted((DATA / "errors").glob("*.txt"))
    return [path.read_text(encoding="utf-8") for path in paths]


def mutated(rng: random.Random, texts: list[str], lines: list[str]) -> str:
    """One input: drawn lines or a spliced text, half of them with characters replaced."""
    if rng.random() < 0.5:
        text = "\n".join(rng.choice(lines) for _ in range(rng.randint(1, 30)))
    else:
        base, other = rng.choice(texts), rng.choice(texts)
        start = rng.randint(0, len(base))
        stop = rng.randint(start, len(base))
        text = base[:start] + other[start:stop] + base[stop:]
    if rng.random() < 0.5:
        text = "".join(c if rng.random() > 0.03 else rng.choice(NOISE) for c in text)
    return text


def fuzz(count: int, seed: int = 0) -> Stats:
    """Explain ``count`` mutated texts; collect every exception that is not ours."""
    rng = random.Random(seed)
    texts = seeds()
    lines = [line for text in texts for line in text.splitlines()]
    stats = Stats()
    for _ in range(count):
        text = mutated(rng, texts, lines)
        stats.inputs += 1
        try:
            weightfit.explain(text)
            stats.reports += 1
        except NoLoadingErrorFound:
            stats.no_error += 1
        except Exception:  # a finding: explain may only report or say there is no error
            stats.findings.append((traceback.format_exc(limit=-1), text))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    stats = fuzz(args.count, args.seed)
    print(
        f"{stats.inputs} inputs in {time.perf_counter() - start:.0f} s: {stats.reports} reports, "
        f"{stats.no_error} 'no loading error found', {len(stats.findings)} other exceptions"
    )
    for trace, _ in stats.findings[:5]:
        print(trace)


if __name__ == "__main__":
    main()
