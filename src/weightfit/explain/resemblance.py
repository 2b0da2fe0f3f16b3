"""Resemblance: what settled threads most like a pasted text were found to be.

When a text holds a loading error no rule explains, an expert still recognises it: "I have
seen this one; it was a release mismatch." :func:`resembling` does the same with the
threads of the corpus's development part (``tests/data/errors-real/``, never its held-back
part), indexed by ``bench/settled_threads.py`` into ``knowledge/settled_threads.json``: each
thread's words (as keys: the first 8 bytes of each word's BLAKE2b digest, so the index holds
no text of the threads), its settled category and its URL.

A text's words (identifiers and their ``_`` parts, and each pair of neighbouring words) are
weighed by how rare they are among the threads (inverse document frequency); the
:data:`NEIGHBOURS` threads nearest by cosine similarity vote for their settled category,
each by its similarity. The category carrying at least :data:`MIN_SHARE` of the votes is
the answer, its confidence the precision such answers earned on the dev texts, measured
with each text's own repository withheld (``bench/explain_real.py --calibrate``), and its
evidence the threads themselves, for the reader to compare with.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import cast

from weightfit.diagnose.calibration import resemblance_table
from weightfit.findings import Category, Finding

NEIGHBOURS = 7
"""Nearest threads that vote."""

MIN_SHARE = 0.5
"""Share of the votes the answered category must carry."""

MIN_SIMILARITY = 0.15
"""Least cosine similarity of the nearest thread for a loading error to resemble any."""

UNMEASURED_RESEMBLANCE = 0.3
"""The confidence of a resemblance whose precision was never measured."""

SAMPLE_CHARS = 20_000
"""Characters of a longer text compared: its head and its tail, where a traceback ends."""

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
"""An identifier-like word: a name, a keyword of a message, a class."""

_WITHHELD: ContextVar[frozenset[str]] = ContextVar("withheld", default=frozenset())


@dataclass(frozen=True)
class Thread:
    """One settled thread of the index."""

    url: str
    repo: str
    category: Category
    words: frozenset[int]


@dataclass(frozen=True)
class Neighbour:
    """A thread like the text, and how alike (cosine similarity in [0, 1])."""

    url: str
    category: Category
    similarity: float


@dataclass(frozen=True)
class Resemblance:
    """The category the threads nearest a text were settled as.

    Attributes:
        category: The category with the most votes.
        share: Its share of the votes, in [0, 1].
        neighbours: The voting threads, nearest first.
    """

    category: Category
    share: float
    neighbours: tuple[Neighbour, ...]

    def finding(self, checkpoint: str = "CKPT") -> Finding:
        """The finding that names this category, at the precision such answers earned.

        Args:
            checkpoint: The file the text names, for the command that would settle it.
        """
        alike = [n for n in self.neighbours if n.category == self.category]
        return Finding(
            category=self.category,
            severity="error",
            message=(
                f"no rule explains this loading error; {len(alike)} of the "
                f"{len(self.neighbours)} settled threads most like it were {self.category}"
            ),
            evidence={
                "resembles": [
                    {"url": n.url, "category": n.category, "similarity": n.similarity}
                    for n in self.neighbours
                ],
                "share": self.share,
            },
            confidence=earned(),
            fix_note=(
                "Compare with the threads most like it: "
                + ", ".join(n.url for n in alike[:3])
                + f". What would settle it: weightfit check {checkpoint} --against TARGET "
                "with the files at hand."
            ),
        )


def resembling(text: str) -> Resemblance | None:
    """The category the settled threads most like ``text`` share, if enough of them do.

    Args:
        text: A loading error as the parsers read it (:func:`weightfit.explain.readable`).

    Returns:
        ``None`` when no thread is alike (:data:`MIN_SIMILARITY`), no category carries
        :data:`MIN_SHARE` of the nearest threads' votes, or the one that does is
        ``unknown`` (threads settled outside every category name no cause).
    """
    nearest = neighbours(text)
    if not nearest or nearest[0].similarity < MIN_SIMILARITY:
        return None
    votes: dict[str, float] = defaultdict(float)
    for neighbour in nearest:
        votes[neighbour.category] += neighbour.similarity
    category, weight = max(votes.items(), key=lambda vote: vote[1])
    share = weight / sum(votes.values())
    if share < MIN_SHARE or category == "unknown":
        return None
    return Resemblance(cast(Category, category), round(share, 2), tuple(nearest))


def neighbours(text: str) -> list[Neighbour]:
    """The :data:`NEIGHBOURS` indexed threads nearest ``text``, nearest first."""
    index = _index()
    query = {index.ids[key] for key in word_keys(text) if key in index.ids}
    if not query:
        return []
    withheld = _WITHHELD.get()
    scores: dict[int, float] = defaultdict(float)
    for word in query:
        for thread in index.postings[word]:
            scores[thread] += index.idf[word] ** 2
    query_norm = math.sqrt(sum(index.idf[word] ** 2 for word in query))
    ranked = sorted(
        (
            (score / (query_norm * index.norms[thread]), thread)
            for thread, score in scores.items()
            if index.threads[thread].repo not in withheld
        ),
        reverse=True,
    )
    return [
        Neighbour(index.threads[t].url, index.threads[t].category, round(similarity, 3))
        for similarity, t in ranked[:NEIGHBOURS]
    ]


def word_keys(text: str) -> set[str]:
    """The keys (:func:`word_key`) of a text's identifiers, their parts and neighbouring pairs."""
    if len(text) > SAMPLE_CHARS:
        text = f"{text[: SAMPLE_CHARS // 2]}\n{text[-SAMPLE_CHARS // 2 :]}"
    found = [word.lower() for word in WORD.findall(text)]
    out = set(found)
    out.update(part for word in found for part in word.split("_") if len(part) > 2)
    out.update(f"{a} {b}" for a, b in pairwise(found))
    return {word_key(word) for word in out}


