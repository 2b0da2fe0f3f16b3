"""A state dict nested in a checkpoint's container entry, or expected there: a container key."""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import METADATA_ENTRIES, indexed, text_facts
from weightfit.diagnose._known import fairseq_state
from weightfit.diagnose.text_prefix import first_tensors
from weightfit.findings import Finding

CONTAINER_KEY = re.compile(
    r"_*(?:(?:model_?)?state_?dict|model|params?(?:_ema)?|parms|net(?:work)?|module|ema|"
    r"checkpoint|weights|g_ema|generator|student|teacher|ema_model|model_ema)"
)
"""Top-level keys under which checkpoints nest their state dict (also spelled `_model`)."""


TRAINING_KEY = re.compile(
    r"epoch|acc|best_\w+|(?:\w+_)?opt(?:imi[sz]er|im)?(?:_\w+)?|lr_scheduler|scheduler|arch|"
    r"iterations?|"
    r"iters?|"
    r"global_step|step|loss|args|config|hyper_parameters|amp|scaler"
)
"""Top-level keys a training checkpoint keeps beside the weights (its metadata; a GAN's
``opt_g`` / ``optimizer_D`` / ``discr_optim``)."""
MAX_PLAIN_WORDS = 6
"""Plain unexpected words read as a file's top level without a container word among them;
with one and training metadata beside it, any number (a trainer saving every optimizer)."""
MANY_METADATA = 2
"""Training-metadata words among the unexpected names that say the file's top level is a
training checkpoint's, whatever the missing list shows."""


def nested(ctx: Context) -> None:
    """Report a state dict nested one level down, or expected so: a container key.

    ``KeyError: 'params'`` on a loaded file indexed by ``['params']`` means the file has no such
    key; an unexpected list of a few plain words (``"parms"``, ``"state_dict"``, or a
    training checkpoint's ``"epoch"``, ``"acc"``) means the file's top level holds
    containers and metadata, not tensors. A ``KeyError`` on a metadata key (``'arch'``,
    ``'epoch'``) is the other way round: the file lacks an entry the loader reads.
    """
    facts = text_facts(ctx)
    if facts is None:
        return
    unexpected = ctx.unexpected()
    words = [n for n in unexpected if CONTAINER_KEY.fullmatch(n)]
    # Metadata alone says "nested" only when nothing of the model loaded: no missing list,
    # or one that starts at the model's first tensors (a lone head.bias beside "step" is an
    # extra entry and a missing tensor, not a nesting).
    missing = ctx.missing()
    metadata = [n for n in unexpected if TRAINING_KEY.fullmatch(n) or n in METADATA_ENTRIES]
    if missing and not first_tensors(missing) and len(metadata) < MANY_METADATA:
        metadata = []
    if facts.printed_state and facts.key_errors:
        _other_objects_state(ctx, facts.printed_state, facts.key_errors[0])
        return
    entry = next(
        (k for k in (facts.container_key, *facts.key_errors) if TRAINING_KEY.fullmatch(k)), ""
    )
    if facts.key_errors and _read_as_release(ctx, facts.key_errors[-1]):
        return
    if entry and indexed(facts.text, entry):
        # fairseq's own training state missing is no entry a save left out: not its file.
        if not fairseq_state(facts.text, entry):
            _missing_entry(ctx, entry)
        return
    if facts.metadata_key in facts.key_errors and not facts.container_key:
        return  # the printed keys lack the metadata entry the code read: missing_metadata's
    if facts.container_key in TRAINED_CHECKPOINT_KEYS and not unexpected:
        _not_a_trained_checkpoint(ctx, facts.container_key)
        return
    if facts.container_key:
        key, where = facts.container_key, "the loader indexes the checkpoint by"
        names: list[str] = []
    elif facts.held_container:
        key, where = facts.held_container, "the checkpoint's top level holds"
        names = []
    elif (
        (words or metadata or (unexpected and missing and first_tensors(missing)))
        and (len(unexpected) <= MAX_PLAIN_WORDS or (words and metadata))
        and all("." not in n for n in unexpected)
        and not ctx.mismatches()
    ):
        # A few plain words (epoch, best_acc, state_dict) where tensors should be, or any
        # plain words while the model's first tensors all went unfilled: the file's top
        # level holds containers and metadata.
        containers = [n for n in unexpected if n not in metadata]
        # Beside metadata, the one other plain word is the container (DSRNet's "weight").
        alone = containers[0] if len(containers) == 1 or (containers and not metadata) else ""
        key = words[0] if words else alone or "state_dict"
        where = "the checkpoint's top level holds" + (
            f" training metadata ({', '.join(metadata[:3])}) beside"
            if metadata and not words
            else ""
        )
        names = unexpected
    else:
        return
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"{where} the key '{key}': the state dict is nested under a container key "
                "on one side and flat on the other (a checkpoint saved by another version "
                "or codebase)"
            ),
            params=names,
            evidence={"container_key": key, "names": names},
            confidence=0.65,
            fix_note=(
                f"load the inner dict (checkpoint['{key}']) or save it flat; "
                "weightfit inspect CKPT lists the containers a file holds"
            ),
        )
    )
    ctx.consume(unexpected=names, missing=ctx.missing() if names else [])


