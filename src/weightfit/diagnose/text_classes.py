"""Classes and code a text says a loader cannot find, or that another release changed.

A class or module a pickle names and the installed code lacks, a dependency lacking a
function its loader calls, an attribute a class gained after it was pickled, an
architecture or name a loader does not know.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding
from weightfit.formats.containers import TORCHSCRIPT_NAMESPACE
from weightfit.knowledge import pickled_classes


def missing_class(ctx: Context) -> None:
    """Report a pickled checkpoint naming a class the installed library lacks."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.missing_class is None or ctx.findings:
        return
    name, module = facts.missing_class
    if module == "__main__":
        ctx.add(_script_class(name))
        return
    if module.split(".", 1)[0] == TORCHSCRIPT_NAMESPACE:
        ctx.add(_torchscript_pickle(module))
        return
    if TRAINING_OBJECT.search(f"{name} {module.rsplit('.', 1)[-1]}"):
        ctx.add(_training_object(name, module))
        return
    if name and _other_codebase(ctx, name, module, facts.missing_class_file):
        return
    if not name and "." not in module and _whole_model_load(facts.text):
        ctx.add(_source_tree_module(module))
        return
    what = _pickled_name(name, module)
    # A loader's "requires missing module 'a.b'" reads as a missing name: it is the module.
    ctx.consume(missing=[n for n in ctx.missing() if n == module])
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the checkpoint pickles the {what}, which the installed code does not have: "
                + ("" if name else "the package its classes come from is not installed, or ")
                + "it was saved by another version of the library that defines it"
            ),
            evidence={"class": name, "module": module},
            # Or the file belongs to another codebase that defines the class (YOLOv7 vs v5).
            confidence=0.6,
            fix_note=(
                "install the library version that saved it (or the one that has the class), "
                "or convert the weights to safetensors with that version: a weights-only "
                "file needs no classes"
            ),
        )
    )


def _torchscript_pickle(module: str) -> Finding:
    """A TorchScript archive unpickled as a ``torch.save`` file: its classes are compiled code."""
    return Finding(
        category="unrelated",
        severity="error",
        message=(
            f"the file's pickle names the module {module}, TorchScript's namespace for compiled "
            "classes: it is a TorchScript archive (torch.jit.save), not a torch.save checkpoint"
        ),
        evidence={"module": module},
        confidence=0.7,
        fix_note="load it with torch.jit.load (its state_dict() holds the weights)",
    )


