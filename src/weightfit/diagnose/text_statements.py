"""What a text says about files and code, not tensors.

Missing classes, a dependency lacking a function its loader calls, stale pickled attributes,
architectures a loader does not know, the channels a pipeline feeds, counted keys, shard
indexes and pieces, precision variants, layer counts, stated quantities, raw weight files'
byte counts. What it says of the file's own format (its version, a broken or foreign
file) is :mod:`weightfit.diagnose.text_files`' and :mod:`weightfit.diagnose.text_broken`'.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.diagnose.text_names import OUTPUT_HEADS
from weightfit.findings import Category, Finding
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


def unsupported_precision(ctx: Context) -> None:
    """Report a loader or device refusing the weights' (or the requested) precision."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unsupported_precision or ctx.findings:
        return
    dtype = facts.unsupported_precision
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="error",
            message=(
                f"{dtype} is not supported where it was asked for: the weights' precision (or "
                "the compute type requested) is one this loader or device cannot use"
            ),
            evidence={"precision": dtype},
            confidence=0.5,
            fix_note=(
                "load the variant of the weights in a precision the loader supports (fp16 or "
                "fp32), or request another compute type; casting keeps the values"
            ),
        )
    )


def non_tensor_entry(ctx: Context) -> None:
    """Report a state dict entry that holds an object, not a tensor: state beside the weights."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.non_tensor is None or ctx.findings:
        return
    entry, cls = facts.non_tensor
    ctx.add(
        Finding(
            category="extra_state",
            severity="error",
            message=(
                f"the checkpoint's entry '{entry}' holds a {cls} object, not a tensor: state "
                "the model kept beside its weights, which load_state_dict cannot copy"
            ),
            params=[entry],
            evidence={"entry": entry, "class": cls},
            confidence=0.5,
            fix_note=(
                f"drop '{entry}' from the state dict before loading (strict=False for it) and "
                "rebuild that object the way the model builds it (from the dataset or config)"
            ),
        )
    )


def object_kind(ctx: Context) -> None:
    """Report a loaded object of another kind than the code expects: weights or a whole model.

    A dict asked for a module's method (``'OrderedDict' object has no attribute 'to'``) is a
    state dict where a pickled model was meant; an object asked for a dict's method (``'Model'
    object has no attribute 'items'``) is a pickled model where a dict of weights was meant;
    a path handed to ``load_state_dict`` is no object of the file at all (``unknown``).
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    if facts.path_for_dict:
        ctx.add(_path_for_dict(facts.path_for_dict))
        return
    if not (facts.module_method or facts.object_for_dict):
        return
    if facts.module_method:
        ctx.add(
            Finding(
                category="prefix",
                severity="error",
                message=(
                    f"the loaded object is a dict asked for the module method "
                    f"'{facts.module_method}': the file holds a state dict (the weights alone, "
                    "saved with model.state_dict()) where the code expects a whole model "
                    "pickled with torch.save(model)"
                ),
                evidence={"module_method": facts.module_method},
                confidence=0.55,
                fix_note=(
                    "build the model from its code and config, then load the file's state "
                    "dict into it (model.load_state_dict); weightfit inspect CKPT lists "
                    "what the file holds"
                ),
            )
        )
        return
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the loaded object is a '{facts.object_for_dict}' asked for a dict's method: "
                "the file holds a whole pickled object (a model saved with torch.save(model), "
                "a framework's checkpoint) where the code expects a dict of weights"
            ),
            evidence={"object_class": facts.object_for_dict},
            confidence=0.5,
            fix_note=(
                "use the weights file the code expects (a state dict or parameter file), or "
                "take the weights from the object (model.state_dict()) and save those"
            ),
        )
    )


def _path_for_dict(kind: str) -> Finding:
    """``unknown``: ``load_state_dict`` handed the file's path instead of the dict it holds.

    PyTorch refuses a state dict that is no mapping (``Expected state_dict to be dict-like,
    got <class 'str'>``): the caller passed the path (a loader changed to take a dict, its
    caller not updated), so no byte of the file was read and nothing about it is at fault.
    """
    return Finding(
        category="unknown",
        severity="error",
        message=(
            f"load_state_dict was given a {kind}, not a dict of tensors: the calling code "
            "passes the checkpoint's path where the dict read from it belongs, so the file "
            "was never read and its contents are not the cause"
        ),
        evidence={"given": kind},
        confidence=0.45,
        fix_note=(
            "read the file first (torch.load(path, map_location='cpu') or "  # trusted: advice
            "safetensors.torch.load_file(path)) and pass the dict; if a library does this, "
            "its loader and the caller disagree: use a release where both match"
        ),
    )


