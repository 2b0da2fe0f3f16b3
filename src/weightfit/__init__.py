"""weightfit: why a checkpoint will not load into your model, and the fix.

The public API, imported lazily so ``import weightfit`` stays light and never
pulls in torch::

    manifest = weightfit.read("model.safetensors")
    report = weightfit.check("ckpt.pth", "pkg.models:build")
    plan = weightfit.fix("ckpt.pth", "pkg.models:build", "out/")
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from weightfit._version import __version__
from weightfit.report import notebook as _notebook  # registers how results print (display.py)

_EXPORTS = {
    "read": "weightfit.formats",
    "ReadOptions": "weightfit.formats",
    "WriteOptions": "weightfit.apply",
    "check": "weightfit.check",
    "check_adapter": "weightfit.adapters.check",
    "fix": "weightfit.fix",
    "apply": "weightfit.apply",
    "merge_adapter": "weightfit.adapters.merge",
    "load_into": "weightfit.load",
    "lint": "weightfit.lint",
    "explain": "weightfit.explain",
    "explained": "weightfit.explain",
    "Manifest": "weightfit.manifest",
    "TensorSpec": "weightfit.manifest",
    "ByteRange": "weightfit.manifest",
    "Finding": "weightfit.findings",
    "Report": "weightfit.findings",
    "Plan": "weightfit.plan",
    "Op": "weightfit.plan",
    "WeightfitError": "weightfit.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from weightfit.adapters.check import check_adapter
    from weightfit.adapters.merge import merge_adapter
    from weightfit.apply import WriteOptions, apply
    from weightfit.check import check
    from weightfit.errors import WeightfitError
    from weightfit.explain import explain, explained
    from weightfit.findings import Finding, Report
    from weightfit.fix import fix
    from weightfit.formats import ReadOptions, read
    from weightfit.lint import lint
    from weightfit.load import load_into
    from weightfit.manifest import ByteRange, Manifest, TensorSpec
    from weightfit.plan import Op, Plan


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weightfit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return [*__all__, "__version__"]


class _API(types.ModuleType):
    """Package type under which a function wins over the submodule of the same name.

    Importing ``weightfit.check`` binds the submodule as the attribute ``check``
    of this package, which would hide the function ``weightfit.check``. The
    properties below keep the attribute the function; the binding is ignored
    (the submodule stays in ``sys.modules``: use ``from weightfit.check import x``).
    """


def _function(name: str) -> property:
    def get(_: types.ModuleType) -> Any:
        return getattr(importlib.import_module(_EXPORTS[name]), name)

    def ignore(_: types.ModuleType, __: object) -> None:
        return None

    return property(get, ignore)


for _name, _module in _EXPORTS.items():
    if _module == f"{__name__}.{_name}":
        setattr(_API, _name, _function(_name))
sys.modules[__name__].__class__ = _API