def word_key(word: str) -> str:
    """A word as the index keys it: the first 8 bytes of its BLAKE2b digest, in hex."""
    return hashlib.blake2b(word.encode("utf-8"), digest_size=8).hexdigest()


@contextmanager
def withheld(repos: Iterable[str]) -> Iterator[None]:
    """Leave the threads of ``repos`` (``owner/name``) out of every vote while inside.

    A text's own repository must not vote for it when measuring how well resemblance
    answers texts it has never seen.
    """
    token = _WITHHELD.set(frozenset(repo.lower() for repo in repos))
    try:
        yield
    finally:
        _WITHHELD.reset(token)


def earned() -> float:
    """The confidence such answers earned on the dev texts (``calibration.yaml``)."""
    measured = resemblance_table().get("unknown")
    return round(measured.cap, 2) if measured and measured.seen else UNMEASURED_RESEMBLANCE


@dataclass(frozen=True)
class _Index:
    threads: tuple[Thread, ...]
    ids: dict[str, int]
    idf: tuple[float, ...]
    postings: tuple[tuple[int, ...], ...]
    norms: tuple[float, ...]


@cache
def _index() -> _Index:
    """``knowledge/settled_threads.json``, read once, with each word's weight."""
    path = resources.files("weightfit.knowledge").joinpath("settled_threads.json")
    data = json.loads(path.read_text("utf-8"))
    vocabulary: list[str] = data["word_keys"]
    threads = tuple(
        Thread(row["url"], row["repo"].lower(), row["category"], frozenset(row["words"]))
        for row in data["threads"]
    )
    postings: list[list[int]] = [[] for _ in vocabulary]
    for number, thread in enumerate(threads):
        for word in thread.words:
            postings[word].append(number)
    idf = tuple(math.log(len(threads) / (1 + len(posting))) for posting in postings)
    norms = tuple(
        math.sqrt(sum(idf[word] ** 2 for word in thread.words)) or 1.0 for thread in threads
    )
    return _Index(
        threads=threads,
        ids={word: number for number, word in enumerate(vocabulary)},
        idf=idf,
        postings=tuple(tuple(p) for p in postings),
        norms=norms,
    )
