"""What a text says of the settings saved beside the weights, or of an adapter's config.

Saved options that lack one the code reads (an older release wrote them), a config passing
an argument the code's class does not take (a newer release wrote it), a metadata entry the
loader reads and the file lacks (or a library's own code reads from its saves, or code reads
by the name a library's older saves gave it, or mmcv's loader finds no ``state_dict`` entry),
a Keras model saved naming a class of Keras's own that the installed release does not have yet,
an adapter whose target modules the base model does not have, an agent saved with another release's
definition of its environment's spaces, a TensorDict's state dict without the metadata entries
its own saves hold.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import (
    UNNAMED,
    UNNAMED_KERAS,
    UNNAMED_TF,
    text_facts,
    whole_text_facts,
)
from weightfit.findings import Finding


def stale_option(ctx: Context) -> None:
    """Report saved options that lack one the code reads: the checkpoint predates the code.

    The key lists the same text shows (a module renamed since) are that release's too.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.stale_option is None or ctx.findings or ctx.mismatches():
        return
    cls, option = facts.stale_option
    names = [*ctx.missing(), *ctx.unexpected()]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the options saved with the checkpoint ('{cls}') have no '{option}', which this "
                "code reads: the checkpoint was written by an older release of the code"
                + (f", whose names ({names[0]}) it still holds" if names else "")
            ),
            params=names,
            evidence={"options_class": cls, "option": option, "names": names[:8]},
            confidence=0.5,
            fix_note=(
                "load it with the release that trained it (the commit or version of that "
                "date), or convert it with the project's upgrade script if it has one"
            ),
        )
    )
    ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())


def newer_argument(ctx: Context) -> None:
    """Report a saved config passing an argument the code's class does not take."""
    facts = whole_text_facts(ctx)
    if facts is not None and facts.newer_argument and not ctx.findings:
        ctx.add(_argument_change(facts.newer_argument, *ARGUMENT_CHANGES["newer"]))


def older_argument(ctx: Context) -> None:
    """Report a class rebuilt from a saved model that lacks an argument the class requires."""
    facts = whole_text_facts(ctx)
    if facts is not None and facts.older_argument and not ctx.findings:
        ctx.add(_argument_change(facts.older_argument, *ARGUMENT_CHANGES["older"]))


KERAS_CLASSES = {
    "Functional": (
        "TensorFlow 2.3",
        "tensorflow/tensorflow v2.3.0, keras/engine/functional.py: functional models serialize "
        "as class 'Functional' (before: 'Model')",
    ),
    "TFOpLambda": (
        "TensorFlow 2.4",
        "tensorflow/tensorflow v2.4.0, keras/layers/core.py: TF ops called on Keras tensors "
        "become TFOpLambda layers",
    ),
    "SlicingOpLambda": (
        "TensorFlow 2.4",
        "tensorflow/tensorflow v2.4.0, keras/layers/core.py: slicing a Keras tensor becomes a "
        "SlicingOpLambda layer",
    ),
}
"""Classes Keras itself writes into a saved model's config, by the release that began
writing them: a Keras before it does not know the name (``Unknown layer: Functional``)."""
UNKNOWN_KERAS_CLASS = re.compile(r"Unknown\s+layer:?\s*['\"`]?(\w+)")
"""Keras's deserializer failing to find a saved class (``generic_utils``'s ``'Unknown ' +
printable_module_name + ': ' + class_name``)."""
TFJS = re.compile(r"TensorFlow\.js|tfjs", re.I)
"""TensorFlow.js, whose layers library implements only some of Keras's classes in any release."""