def optimizer_groups(ctx: Context) -> None:
    """Report optimizer state saved for other parameters: another configuration of the model."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.optimizer_groups or ctx.findings:
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                "the optimizer's saved state has parameter groups of other sizes than the "
                "optimizer built now: it was saved while training a model with other "
                "parameters (another depth or configuration, or other layers trained)"
            ),
            evidence={"error": facts.optimizer_groups},
            confidence=0.45,
            fix_note=(
                "build the model with the configuration the checkpoint was trained with, or "
                "load only its weights and start a fresh optimizer"
            ),
        )
    )


def tie_refused(ctx: Context) -> None:
    """Report transformers declining to tie two tensors its config ties.

    Both present with other values: the weights were trained untied, the config says tied
    (``tied_weights``). Neither present, and no list of what else is absent: the file lacks
    the model's token table, cut short or another model's (``partitioned``, as transformers
    calls it corrupted).
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.tie_refused is None:
        return
    tied, to, state = facts.tie_refused
    present = state == "present"
    if not present and {*ctx.missing(), *ctx.unexpected()} - {tied, to}:
        return  # the lists say which part of the model the file lacks (a task's head)
    ctx.add(
        Finding(
            category="tied_weights" if present else "partitioned",
            severity="warning" if present else "error",
            message=(
                f"the config ties {tied} to {to}, but the checkpoint holds both with other "
                "values: the weights were trained untied, and the config's "
                "tie_word_embeddings does not say so"
                if present
                else f"the config ties {tied} to {to}, and the checkpoint holds neither: the "
                "file lacks the model's token table (a save cut short, or another model's file)"
            ),
            params=[tied, to],
            evidence={"tied": tied, "to": to, "in_checkpoint": present},
            confidence=0.6 if present else 0.45,
            fix_note=(
                "set tie_word_embeddings=False in config.json so both tensors load as saved"
                if present
                else "download the checkpoint again and check it holds the embeddings "
                "(weightfit inspect FILE)"
            ),
        )
    )
    pair = {tied, to}
    ctx.consume(
        missing=[n for n in ctx.missing() if n in pair],
        unexpected=[n for n in ctx.unexpected() if n in pair],
    )


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


