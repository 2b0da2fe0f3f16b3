"""Classes that codebases pickling whole models define (``pickled_classes.yaml``).

YOLOv5, YOLOv7 and YOLOv9 each save the whole model with ``torch.save(model)``, its layers
pickled from a package named ``models``. Opened by another of them, or by an older
checkout, a file fails on the first class that code lacks. Which codebases define the
class, and which one the failing checkout is (its path), tell a file of another codebase
from one of a newer release.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Codebase:
    """One codebase's pickled modules and the classes each defines.

    Attributes:
        name: The codebase (``"YOLOv7"``).
        path_words: Words of a checkout's path that name it.
        modules: Module name to the classes it defines.
        source: Where the classes were read (repository, commit, files).
    """

    name: str
    path_words: tuple[str, ...]
    modules: dict[str, frozenset[str]]
    source: str

    def defines(self, module: str, cls: str) -> bool:
        """Whether this codebase's ``module`` defines ``cls``."""
        return cls in self.modules.get(module, frozenset())


@cache
def codebases() -> tuple[Codebase, ...]:
    """Every codebase of the table."""
    text = resources.files(__package__).joinpath("pickled_classes.yaml").read_text("utf-8")
    return tuple(
        Codebase(
            name=row["codebase"],
            path_words=tuple(row["path_words"]),
            modules={module: frozenset(names) for module, names in row["modules"].items()},
            source=row["source"],
        )
        for row in yaml.safe_load(text)
    )


def pickling(module: str) -> list[Codebase]:
    """The codebases that pickle layers from ``module`` (``models.common``)."""
    return [codebase for codebase in codebases() if module in codebase.modules]


def checkout_of(path: str) -> Codebase | None:
    """The codebase a checkout's path names, the one nearest the file when several do."""
    for part in reversed(path.replace("\\", "/").lower().split("/")):
        for codebase in codebases():
            if any(word in part for word in codebase.path_words):
                return codebase
    return None