def newer_keras_class(ctx: Context) -> None:
    """Report a Keras model naming a class of Keras's own that the installed Keras lacks.

    The saved config names each layer's class; a name Keras began writing in a later
    release (a functional model's ``Functional`` since TensorFlow 2.3) is not in an older
    Keras's registry. A class of the user's own is a missing ``custom_objects`` entry instead,
    and TensorFlow.js lacks some of Keras's classes in every release: both stay out.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or TFJS.search(facts.text):
        return
    unknown = UNKNOWN_KERAS_CLASS.search(facts.text)
    if unknown is None or unknown.group(1) not in KERAS_CLASSES:
        return
    name = unknown.group(1)
    release, source = KERAS_CLASSES[name]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"Keras does not know the layer class '{name}' the saved model names: Keras "
                f"itself writes that class since {release}, so the model was saved by a newer "
                "Keras than the one loading it"
            ),
            evidence={"class": name, "since": release, "source": source},
            confidence=0.45,
            fix_note=(
                f"load it with {release} or later (the release the model was saved with), "
                "or re-save it from that release in the older format"
            ),
        )
    )


def agent_spaces(ctx: Context) -> None:
    """Report an agent whose saved space holds the environment's shapes with other bounds.

    The same arrays with other limits (``inf`` against ``10``) or dtypes are one environment
    whose release redefined its space; other shapes would be another environment, left
    unread.
    """
    facts = whole_text_facts(ctx)
    spaces = facts.spaces if facts is not None else None
    if spaces is None or not spaces.same_shapes or ctx.findings:
        return
    # The spaces' own shapes, read by the generic extractor as tensors nobody names.
    read = [p for p in ctx.mismatches() if p.target in (UNNAMED, UNNAMED_TF, UNNAMED_KERAS)]
    shapes = ", ".join(str(list(s)) for s in spaces.saved[:4])
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the agent's saved {spaces.kind} space and the environment's hold arrays of "
                f"the same shapes ({shapes}) with other bounds or dtypes: the environment's "
                "release redefined the space since the agent was saved"
            ),
            evidence={"space": spaces.kind, "shapes": [list(s) for s in spaces.saved]},
            confidence=0.5,
            fix_note=(
                "install the environment release the agent was trained with (its "
                "requirements), or load with custom_objects overriding the space and check "
                "the agent still behaves"
            ),
        )
    )
    ctx.consume(pairs=read)


ARGUMENT_CHANGES = {
    "newer": (
        "the saved config passes '{argument}', which this code's class does not take: the "
        "config (and its weights) were written by a newer release of the library or code "
        "than the one installed (or for another model class)",
        "upgrade the library (or the project's code) to the release that wrote the config, "
        "or use a checkpoint saved for the installed one",
    ),
    "older": (
        "the class now requires '{argument}', which the saved model (or its config) does not "
        "pass: it was saved by an older release of the library or code than the one installed",
        "install the release that saved the model, or re-create the model with the installed "
        "one and load only its weights",
    ),
}
"""What a class's signature against a saved model's arguments says, and the fix."""


def _argument_change(argument: str, message: str, fix_note: str) -> Finding:
    return Finding(
        category="version",
        severity="error",
        message=message.format(argument=argument),
        evidence={"argument": argument},
        confidence=0.5,
        fix_note=fix_note,
    )


def absent_targets(ctx: Context) -> None:
    """Report an adapter whose target modules the base model does not have."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.absent_targets or ctx.findings:
        return
    targets = facts.absent_targets
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"the adapter targets modules {targets} the base model does not have: an "
                "adapter (or adapter config) made for another architecture, whose layers are "
                "named otherwise"
            ),
            evidence={"targets": targets},
            confidence=0.6,
            fix_note=(
                "load the adapter onto the base model it was trained on, or set "
                "target_modules to this model's layer names (print(model) lists them)"
            ),
        )
    )


def absent_components(ctx: Context) -> None:
    """Report a checkpoint or folder without some of the components its pipeline class takes.

    A file of one component (a Flux transformer or a UNet alone) given to a loader of
    all-in-one single files, or a repository of another pipeline (SDXL's refiner has no
    first text encoder) built with a class that takes more.
    """
    facts = whole_text_facts(ctx)
    if facts is None or not facts.absent_components or ctx.findings:
        return
    components = ", ".join(facts.absent_components)
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the checkpoint holds no {components}: a file or folder of another packaging "
                "than the pipeline class loads (one component saved alone, or another "
                "pipeline's repository)"
            ),
            evidence={"absent_components": facts.absent_components},
            confidence=0.5,
            fix_note=(
                "load the absent components from their own files and pass them to the "
                "pipeline, or use the all-in-one checkpoint (or the pipeline class of the "
                "repository, weightfit lint MODEL_FOLDER lists its components)"
            ),
        )
    )