def module_attribute(ctx: Context) -> None:
    """Report loading code calling a name, or an argument, its installed dependency lacks.

    ``module 'omegaconf._utils' has no attribute 'is_primitive_type'``; ``load_model() got an
    unexpected keyword argument 'device'`` (accelerate calling an older safetensors); a
    classmethod called on an instance (Lightning 2's ``load_from_checkpoint``).
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    other = "one that still has it, or already does"
    if facts.module_attribute is not None:
        module, name = facts.module_attribute
        whose = module.split(".", 1)[0]
        uses = f"{module}.{name}, which the installed {whose} does not have"
    elif facts.called_with is not None:
        module, name = facts.called_with
        whose = f"the library that defines {module}"
        uses = f"{module}(..., {name}=...), an argument the installed {module} does not take"
    elif facts.instance_call is not None:
        module, name = facts.instance_call
        whose, other = f"the library that defines {name}", "one that allowed it"
        uses = f"{module}.{name} on an instance, which the installed release allows on a class"
    else:
        return
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the loading code uses {uses}: the loader was written for another release "
                f"of {whose} ({other})"
            ),
            evidence={"module": module, "name": name},
            confidence=0.55,
            fix_note=(
                f"install the release of {whose} the loader's requirements name, or update "
                "the loader to the installed one"
            ),
        )
    )


TRAINING_OBJECT = re.compile(
    r"Meter|Recorder|Logger|Averager|Tracker|History|Args|Options|\blogger\b|\bmeters?\b"
)
"""Class names of what a training script keeps beside the weights: metrics, logs, options."""

WHOLE_MODEL_LOAD = re.compile(
    r"\b\w*(?i:model|net|network)\w*\s*=\s*torch\.load\(|"
    r"\btorch\.load\([^\n]*\)(?:\s*\[\s*['\"]\w+['\"]\s*\])?\s*\.(?:float|half|eval|cuda|to)\(|"
    r"^\s*(?:-*>\s*\d+|>>>)\s+torch\.load\(",
    re.M,
)
"""A ``torch.load`` in pasted code whose result is used as the model itself (``model =``
that call, or its ``['model']`` entry given ``.float()``) or looked at alone in an
interactive session, read as text, never called: code that means to unpickle a whole
model, not to read a state dict into one."""


def _whole_model_load(text: str) -> bool:
    """Whether the text loads a whole pickled model and never reads a state dict into one."""
    return WHOLE_MODEL_LOAD.search(text) is not None and "load_state_dict" not in text


def _source_tree_module(module: str) -> Finding:
    """A whole pickled model whose top-level module is the saving project's own source.

    A model saved whole pickles references to its classes by module; a top-level module
    (``models``, a script's file name) that no installed package provides is the saving
    project's source tree, which the unpickler imports from ``sys.path``. Code that loads
    the model whole and fails there runs outside that tree: an environment matter, not
    the checkpoint's contents nor a library's release.
    """
    return Finding(
        category="unknown",
        severity="error",
        message=(
            f"the code loads a whole pickled model, and unpickling cannot import its top-level "
            f"module '{module}': the saving project's own source (not an installed library), "
            "which the unpickler imports from sys.path, so the loading script runs outside "
            "that source tree"
        ),
        evidence={"module": module},
        confidence=0.45,
        fix_note=(
            f"run the load from the root of the repository that defines '{module}' (or add it "
            "to PYTHONPATH); then save model.state_dict() to load the weights without it"
        ),
    )


def _script_class(name: str) -> Finding:
    """A pickled object whose class the saving script defined in ``__main__``.

    Unpickling looks the class up in the loading program's ``__main__``, where another
    script does not define it: no library version has it. A metrics or options object
    saved beside the weights is ``extra_state``; a whole model saved from a script is
    outside every category (``unknown``), and the fix is the same.
    """
    beside = TRAINING_OBJECT.search(name) is not None
    what = "a training object saved beside the weights" if beside else "an object saved whole"
    return Finding(
        category="extra_state" if beside else "unknown",
        severity="error",
        message=(
            f"the checkpoint pickles {what}, of class '{name}' that the saving script "
            "defined in its own __main__: unpickling looks it up in the loading program's "
            "__main__, which has no such class (no library version defines it)"
        ),
        evidence={"class": name, "module": "__main__"},
        confidence=0.5,
        fix_note=(
            f"define or import {name} in the loading script's __main__ before loading, then "
            "save the weights alone (model.state_dict(), or safetensors) to load without it"
        ),
    )


def _pickled_name(name: str, module: str) -> str:
    """A pickled class (or module) as a message names it."""
    if name and module:
        return f"class '{name}' of module '{module}'"
    return f"class '{name}'" if name else f"module '{module}'"


def _training_object(name: str, module: str) -> Finding:
    """A pickled training object (a logger, a metrics meter) whose class the loader lacks."""
    what = _pickled_name(name, module)
    return Finding(
        category="extra_state",
        severity="error",
        message=(
            f"the checkpoint pickles a training object beside the weights ({what}): the "
            "training code's logger or metrics, which the loading program cannot import"
        ),
        evidence={"class": name, "module": module},
        confidence=0.5,
        fix_note=(
            "load where the training code is importable (run from its project root), then "
            "save the weights alone (model.state_dict(), or safetensors)"
        ),
    )


def _other_codebase(ctx: Context, name: str, module: str, file: str) -> bool:
    """Report a whole-model pickle of another codebase, by the codebases that define its class.

    YOLOv5, YOLOv7 and YOLOv9 pickle layers from the same ``models`` package. A class the
    failing checkout's codebase (named by its path) never defines, or none of them does, is
    another codebase's file (YOLOv7's ``MP`` in YOLOv5's code) or a modified network's; a
    class its own codebase defines today only says the checkout is older (left to the
    caller's ``version``).
    """
    pickled = pickled_classes.pickling(module)
    if not pickled:
        return False
    definers = [codebase.name for codebase in pickled if codebase.defines(module, name)]
    checkout = pickled_classes.checkout_of(file) if file else None
    if checkout is not None and checkout.name in definers:
        return False
    if definers and checkout is None:
        return False  # whose checkout failed is unknown: an older one of the definers, maybe
    loader = f"{checkout.name} code" if checkout is not None else "this code"
    whose = (
        f"a {' / '.join(definers)} model, saved whole and opened by another codebase"
        if definers
        else "a modified network's layer (none of "
        f"{', '.join(c.name for c in pickled)} defines it): the file was saved by code with "
        "layers of its own"
    )
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the file pickles class '{name}' of '{module}', which {loader} does not define: "
                f"{whose}"
            ),
            evidence={
                "class": name,
                "module": module,
                "defined_by": definers,
                "checkout": checkout.name if checkout is not None else None,
                "sources": [c.source for c in pickled],
            },
            confidence=0.6 if definers and checkout is not None else 0.45,
            fix_note=(
                "run the file with the codebase that trained it, or export its weights there "
                "and load them into this code's model if the architectures match"
            ),
        )
    )
    return True


def import_lacking(ctx: Context) -> None:
    """Report loading code importing a name the installed library's release lacks."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.import_lacking is None or ctx.findings:
        return
    name, module = facts.import_lacking
    library = module.split(".", 1)[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the installed {library} has no {name}: the code that loads the model (or the "
                f"model's own code) was written for another release of {library}, most often "
                "a newer one"
            ),
            evidence={"name": name, "module": module},
            confidence=0.55,
            fix_note=(
                f"install the {library} release the model's code asks for (its requirements "
                "or model card), most often an upgrade"
            ),
        )
    )


def stale_attribute(ctx: Context) -> None:
    """Report a module pickled by a library version before its class gained an attribute."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.stale_attribute is None or ctx.findings:
        return
    cls, attribute = facts.stale_attribute
    changes = knowledge.changes_for(f"{cls}.{attribute}")
    api = next((c for c in changes if c.kind == "api"), None)
    if api is not None:
        _report_api_change(ctx, cls, attribute, api)
        return
    found = [c for c in changes if c.kind == "attribute"]
    if not found and facts.called_hook:
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"'{cls}' has no attribute '{attribute}': the loading library called a "
                    "private hook that this class's code does not define, so the model's code "
                    "(a repository's remote code, another package) and the loading library "
                    "are of releases that do not go together"
                ),
                evidence={"class": cls, "attribute": attribute},
                confidence=0.4,
                fix_note=(
                    "install the library release the model's code was written for (its "
                    "requirements), or update the model's code to the installed release"
                ),
            )
        )
        return
    if not found:
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"'{cls}' has no attribute '{attribute}': the object was not built by "
                    "the installed library's constructor but unpickled from a file that "
                    "another version of it wrote"
                ),
                evidence={"class": cls, "attribute": attribute},
                confidence=0.5,
                fix_note=(
                    "install the library version that saved the model, load it there and "
                    "re-save its state_dict (a weights-only file carries no module objects)"
                ),
            )
        )
        return
    change = found[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"'{cls}' has no attribute '{attribute}': the model was pickled whole by "
                f"{change.library} older than {change.version} ({change.description})"
            ),
            evidence={"class": cls, "attribute": attribute, "known_change": change.source},
            confidence=0.75,
            fix_note=(
                f"use {change.library} < {change.version}, or load the old model and re-save "
                "its state_dict (a weights-only file carries no module objects)"
            ),
        )
    )


def _report_api_change(
    ctx: Context, cls: str, attribute: str, change: knowledge.VersionChange
) -> None:
    """Report a loader calling a method of a type its library no longer returns."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"'{cls}' has no attribute '{attribute}': {change.library} "
                f"{change.version} and later return another type than the loader expects "
                f"({change.description})"
            ),
            evidence={
                "class": cls,
                "attribute": attribute,
                "library": change.library,
                "known_change": change.source,
            },
            confidence=0.75,
            fix_note=(
                f"install {change.library} < {change.version}, or a loader release that "
                f"reads what {change.library} {change.version} returns; the file itself is fine"
            ),
        )
    )