def absent_part(ctx: Context) -> None:
    """Report a model file without the part an engine mode asks for: another variant of it."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.absent_part or ctx.findings:
        return
    part = facts.absent_part
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the model file holds no {part} part for the mode asked for: a file made for "
                "another engine mode (Tesseract's legacy-only or LSTM-only traineddata), or by "
                "a release from before that part existed"
                if part != "languages"
                else "none of the model files loaded: files made for another engine mode or "
                "release than the one asked for (or not where the engine looks)"
            ),
            evidence={"absent_part": part},
            confidence=0.45,
            fix_note=(
                "use the model files made for the mode asked for (or ask for the mode the files "
                "hold: Tesseract's --oem), from the release that matches the engine"
            ),
        )
    )


def optimizer_state(ctx: Context) -> None:
    """Report a converter walking an optimizer's variables onto the model's attributes."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.optimizer_slot or ctx.findings:
        return
    slot = facts.optimizer_slot
    ctx.add(
        Finding(
            category="extra_state",
            severity="error",
            message=(
                f"the lookup of '{slot}' on the model failed: '{slot}' is an optimizer's "
                "variable (its moment slots or step count) that the checkpoint keeps beside "
                "the weights, and the converter maps every variable onto a layer"
            ),
            evidence={"optimizer_variable": slot},
            confidence=0.6,
            fix_note=(
                "skip the optimizer's variables when converting (names holding adam_m, "
                "adam_v, Adam, global_step …), or convert a checkpoint saved without them"
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


def fed_channels(ctx: Context) -> None:
    """Report a UNet that takes other input channels than its pipeline feeds.

    An inpainting pipeline feeds latents, a mask and masked-image latents (9 channels); other
    conditioned variants stack latents too (IC-Light's 8 against 12, instruct-pix2pix's 8).
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.input_channels is None or ctx.findings:
        return
    takes, fed = facts.input_channels
    latents = _known.latent_labels(takes)
    ctx.add(
        Finding(
            category="latent_channels",
            severity="error",
            message=(
                f"the UNet takes {takes} input channels"
                + (f" ({latents[0]} latents)" if latents else "")
                + f", the pipeline feeds {fed} (latents stacked with their conditioning: a "
                "mask and masked-image latents, or a foreground and background): the "
                "checkpoint is the variant made for another conditioning than the pipeline's"
            ),
            evidence={"unet_in_channels": takes, "fed_channels": fed},
            confidence=0.75,
            fix_note=(
                f"use an inpainting checkpoint (a UNet with in_channels={fed}) with this "
                "pipeline, or the plain pipeline for this UNet"
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


MANY_UNLISTED = 20
"""Missing parameters counted beyond a task head's few: most of a model's names did not match."""


def unlisted(ctx: Context) -> None:
    """Report keys a message counts or announces without listing them."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unlisted or ctx.findings or ctx.missing() or ctx.unexpected():
        return
    missing, unexpected = facts.unlisted.get("missing", 0), facts.unlisted.get("unexpected", 0)
    if facts.unlisted == {"missing": 0, "unexpected": 0}:
        return  # both sides announced, neither named nor counted: no side says more
    only_extra = "missing" not in facts.unlisted
    side: Category = "unexpected" if only_extra or unexpected > missing else "missing"
    counted = (
        f"{missing} missing and {unexpected} unexpected keys"
        if unexpected
        else f"{missing} missing parameters"
        if missing > MANY_UNLISTED
        else ""
    )
    ctx.add(
        Finding(
            category=side,
            severity="error",
            message=(
                f"the message counts {counted} without naming them"
                + (
                    ": most of the model's names match nothing in the file (another naming or "
                    "prefix, or another model)"
                    if not unexpected
                    else ""
                )
                if counted
                else "the checkpoint has weights the model does not take (the message names "
                "no list): parts the model builds elsewhere or not at all (a frozen tower "
                "loaded on its own, an EMA copy, a head of another task)"
                if only_extra
                else "the model has weights the checkpoint does not (the text names none): "
                "a new part of the model (a task head that training fills), or names that "
                "differ (another release's or model's)"
            ),
            evidence={"missing": missing, "unexpected": unexpected},
            confidence=0.5,
            fix_note=(
                "expected when fine-tuning a new head or new modules on a pretrained base; "
                "otherwise list them: weightfit check CKPT --against TARGET"
            ),
        )
    )


def many_indexes(ctx: Context) -> None:
    """Report a folder holding two shard indexes (safetensors and .bin): two weight sets."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.indexes or ctx.findings:
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                "the folder holds more than one shard index ("
                + ", ".join(facts.indexes[:3])
                + "): two weight sets side by side, and the loader cannot choose"
            ),
            evidence={"indexes": facts.indexes},
            confidence=0.85,
            fix_note=(
                "keep one weight set (move the other format's shards and index away); "
                "weightfit lint MODEL_FOLDER shows which files each loader reads"
            ),
        )
    )


SHARD_FILE = re.compile(
    r"-\d{5}-of-\d{5}\.|\.index\.json|zero_to_fp32|mp_rank_\d+|zero_pp_rank|"
    r"global_step\d+|__\d+_\d+\.distcp|optim_states|consolidated\.\d+\.pth|"
    r"SHARDED_STATE_DICT|ShardedTensor|\bweight_map\b|\bzero_?3\b|stage\s*3\b|"
    r"\bshards?\b|\bincomplete\b|[/\\]\.metadata\b|referenced\s+in\s+(?:the\s+)?index|"
    r"invalid\s+split\s+file|\.data-\d{5}-of-\d{5}\b|checkpoint\s+files\s+\S+\.index\b|"
    r"latest_checkpointed_iteration\.txt|latest_universal\b|\blatest['\"`]?\s+file\b|"
    r"\bis\s+not\s+a\s+distributed\s+checkpoint\b|\bShardedObjects?\b",
    re.I,
)
"""Files of a sharded or distributed save (shards, indexes, DeepSpeed / DCP pieces, the
``.metadata`` file of a torch.distributed.checkpoint folder, a piece of a split GGUF that
llama.cpp refuses, a TensorFlow checkpoint's ``.data-00000-of-00001`` or ``.index`` piece
where readers take the prefix, the file naming a distributed save's newest step:
DeepSpeed's ``latest``, Megatron's ``latest_checkpointed_iteration.txt``)."""


NO_WEIGHTS_FILE = re.compile(
    r"no\s+file\s+named\s+[\w.\-]+\.(?:bin|safetensors|pt|pth|ckpt|h5|msgpack)\b|"
    r"Can't\s+find\s+a\s+valid\s+checkpoint\s+at\b|"
    r"does\s+not\s+have\s+(?:any\s+)?(?:safetensors|\.bin|pytorch_model)\s+(?:weight\s+)?files?|"
    # Quantized-model loaders finding no weights in the folder they were given (optimum-quanto,
    # compressed-tensors, HQQ).
    r"No\s+safetensors?\s+weights\s+found\s+in|Could\s+not\s+locate\s+safetensors\s+weight|"
    r"\bWeight\s+file\s+missing\b|"
    # AutoGPTQ's ``from_quantized`` finding no file of the one base name it reads, and
    # text-generation-webui's GPTQ loader finding no single quantized file.
    r"Please\s+specify\s+the\s+argument\s+model_basename|"
    r"Could\s+not\s+find\s+the\s+quantized\s+model\s+in\s+\.pt\s+or\s+\.safetensors",
    re.I,
)
"""A loader that found no single weights file in a folder: sharded pieces it does not read,
or a download that left the weights out (transformers' ``Trainer`` resuming from a folder
without its weights says "Can't find a valid checkpoint at"; a downloader that knows one
``model.safetensors`` says a sharded repository "does not have SafeTensors files")."""
VARIANT_FILE = re.compile(
    r"[\w\-]+\.(?:fp16|bf16|fp32|non_ema|ema)\.(?:safetensors|bin)|"
    r"\bvariant\s*[=:]\s*['\"]?(?:fp16|bf16|fp32)\b|\b(?:fp16|bf16)\s+variant\b|"
    r"revision\s*=\s*['\"]fp16['\"]",
    re.I,
)
"""A weight file labelled with a precision (or EMA) variant."""


LOOKED_FOR = re.compile(r"does\s+not\s+appear\s+to\s+have\s+a\s+file\s+named\s+([^\n]+)")
"""transformers listing the weight file names it looks for in a folder or repository."""


def files_named(ctx: Context) -> None:
    """Report a loading error about the files of a save: shards, variants, formats looked for.

    The pieces of a sharded save, a precision-variant file, a weights file that does not
    exist where the loader looks (a TensorFlow prefix given as a bare name: the working
    directory's matter), or a transformers release that looks for no safetensors file at all.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    looked_for = LOOKED_FOR.search(facts.text)
    names = looked_for.group(1).strip(" .") if looked_for else ""
    if "pytorch_model.bin" in names and "safetensors" not in names:
        _report_before_safetensors(ctx, names)
        return
    variant = VARIANT_FILE.search(facts.text)
    shards = SHARD_FILE.search(facts.text) or NO_WEIGHTS_FILE.search(facts.text)
    if variant is None and facts.absent_file and _non_ascii_path(facts.text, facts.absent_file):
        _report_non_ascii_path(ctx, facts.absent_file)
        return
    if variant is None and _bare_prefix(facts.text, facts.absent_file):
        ctx.add(_bare_prefix_finding(facts.absent_file))
        return
    if variant is None and facts.absent_file:
        category: Category = "partitioned"
        file = facts.absent_file
        message = (
            f"the weights the loader looks for at {file} are not there (no such file, or a "
            "folder without its files): never downloaded, a download that failed or was "
            "cleaned away, or saved elsewhere"
        )
        note = "download the weights file to the path the loader reads (or point it there)"
    elif variant is not None:
        category = "dtype_variant"
        file = variant.group(0)
        message = (
            f"the error is about the precision-variant file {variant.group(0)}: the folder "
            "holds another variant (or none), or a loader version reads variants differently"
        )
        note = "pass the variant the folder has (variant=...), or weightfit lint MODEL_FOLDER"
    elif shards is not None and not _tied_head_alone(ctx):
        category = "partitioned"
        file = shards.group(0)
        message = (
            f"the error is about the pieces of a sharded or distributed save "
            f"({shards.group(0)}): a shard missing, an index naming other files, or "
            "partitions never consolidated"
        )
        note = "check every shard the index names is present, or consolidate the save first"
    else:
        return
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=message,
            evidence={"file": file},
            confidence=0.5,
            fix_note=note,
        )
    )


TF_NO_MATCH = re.compile(
    r"Failed\s+to\s+find\s+any\s+matching\s+files\s+for\s+([\w\-.]+)(?=[\s'\"]|$)"
)
"""TensorFlow's checkpoint reader finding no file whose name starts with the prefix it was
given, the prefix a bare name (no directory part)."""


def _bare_prefix(text: str, file: str) -> bool:
    """Whether TensorFlow matched no file at all for a checkpoint prefix given as a bare name."""
    said = TF_NO_MATCH.search(text)
    return said is not None and said.group(1) == file


def _bare_prefix_finding(prefix: str) -> Finding:
    """``unknown``: a bare checkpoint prefix resolved against the working directory.

    TensorFlow reads a checkpoint by its prefix (``model.ckpt`` for ``model.ckpt.index`` and
    its ``.data-*`` pieces) and globs for it; a bare name is looked up in the directory the
    program runs from. No file there starts with it: the files sit in another directory
    (unpacked into the model folder, the program started elsewhere), and TensorFlow 1's early
    releases failed on bare names even beside the files. A path matter, not a partial save.
    """
    return Finding(
        category="unknown",
        severity="error",
        message=(
            f"TensorFlow found no file at all starting with the checkpoint prefix {prefix}, "
            "given as a bare name: it is looked up in the working directory, and the "
            "checkpoint's files are elsewhere (or the release fails on a bare name)"
        ),
        evidence={"prefix": prefix},
        confidence=0.45,
        fix_note=(
            f"give the prefix with its directory (./{prefix}, or the folder the .index and "
            ".data files are in, then the prefix), or run from the folder that holds them"
        ),
    )


def _tied_head_alone(ctx: Context) -> bool:
    """Whether the one tensor missing is an output head models tie to their embedding.

    An index lists every tensor its shards hold; a tied head is in none of them, so its
    absence is no shard's (``untied_head`` reads it).
    """
    missing = ctx.missing()
    return len(missing) == 1 and OUTPUT_HEADS.search(missing[0]) is not None


NATIVE_OPEN = re.compile(r"\bfopen\b|errno\s*=?\s*2\b|\bjit\.load\b|onnxruntime|InferenceSession")
"""A native (C or C++) reader opening a file: ``fopen``, TorchScript's loader, ONNX Runtime."""


def _non_ascii_path(text: str, file: str) -> bool:
    """Whether a native reader failed on a path with non-ASCII characters before ``file``."""
    if NATIVE_OPEN.search(text) is None:
        return False
    return any(
        not line[max(line.find(file) - 160, 0) : line.find(file)].isascii()
        for line in text.splitlines()
        if file in line
    )


def _report_non_ascii_path(ctx: Context, file: str) -> None:
    """Report a native reader that cannot open a path with non-ASCII characters."""
    ctx.add(
        Finding(
            category="unknown",
            severity="error",
            message=(
                f"a native reader found no file at the path of {file}, and the path holds "
                "non-ASCII characters (a user or folder name): C and C++ readers on Windows "
                "(fopen, torch.jit.load, ONNX Runtime) often cannot open such paths, so the "
                "file may well be there"
            ),
            evidence={"file": file},
            confidence=0.45,
            fix_note=(
                "check the file is there; if it is, move it (or the cache: TORCH_HOME, "
                "HF_HOME) to a path of ASCII characters only"
            ),
        )
    )


def foreign_folder(ctx: Context) -> None:
    """Report a folder of another kind than the loader reads, named for what it holds.

    A repository named for an adapter without ``config.json`` (an adapter loaded as a whole
    model); a Whisper model's own folder without CTranslate2's ``model.bin`` (the transformers
    checkpoint given to faster-whisper). The name says more than any word of the log around.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    adapter = ADAPTER_REPOSITORY.search(facts.text)
    unconverted = UNCONVERTED_FOLDER.search(facts.text)
    if adapter is not None:
        _report_adapter_as_model(ctx, adapter.group(1))
    elif unconverted is not None and CONVERTED_NAME.search(unconverted.group(1)) is None:
        _report_unconverted(ctx, unconverted.group(1))


ADAPTER_REPOSITORY = re.compile(
    r"([\w.\-/]*?(?:(?<![a-z])q?lora|adapter|peft)[\w.\-/]*)\s+does\s+not\s+appear\s+to\s+have\s+a\s+"
    r"file\s+named\s+config\.json",
    re.I,
)
"""A repository or folder named for an adapter (``firefly-bloom-7b1-qlora-sft``) in which
transformers finds no ``config.json``: it holds an adapter, not a whole model."""


UNCONVERTED_FOLDER = re.compile(
    r"Unable\s+to\s+open\s+file\s+'model\.bin'\s+in\s+model\s+'?([^'\n]*whisper[^'\n]*)'?", re.I
)
"""CTranslate2 (faster-whisper) finding no ``model.bin`` in a folder named for a Whisper model."""
CONVERTED_NAME = re.compile(r"faster|ct2|ctranslate", re.I)
"""Words of a CTranslate2 conversion's name (``faster-whisper-base``, ``whisper-ct2``)."""


def _report_unconverted(ctx: Context, folder: str) -> None:
    """Report a model's own checkpoint given to CTranslate2, which reads only its conversions."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"CTranslate2 found no model.bin in {folder}, a folder named for the original "
                "model: it holds the transformers checkpoint (safetensors), while CTranslate2 "
                "runtimes (faster-whisper) read only their own converted model.bin"
            ),
            evidence={"folder": folder},
            confidence=0.5,
            fix_note=(
                "use the model's CTranslate2 conversion (a faster-whisper repository), or "
                "convert it: ct2-transformers-converter --model FOLDER --output_dir OUT"
            ),
        )
    )


def _report_adapter_as_model(ctx: Context, repository: str) -> None:
    """Report an adapter's repository loaded as a whole model."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"{repository} has no config.json and is named for an adapter: it holds adapter "
                "(LoRA) weights for a base model, not a whole model to load on its own"
            ),
            evidence={"repository": repository},
            confidence=0.5,
            fix_note=(
                "load the base model it was trained on, then the adapter on top of it "
                "(PeftModel.from_pretrained(base, repository)), or merge them first"
            ),
        )
    )