def missing_metadata(ctx: Context) -> None:
    """Report a checkpoint without the metadata entry its loader reads beside the weights."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.metadata_key or ctx.findings:
        return
    key = facts.metadata_key
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the checkpoint has no '{key}' entry, which this loader reads beside the "
                "weights: the file was written by another release of the tool (or converted "
                "or stripped to its weights), or by another tool"
            ),
            evidence={"entry": key},
            confidence=0.45,
            fix_note=(
                f"use the checkpoint published for this release, or load its weights directly "
                f"(load_state_dict) and supply the '{key}' settings from the config"
            ),
        )
    )


def absent_state_entry(ctx: Context) -> None:
    """Report a loader finding no ``state_dict`` entry where its own saves keep the weights.

    mmcv's ``load_checkpoint`` and the codebases built on its pattern (Det3D's torchie, older
    MMDetection) take a bare ``OrderedDict`` or a dict with ``state_dict`` and raise ``No
    state_dict found in checkpoint file`` for anything else: a file whose top level keeps the
    weights another way, as another release of the codebase (or another codebase) saved it.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    said = NO_STATE_ENTRY.search(facts.text)
    if said is None:
        return
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the loader says '{' '.join(said.group(0).split())}': it takes a bare state "
                "dict or one under a 'state_dict' entry, and the file is a dict holding "
                "neither, its weights kept another way, as another release of the codebase "
                "(or another codebase) saved them"
            ),
            evidence={"said": " ".join(said.group(0).split())},
            confidence=0.45,
            fix_note=(
                "print the file's top-level keys "
                "(torch.load(path).keys()); use the checkpoint "  # trusted: advice, no call
                "released for this version of the code, or save its weights again under "
                "'state_dict'"
            ),
        )
    )


NO_STATE_ENTRY = re.compile(r"No\s+state_?dict\s+found\s+in\s+(?:the\s+)?checkpoint(?:\s+file)?")
"""mmcv's ``load_checkpoint`` (and its copies) finding neither a bare state dict nor a
``state_dict`` entry in the file."""


MIGRATION_FRAME = re.compile(
    r"(?:^|[/\\])migrations?(?:[/\\.]|$)|^_?migrate_\w+$|^upgrade_checkpoint$"
)
"""A library's migration of checkpoints from its older releases: a module of that name
(Lightning's ``utilities/migration``), or a step of it (``_migrate_loop_…``). Read only in an
installed package's frames: a script's own ``migrate_weights`` is no library's."""
SCHEMA_MIGRATIONS = re.compile(r"(?:^|[/\\])migrations[/\\]")
"""A package's database schema migrations (Django's ``db/migrations``): no checkpoint's."""


def release_bookkeeping(ctx: Context) -> None:
    """Report a library's own loading code missing a bookkeeping entry of its saves.

    The ``KeyError`` was raised in a frame of an installed library (its package under
    ``site-packages`` or ``dist-packages``): in its migration of older releases' checkpoints,
    which runs only on a file the library judged older than itself, or on an entry
    ``knowledge/version_changes.yaml`` records its releases began reading (``entry`` rows:
    accelerate 0.32's ``step``). A relative frame path (``accelerate/accelerator.py``) is a
    script's as often as a library's shortened one: it counts only with such a row. Either
    way the file is a save of another release (``version``); a loader's own code reading its
    project's entry is ``nested``'s, which runs next.
    """
    facts = text_facts(ctx)
    if facts is None or not facts.key_errors or facts.key_error_frame is None:
        return
    if facts.printed_state:
        return  # the entry read holds another helper's state: ``nested`` reads the swap
    key = facts.key_errors[-1]
    if not re.fullmatch(r"\w+", key):
        return
    path, function = facts.key_error_frame
    package = _installed_package(path)
    migration = bool(package) and _migration(path, function)
    package = package or _leading_package(path)
    if not package:
        return
    change = next((c for c in knowledge.changes_for(f"{package}.{key}") if c.kind == "entry"), None)
    if change is None and not migration:
        return
    why = (
        f"{change.library} {change.version} and later read it ({change.description})"
        if change is not None
        else f"the KeyError comes from {package}'s migration of checkpoints from its older "
        f"releases ({function}), which runs only on a file it judged older than itself"
    )
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{package}'s own loading code reads the entry '{key}' of its saves, and this "
                f"file has none: {why}; the file was saved by another release of {package}"
            ),
            evidence={
                "entry": key,
                "library": package,
                "raised_in": function,
                **({"known_change": change.source} if change is not None else {}),
            },
            confidence=0.5 if change is not None else 0.45,
            fix_note=(
                f"load it with the {package} release that saved it (or, for an older save, one "
                f"that still reads it), or upgrade {package} to a release that reads such files"
            ),
        )
    )


