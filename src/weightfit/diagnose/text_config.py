"""What a text says of the settings saved beside the weights, or of an adapter's config.

Saved options that lack one the code reads (an older release wrote them), a config passing
an argument the code's class does not take (a newer release wrote it), a metadata entry the
loader reads and the file lacks, an adapter whose target modules the base model does not
have, an agent saved with another release's definition of its environment's spaces.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import UNNAMED, UNNAMED_KERAS, UNNAMED_TF, whole_text_facts
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