def _report_before_safetensors(ctx: Context, names: str) -> None:
    """Report a transformers release that looks for no safetensors file at all."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"transformers looked only for {names}: a release from before it read "
                "safetensors, while the repository (like most since 2023) ships model.safetensors"
            ),
            evidence={"looked_for": names},
            confidence=0.6,
            fix_note="upgrade transformers (safetensors support came in 2022's 4.2x releases)",
        )
    )


def layer_counts(ctx: Context) -> None:
    """Report a weight file of another number of layers, or a layer of other variables (Keras)."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    if facts.architecture_said and facts.layer_counts is None and not ctx.mismatches():
        _report_architecture_said(ctx, facts.architecture_said)
        return
    if facts.layer_weights is not None and facts.layer_counts is None:
        _report_layer_weights(ctx, *facts.layer_weights)
        return
    if facts.layer_counts is None:
        return
    have, want = facts.layer_counts
    if have == 0 < want:
        _report_no_layers(ctx, want)
        return
    if have == 1 < want:
        _report_one_wrapping_layer(ctx, want)
        return
    if abs(have - want) == 1 and min(have, want) >= MANY_LAYERS:
        _report_one_layer_apart(ctx, have, want)
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the weight file holds {have} layers (or parameter arrays), the model has "
                f"{want}: another depth or architecture than the one the weights were saved from"
            ),
            evidence={"checkpoint_layers": have, "model_layers": want},
            confidence=0.55,
            fix_note="build the model the weights were saved from (same depth and options)",
        )
    )


