"""A tensor the code looked up by name, and the file lacks.

A converter or loader indexing a checkpoint (``params[name]``) stops at the first name it
cannot find: the file names its tensors otherwise (``rename``), the code expects a wrapper's
segment the file lacks (``prefix``), or a quantization library's own loading code read
another layout (``quantization``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts
from weightfit.diagnose.text_names import OUTPUT_HEADS
from weightfit.diagnose.text_prefix import INNER_WRAPPERS, WRAPPER_SEGMENTS, only_buffers
from weightfit.findings import Finding


def failed_lookup(ctx: Context) -> None:
    """Report code that looked one tensor up by name in a file that has no such entry.

    A converter or loader indexing a checkpoint (``pretrained['model.0.weight']``, a
    parameter dict ``params[name]``) stops at the first name it cannot find. With nothing
    else in the text and no rule explaining the name, the file's naming is not the one the
    code was written for: another naming of the same model (a release or codebase that
    names its layers otherwise: timm's ConvNeXt ``stem.0`` for the original
    ``downsample_layers.0.0``) as often as another model's file (Real-ESRGAN weights given
    to an ESRGAN loader). Never sure: the text shows one name.
    """
    facts = text_facts(ctx)
    if facts is None or ctx.mismatches() or not facts.key_errors:
        return
    left = [*ctx.missing(), *ctx.unexpected()]
    if not left or len(left) > 2 or not set(left) <= set(facts.key_errors):
        return
    if any(only_buffers([n]) or OUTPUT_HEADS.search(n) for n in left):
        return  # a buffer or a tied head is looked up by code of another version, not file
    package = _raising_package(facts.text)
    if package in QUANTIZATION_PACKAGES:
        ctx.add(_quantized_lookup(left, package))
        ctx.consume(missing=left, unexpected=left)
        return
    if wrapper := _wrapper_of(left[0]):
        ctx.add(_wrapped_lookup(left, wrapper))
        ctx.consume(missing=left, unexpected=left)
        return
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"the code looked up {left[0]} by name and the file has no such entry: the "
                "file names its tensors otherwise than this code reads (another release or "
                "codebase of the model), or it is another model's file"
            ),
            params=left,
            evidence={"looked_up": left},
            confidence=0.45,
            fix_note=(
                "list the file's names (weightfit inspect FILE) and compare them with what the "
                "code reads; use the checkpoint made for this code"
            ),
        )
    )
    ctx.consume(missing=left, unexpected=left)


ONLY_WRAPPERS = frozenset({*INNER_WRAPPERS, "student", "teacher"})
"""Leading segments only a wrapper adds (DataParallel, torch.compile, FSDP, distillation)."""


def _wrapper_of(name: str) -> str:
    """The wrapper segment a looked-up name opens with (``Student2.neck.…``: ``student``), or "".

    Only segments nothing but a wrapper adds: ``model.`` or ``backbone.`` are as often
    the network's own module (ESRGAN's ``model.0``), so the code reads its own naming.
    Case and a numbering suffix are a wrapper's own spelling (PaddleOCR's distillation
    models are ``Student``, ``Student2``, ``Teacher``); the name must go on past it.
    """
    first, _, rest = name.partition(".")
    segment = first.lower().rstrip("0123456789")
    return segment if segment in ONLY_WRAPPERS and "." in rest else ""


def _wrapped_lookup(names: list[str], wrapper: str) -> Finding:
    """Code looking a name up under a wrapper's segment the file's names lack."""
    first = names[0].split(".", 1)[0]
    return Finding(
        category="prefix",
        severity="error",
        message=(
            f"the code looked up {names[0]} by name and the file has no such entry: the code "
            f"reads names under '{first}.' ({WRAPPER_SEGMENTS[wrapper]}), so it expects a file "
            "saved with that wrapper, and this one likely holds the bare network"
        ),
        params=names,
        evidence={"looked_up": names, "wrapper": first},
        confidence=0.45,
        fix_note=(
            f"list the file's names (weightfit inspect FILE): if they lack '{first}.', use the "
            "code path for a bare network's file, or add the segment "
            "(weightfit check CKPT --against TARGET --fix plan.yaml)"
        ),
    )


QUANTIZATION_PACKAGES = frozenset(
    {
        "bitsandbytes",
        "auto_gptq",
        "gptqmodel",
        "awq",
        "hqq",
        "torchao",
        "quanto",
        "optimum",
        "exllamav2",
        "compressed_tensors",
        "llmcompressor",
    }
)
"""Libraries that load quantized weights in their own layout (their own state-dict hooks)."""
FRAME = re.compile(r"File\s+\"[^\"]*?[/\\](?:site|dist)-packages[/\\](\w+)[/\\]")
"""A traceback frame in an installed package, the package's name."""


def _raising_package(text: str) -> str:
    """The installed package of the traceback's last frame before its ``KeyError``."""
    error = text.find("KeyError")
    frames = FRAME.findall(text[: error if error >= 0 else len(text)])
    return frames[-1] if frames else ""


def _quantized_lookup(names: list[str], package: str) -> Finding:
    """``quantization``: a quantization library's own loading code looked a name up and failed."""
    return Finding(
        category="quantization",
        severity="error",
        message=(
            f"{package}'s own loading code looked up {names[0]} and the state dict has no such "
            f"entry: the quantized weights were saved in another layout than this {package} "
            "release reads (its state-dict hooks changed between releases)"
        ),
        params=names,
        evidence={"looked_up": names, "package": package},
        confidence=0.45,
        fix_note=(
            f"use the {package} release the weights were saved with (or the project's pinned "
            "one), or save the weights again with the installed release"
        ),
    )