UNKNOWN_KINDS = {
    "architecture": ("the architecture", ""),
    "tokenizer": (
        "the tokenizer class",
        ", or a package that class needs (sentencepiece) is missing",
    ),
    "pre_tokenizer": ("the pre-tokenizer", ""),
    "registry": ("the registered name", ", or a later release renamed it"),
}
"""What a loader says it does not know, as the finding names it, and what else explains it."""


def unknown_architecture(ctx: Context) -> None:
    """Report a loader that does not know the checkpoint's architecture: an older library."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unknown_architecture or ctx.findings:
        return
    name = facts.unknown_architecture
    # A tokenizer class also goes unimported when a package it needs is missing; a model
    # registry's name (timm, torch.hub) may have been renamed since as well as added later.
    what, besides = UNKNOWN_KINDS[facts.unknown_kind or "architecture"]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the loader does not know {what} '{name}': the installed library "
                f"(transformers, timm, llama.cpp, the GGUF or serving loader) predates it{besides}"
            ),
            evidence={"architecture": name, "versions": facts.versions},
            confidence=0.5 if besides else 0.7,
            fix_note=(
                f"upgrade the library to a release that supports '{name}' (or install it from "
                "source); a model whose code lives in its repository needs trust_remote_code"
            ),
        )
    )