MANY_LAYERS = 20
"""Layers from which one more or fewer is an implementation's extra layer, not a size: in a
network of a few layers, one layer is a large part of its design (faceswap's LowMem model
has 6 to the Original's 7)."""


def _report_one_layer_apart(ctx: Context, have: int, want: int) -> None:
    """Report weight-file and model layer counts one apart: one implementation's extra layer.

    Sizes of one architecture differ by whole blocks, several layers each; a single layer
    is one that another implementation or release builds and this one does not (Keras
    applications' ``Normalization`` in front of EfficientNet, an ``InputLayer`` counted by
    another Keras).
    """
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the weight file holds {have} layers, the model has {want}: one layer apart. "
                "Sizes of an architecture differ by whole blocks; a single layer is one that "
                "another implementation or release of the model builds (a preprocessing or "
                "normalization layer, an input layer counted otherwise)"
            ),
            evidence={"checkpoint_layers": have, "model_layers": want},
            confidence=0.4,
            fix_note=(
                "build the model with the code (package and release) that saved the weights, "
                "or load by layer name (by_name=True) and check what stays unloaded"
            ),
        )
    )


def _report_no_layers(ctx: Context, want: int) -> None:
    """Report a weight file in which the reader found no layer at all: another layout."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the reader found no layers in the weight file for a model of {want}: the "
                "file keeps its layers where this release does not look (written by another "
                "Keras release or as a whole model), not a network of another depth"
            ),
            evidence={"checkpoint_layers": 0, "model_layers": want},
            confidence=0.45,
            fix_note="load with the library versions that wrote the file (the project's "
            "pinned requirements), or load the whole model and save its weights again",
        )
    )


def _report_one_wrapping_layer(ctx: Context, want: int) -> None:
    """Report a Keras weight file whose one layer with weights is the model itself, nested.

    Keras counts the layers that hold weights; a file of one such layer for a model of
    several was saved from a wrapper holding the model as a layer (``multi_gpu_model``, a
    ``Sequential`` or functional model around it).
    """
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"the weight file holds one layer with weights for a model of {want}: the "
                "weights were saved from a wrapper that holds the model as one layer "
                "(multi_gpu_model, a model built around it), so they sit one level down"
            ),
            evidence={"checkpoint_layers": 1, "model_layers": want},
            confidence=0.45,
            fix_note=(
                "save the inner model's weights (wrapper.get_layer(NAME).save_weights), or "
                "build the same wrapper before loading"
            ),
        )
    )


def _report_layer_weights(ctx: Context, builds: int, saved: int) -> None:
    """Report a layer that builds another number of variables than the file saved for it."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"a layer builds {builds} weight variables where the file saved {saved} for it: "
                "the layer's code (or its options, such as a bias) differs from the code that "
                "saved the file"
            ),
            evidence={"model_variables": builds, "checkpoint_variables": saved},
            confidence=0.5,
            fix_note="load with the library and code versions that saved the weights",
        )
    )


