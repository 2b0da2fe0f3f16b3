"""Make this interpreter one where ``pip install weightfit`` put no framework.

Put this folder first on ``PYTHONPATH`` of a subprocess: Python imports
``sitecustomize`` at start-up, and the finder below makes every import of torch,
numpy, safetensors, transformers, diffusers, peft or accelerate fail exactly as
it does when the package is not installed (``ModuleNotFoundError``).
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

ABSENT = frozenset(
    {"torch", "numpy", "safetensors", "transformers", "diffusers", "peft", "accelerate"}
)


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, _Absent())
