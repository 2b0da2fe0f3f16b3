"""The objects a text says a load returned or was given, and what they hold.

A state dict entry holding an object, another kind of object than the code expects,
optimizer state, tied tensors a loader declined to tie, a part a model file lacks, a
precision refused, the channels a pipeline feeds.
"""

from __future__ import annotations

from weightfit.diagnose import _known
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding


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
    object has no attribute 'items'``, or ``load_state_dict``'s ``Expected state_dict to be
    dict-like, got <class '__main__.Net'>``) is a pickled model where a dict of weights was
    meant; a path handed to ``load_state_dict`` is no object of the file at all (``unknown``).
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
                (
                    f"load_state_dict was given a '{facts.object_for_dict}' object, no dict: "
                    if facts.object_refused
                    else f"the loaded object is a '{facts.object_for_dict}' asked for a dict's "
                    "method: "
                )
                + "the file holds a whole pickled object (a model saved with torch.save(model), "
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


def wrapper_segment(ctx: Context) -> None:
    """Report a model lacking a wrapper's attribute where code placed tensors by name.

    accelerate's ``set_module_tensor_to_device`` walks a saved name segment by segment
    (``getattr(module, split)``): ``'Net' object has no attribute 'module'`` is the first
    segment of names DataParallel (or torch.compile, FSDP) saved, which the bare model lacks.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not facts.wrapper_segment:
        return
    segment = facts.wrapper_segment
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"the model has no attribute '{segment}' where the loader walked a saved "
                f"tensor's name: the checkpoint's names carry the wrapper prefix '{segment}.' "
                "the bare model's lack"
            ),
            evidence={"prefix": f"{segment}.", "wrapper_attribute": segment},
            confidence=0.75,
            fix_note=(
                f"strip '{segment}.' from the checkpoint's names (weightfit fix CKPT --against "
                "MODEL writes the rename), or save the unwrapped model's state dict"
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