def _report_architecture_said(ctx: Context, said: str) -> None:
    """Report a loader's own words that the file has another depth or architecture."""
    names = [*ctx.missing(), *ctx.unexpected()]
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the loader says the file does not fit the network built ({said})"
                + (f": {', '.join(names[:3])} … not filled" if names else "")
                + ": the network was built with other options than the weights were saved from"
            ),
            params=names,
            evidence={"said": said, "layers_not_filled": names[:8]},
            confidence=0.55,
            fix_note="build the network with the options the weights were trained with",
        )
    )
    ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())


def short_stream(ctx: Context) -> None:
    """Report a raw weights file that ended before the network it fills was complete.

    Readers of raw streams (Darknet's ``.weights`` read against a ``.cfg``) take each
    layer's values in turn: running out means the network described is larger than the
    one the file holds (another cfg, class count or variant), or the file is cut short.
    """
    facts = whole_text_facts(ctx)
    if facts is None or not facts.short_stream or ctx.findings:
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the weights file ran out before the network was filled ({facts.short_stream}): "
                "the network built (its cfg, class count or variant) is larger than the one "
                "the file holds, or the file is cut short"
            ),
            evidence={"said": facts.short_stream},
            confidence=0.4,
            fix_note=(
                "use the cfg (and class count) the weights were trained with; if it matches, "
                "download the weights again and compare the file size with the source's"
            ),
        )
    )