TENSORDICT_METADATA = re.compile(
    r"(?:pop\s+key\s+`\('(?P<popped>__batch_size|__device)',?\)`|"
    r"key\s+\"(?P<absent>__batch_size|__device)\"\s+not\s+found\s+in\s+TensorDict)"
)
"""tensordict's ``load_state_dict`` popping the metadata entries its own ``state_dict``
writes beside the tensors (``__batch_size``, ``__device``), and finding none."""


def tensordict_metadata(ctx: Context) -> None:
    """Report a state dict without the metadata entries a TensorDict's own saves hold.

    A ``TensorDict`` (or ``TensorDictParams``, a module's parameters kept as one) saves its
    batch size and device as ``__batch_size`` and ``__device`` entries beside the tensors,
    and its ``load_state_dict`` pops them first. A state dict without them was written by
    code that kept those parameters as plain modules, or by a tensordict release that did
    not record them: a save of another release of the code, not a damaged file.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    said = TENSORDICT_METADATA.search(facts.text)
    if said is None:
        return
    key = said.group("popped") or said.group("absent")
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"a TensorDict's load_state_dict looks for '{key}', the metadata entry its own "
                "state_dict writes beside the tensors, and the saved dict has none: it was "
                "written by code that kept these parameters as plain modules (or by a "
                "tensordict release that did not record it), another release of the code"
            ),
            evidence={"entry": key, "library": "tensordict"},
            confidence=0.45,
            fix_note=(
                "load the checkpoint with the code release that saved it, or use the "
                "checkpoint published for the installed release (a plain dict can be wrapped "
                "with TensorDict(state_dict, batch_size=[]) before loading)"
            ),
        )
    )


def renamed_entry(ctx: Context) -> None:
    """Report code reading a checkpoint entry by the name a library's older saves gave it.

    A library that renamed a bookkeeping entry of its saves (Lightning 0.8's
    ``hyper_parameters``, ``hparams`` before: ``entry-renamed`` rows of
    ``knowledge/version_changes.yaml``) reads the old name itself only in its own loader;
    code that indexes a newer save by the old name fails with ``KeyError``. The text must
    name the new entry or the library, so a project's own ``hparams`` is left alone.
    """
    facts = text_facts(ctx)
    if facts is None or not facts.key_errors or ctx.findings:
        return
    key = facts.key_errors[-1]
    for change in knowledge.changes_for(key):
        new = change.replacement.get(key, "")
        if change.kind != "entry-renamed" or not new:
            continue
        if new not in facts.text and change.library not in facts.text:
            continue
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"the code reads the checkpoint entry '{key}', which {change.library} "
                    f"saves as '{new}' since {change.version} ({change.description}): the file "
                    f"is a newer {change.library} save than the code was written for"
                ),
                evidence={"entry": key, "renamed_to": new, "known_change": change.source},
                confidence=0.45,
                fix_note=(
                    f"read checkpoint['{new}'] (and pass what the code's class takes), or load "
                    f"it with {change.library}'s own load_from_checkpoint, which reads both names"
                ),
            )
        )
        return


def _migration(path: str, function: str) -> bool:
    """Whether an installed package's frame is its migration of older releases' checkpoints."""
    if SCHEMA_MIGRATIONS.search(path):
        return False
    return bool(MIGRATION_FRAME.search(path) or MIGRATION_FRAME.search(function))


def _installed_package(path: str) -> str:
    """The installed package a traceback frame's module belongs to, or ``""``."""
    parts = [p for p in re.split(r"[/\\]+", path) if p]
    for at, part in enumerate(parts):
        if part in ("site-packages", "dist-packages"):
            inside = [p for p in parts[at + 1 :] if not p.endswith((".egg", ".egg-info"))]
            return inside[0] if len(inside) > 1 else ""
    return ""


def _leading_package(path: str) -> str:
    """A relative frame path's first folder (``accelerate/…``, ``tools/…``), or ``""``."""
    parts = [p for p in re.split(r"[/\\]+", path) if p]
    relative = not path.startswith(("/", "\\", ".", "~")) and ":" not in path
    return parts[0] if relative and len(parts) > 1 and parts[0].isidentifier() else ""