TRAINED_CHECKPOINT_KEYS = ("model",)
"""The entry under which training frameworks (detectron2, fairseq, SAM, DETR, DeiT, MAE)
keep the network in the very checkpoints they release: a file without it was most often
written elsewhere (a backbone's pretrained weights, another codebase's release)."""


def _other_objects_state(ctx: Context, state: str, key: str) -> None:
    """Report an entry holding another training helper's state than the one read from it."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the entry read holds {state}, which has no '{key}': the save stored another "
                "object under this entry's name (arguments swapped in the save call), or the "
                "file is another kind of checkpoint"
            ),
            evidence={"printed_state": state, "looked_up": key},
            confidence=0.5,
            fix_note=(
                "load that object's state into the object that saved it, and fix the save "
                "call's order for new checkpoints; weightfit inspect CKPT lists the entries"
            ),
        )
    )


def _not_a_trained_checkpoint(ctx: Context, key: str) -> None:
    """Report a loader indexing a released training checkpoint's entry the file lacks."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the loader reads the network from the entry '{key}', which the checkpoints "
                "its framework releases hold, and this file has none: most often another "
                "file given in the trained checkpoint's place (a backbone's pretrained "
                "weights, another codebase's release); less often this model's weights "
                "saved bare"
            ),
            evidence={"container_key": key},
            confidence=0.45,
            fix_note=(
                "weightfit inspect CKPT shows what the file holds: tensors named like the "
                "model's are its bare weights (load them without ['" + key + "']); others "
                "are another file, so fetch the trained checkpoint the project links"
            ),
        )
    )


def _read_as_release(ctx: Context, key: str) -> bool:
    """Whether a rule before this one read the ``KeyError`` as a release's entry.

    ``release_bookkeeping`` (``text_config``): a library's own frame raised it on an entry of
    its saves, a matter of releases rather than of containers.
    """
    return any(f.category == "version" and f.evidence.get("entry") == key for f in ctx.findings)


def _missing_entry(ctx: Context, key: str) -> None:
    """Report a loader reading a training checkpoint's metadata entry the file does not have."""
    ctx.add(
        Finding(
            category="missing",
            severity="error",
            message=(
                f"the loader reads the entry '{key}' that a training checkpoint keeps beside "
                "the weights, and this file has none: it holds the weights alone, or was saved "
                "by another script or version"
            ),
            evidence={"entry": key},
            confidence=0.55,
            fix_note=(
                f"add the '{key}' entry the loader expects (copy it from a checkpoint the "
                "project provides) or load the weights with the script that saved them"
            ),
        )
    )