STATED_CAUSES: dict[str, tuple[Category, str, str]] = {
    "vocab": (
        "vocab_resize",
        "the vocabularies differ ({a} against {b} tokens)",
        "use the tokenizer the weights were trained with, or resize the embeddings to it",
    ),
    "parallel": (
        "partitioned",
        "the parallel layout differs ({a} against {b}): the checkpoint is split for another "
        "number of model-parallel ranks than the run has",
        "launch with as many ranks as the checkpoint has shards, or reshard (merge) it first",
    ),
    "width": (
        "wrong_variant",
        "the widths differ ({a} against {b}): weights of another size of the model",
        "build the model the weights were saved from (its config's hidden size)",
    ),
    "classes": (
        "num_classes",
        "the class counts differ ({a} against {b})",
        "build the head for the checkpoint's classes, or re-initialise it for yours",
    ),
    "layers": (
        "wrong_variant",
        "the layer counts differ ({a} against {b}): another depth of the model",
        "build the model with the checkpoint's number of layers",
    ),
    "channels": (
        "version",
        "the inputs and the checkpoint have other numbers of channels ({a} against {b}): the "
        "code that prepares the inputs is another release (or configured otherwise) than the "
        "one the checkpoint was trained with",
        "prepare the inputs as the checkpoint's release did (its channel list), or use a "
        "checkpoint trained on the installed release's inputs",
    ),
    "tensors": (
        "version",
        "the loader and the file disagree on the number of tensors ({a} against {b}): a file "
        "converted for another version of the architecture than the loader knows",
        "use the loader version the file was converted for, or convert it again with the "
        "converter of the loader's version",
    ),
}
"""What two stated values of each model quantity mean, and what to do."""


FEW_TENSORS = 0.1
"""A file holding less than this share of the tensors its loader expects was cut short."""


def _report_cut_file(ctx: Context, held: int, expected: int) -> None:
    """Report a file holding a small share of the tensors its loader expects: a cut file."""
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the loader read {held} of the {expected} tensors it expects: far too few for "
                "another version or size of the model, the file stops early (an interrupted "
                "download or copy)"
            ),
            evidence={"quantity": "tensors", "values": [held, expected]},
            confidence=0.5,
            fix_note="download the model file again and compare its size with the source's",
        )
    )


def stated_quantity(ctx: Context) -> None:
    """Report a sentence stating two values of one model quantity, when no tensor is named."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.stated is None or ctx.findings:
        return
    if ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    kind, a, b = facts.stated
    if kind == "tensors" and 0 < min(a, b) < max(a, b) * FEW_TENSORS:
        _report_cut_file(ctx, min(a, b), max(a, b))
        return
    category, what, fix_note = STATED_CAUSES[kind]
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=what.format(a=a, b=b),
            evidence={"quantity": kind, "values": [a, b]},
            confidence=0.5,
            fix_note=fix_note,
        )
    )


OWN_CLASS_COUNT = re.compile(
    r"\b(\d{1,5})\s+(?:object\s+|target\s+)?(?:classes|categories)\b"
    r"|(?<![\d.])(\d{1,5})\s*(?:个)?(?:类别|类|類別|類)"
)
"""A class count a user gives their own dataset (``20 classes``, ``共分了20类``)."""
SHAPE_MISMATCH_SAID = re.compile(
    r"(?:size|shape)s?\s+(?:mismatch|do(?:es)?\s*n[o']t\s+match)|mismatch(?:ed)?\s+(?:shape|size)"
    r"|形状不匹配|尺寸不匹配|维度不匹配|形狀不匹配",
    re.I,
)
"""A loading message saying shapes differ, in English or Chinese."""


def stated_classes(ctx: Context) -> None:
    """Report a shape mismatch that names no tensor, in a text giving the user's class count.

    Fine-tuning pretrained weights on one's own dataset builds the head for that dataset's
    classes; the pretrained head, sized for the dataset it was trained on, is the tensor that
    no longer fits. A text that states its dataset's class count beside a shape-mismatch
    message (pasted without the tensors, or quoted in prose) says as much. Only one count
    is read: two different counts are a comparison, not the dataset's.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    if facts.unshaped or SHAPE_MISMATCH_SAID.search(facts.text) is None:
        return
    counts = {int(m.group(1) or m.group(2)) for m in OWN_CLASS_COUNT.finditer(facts.text)}
    if len(counts) != 1 or not 1 < (count := next(iter(counts))) <= MAX_OWN_CLASSES:
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="warning",
            message=(
                f"a shape mismatch without the tensors, in a text about a dataset of {count} "
                "classes: a model built for the dataset's classes cannot take the pretrained "
                "head, sized for the classes it was trained on"
            ),
            evidence={"classes": count},
            confidence=0.4,
            fix_note=(
                "the mismatched tensors settle it: if they are the head's alone, the message "
                "is expected (the head is trained anew); otherwise the model differs elsewhere"
            ),
        )
    )


MAX_OWN_CLASSES = 100_000
"""A class count past which a number is no dataset's label set."""


PRECISION_RATIOS = (2, 4)
"""Byte-count ratios of one tensor stored in two precisions (fp16 / fp32, int8 / fp32)."""


NEAR_SIZE = 1.1
"""A file at most this much larger than the loader reads is the same model, laid out otherwise."""


def byte_counts(ctx: Context) -> None:
    """Report a raw weight file of another byte count than the loader reads.

    Exactly half (or a quarter, or twice) the bytes is the same tensor in another precision:
    fp16 files read as fp32, or the reverse. Any other shortfall is a file cut short.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.byte_counts is None or ctx.findings:
        return
    has, wants = facts.byte_counts
    small, large = sorted((has, wants))
    precision = small > 0 and large % small == 0 and large // small in PRECISION_RATIOS
    # A file a little larger than the loader reads is whole: the same model's weights in
    # another release's layout (a tensor added, a table grown), not a cut download.
    release = not precision and has > wants and has <= wants * NEAR_SIZE
    category: Category = "dtype_variant" if precision else "version" if release else "partitioned"
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=(
                f"a weight file's size is {has} where the loader reads {wants}: "
                + (
                    f"exactly {large // small} times {'fewer' if has < wants else 'more'}, the "
                    "same values stored in another precision (fp16 against fp32)"
                    if precision
                    else "a little more than it reads, so not cut short: the weights file of "
                    "another release, laid out otherwise than this loader expects"
                    if release
                    else "the file is cut short or from another model"
                )
            ),
            evidence={"file_bytes": has, "read_bytes": wants},
            confidence=0.55 if precision else 0.45,
            fix_note=(
                "convert (or export) the weights in the precision the loader is configured for"
                if precision
                else "use the weights released for this loader's version (or update the loader)"
                if release
                else "download or export the weights again and compare the file sizes"
            ),
        )
    )
