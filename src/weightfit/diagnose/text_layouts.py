"""One pasted tensor stored in another layout.

Singleton axes, a 1x1 conv for a Linear, kernel axes in another order, another image
channel count, a buffer left empty until first use, a buffer built flat in the model or a
flat slice copied into a weight (``text_rows.broadcast_rows`` reads the broadcast it fails).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text, shapes_of
from weightfit.diagnose._facts import text_facts
from weightfit.diagnose.partitioned import PARAMETER_LEAF
from weightfit.findings import Category, Finding
from weightfit.manifest import counted
from weightfit.plan import Op

SPATIAL_PROJ = re.compile(r"(^|\.)(proj_in|proj_out)\.weight$")
"""The projections around an LDM UNet's spatial transformer: a 1x1 conv in SD 1.x, a Linear in
SD 2.x and SDXL (``use_linear_in_transformer``)."""


def singleton_axes(ctx: Context) -> None:
    """Report tensors that hold the same values with singleton axes added or dropped.

    Two shapes equal once their 1s are dropped hold the same values; what the extra axes
    say depends on the layer:

    - ``proj_in``/``proj_out`` (or an unnamed square matrix of a UNet block's width) as a
      Linear on one side and a 1x1 conv on the other: Stable
      Diffusion 1.x builds them as 1x1 convolutions, 2.x and SDXL as Linear layers, so the
      checkpoint is of another generation than the model's config (``wrong_variant``);
    - a vector stored as ``(1, 1, 1, 512)`` against ``(512,)``, or a depthwise kernel
      without its per-group input axis (``[64, 3, 3]`` against ``[64, 1, 3, 3]``): the
      library that wrote it stored the parameter in another layout (flax GroupNorm before
      0.3.6, old TensorFlow exports), a ``version`` matter.

    Other singleton changes (a Linear against a 1x1 conv elsewhere) are left to
    ``rank_inflate``.
    """
    if not ctx.partial:
        return
    folded = [p for p in ctx.mismatches() if _kernel_folded(ctx.src(p).shape, ctx.tgt(p).shape)]
    if any(_kernel_size(ctx.src(p).shape, ctx.tgt(p).shape) > 1 for p in folded):
        _report_layer_type(ctx, folded)
    same = [
        p for p in ctx.mismatches() if _squeezed(ctx.src(p).shape) == _squeezed(ctx.tgt(p).shape)
    ]
    projections = [p for p in same if _spatial_projection(ctx, p) and _pointwise(ctx, p)]
    if projections:
        _report_generation(ctx, projections)
    vectors = [
        p
        for p in same
        if p not in projections
        and (
            min(len(ctx.src(p).shape), len(ctx.tgt(p).shape)) <= 1
            or _channel_axis(ctx.src(p).shape, ctx.tgt(p).shape)
        )
    ]
    if vectors:
        _report_layout(ctx, vectors)


def _channel_axis(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether one kernel is the other with a channel axis of 1 (a depthwise kernel's).

    ``[64, 3, 3]`` against ``[64, 1, 3, 3]``: the per-group input axis stored or not.
    """
    short, long = sorted((have, want), key=len)
    return len(long) == len(short) + 1 >= 4 and long[1] == 1 and long[:1] + long[2:] == short


def _kernel_folded(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether one side is a convolution's kernel and the other that kernel as a Linear.

    ``[64, 128, 3]`` against ``[64, 384]``: the same output channels, the input channels
    and kernel taps flattened into one input axis.
    """
    conv, linear = (have, want) if len(have) > len(want) else (want, have)
    return (
        len(linear) == 2
        and len(conv) >= 3
        and conv[0] == linear[0]
        and math.prod(conv[1:]) == linear[1]
    )


def _kernel_size(have: tuple[int, ...], want: tuple[int, ...]) -> int:
    """Taps of the convolution side of a folded pair."""
    return math.prod(max(have, want, key=len)[2:])


def _report_layer_type(ctx: Context, pairs: list[Pair]) -> None:
    """Report layers built as convolutions on one side and as Linear layers on the other."""
    first = pairs[0]
    have, want = ctx.src(first).shape, ctx.tgt(first).shape
    conv_side = "checkpoint" if len(have) > len(want) else "model"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{counted(len(pairs), 'layer')} {'holds' if len(pairs) == 1 else 'hold'} "
                "the same number of weights as a convolution on one "
                f"side and a Linear over unfolded inputs on the other ({first.target}: "
                f"{shape_text(have)} in the checkpoint, {shape_text(want)} in the model; the "
                f"{conv_side} has the convolution): the code changed the layer's type between "
                "the release that saved the checkpoint and the model's"
            ),
            params=[p.source for p in pairs],
            evidence={"convolution_side": conv_side, "tensors": [p.target for p in pairs[:8]]},
            confidence=0.55,
            fix_note=(
                "use the code release the checkpoint was saved with, or its converted weights; "
                "a reshape keeps the values only if the Linear unfolds the taps in the "
                "convolution's order"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _squeezed(shape: tuple[int, ...]) -> list[int]:
    return [d for d in shape if d != 1]


UNET_WIDTHS = (320, 640, 1280)
"""The channel widths of Stable Diffusion's UNet blocks (1.x, 2.x and SDXL alike)."""


def _spatial_projection(ctx: Context, pair: Pair) -> bool:
    """Whether a pair is a spatial transformer's ``proj_in``/``proj_out``.

    Named so, or unnamed (accelerate's ``Trying to set a tensor ... in "weight"``) and a
    square matrix of a UNet block's width: the one square 1x1 layer of an LDM UNet.
    """
    if SPATIAL_PROJ.search(pair.target):
        return True
    square = min((ctx.src(pair).shape, ctx.tgt(pair).shape), key=len)
    return (
        "." not in pair.target
        and len(square) == 2
        and square[0] == square[1]
        and square[0] in UNET_WIDTHS
    )


def _pointwise(ctx: Context, pair: Pair) -> bool:
    """Whether one side is a matrix and the other that matrix as a 1x1 convolution."""
    have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
    short, long = sorted((have, want), key=len)
    return len(short) == 2 and long == (*short, 1, 1)


def _report_layout(ctx: Context, pairs: list[Pair]) -> None:
    first = pairs[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{first.target} holds the same values in another layout: "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model — the library that saved it "
                "stored this parameter with other singleton axes"
            ),
            params=[p.source for p in pairs],
            evidence=shapes_of(ctx, first),
            confidence=0.65,
            fix=_reshapes(ctx, pairs),
            fix_note="use the library version the checkpoint was saved with, or reshape on load",
        )
    )
    ctx.consume(pairs=pairs)


SDXL_BUILDER = re.compile(
    r"\bsdxl_\w+\.py\b|\bStableDiffusionXL\w*Pipeline\b|\bsdxl_original_unet\b|"
    r"\bSDXL\w*UNet\w*\b"
)
"""Code that builds an SDXL UNet (kohya's ``sdxl_train_network.py``, diffusers' SDXL
pipelines): the model's generation, where a checkpoint's file name says only the file's."""


def _report_generation(ctx: Context, pairs: list[Pair]) -> None:
    first = pairs[0]
    linear_ckpt = len(ctx.src(first).shape) == 2
    facts = text_facts(ctx)
    builder = SDXL_BUILDER.search(facts.text) if linear_ckpt and facts is not None else None
    if builder is not None:
        _report_builder_default(ctx, pairs, builder.group(0))
        return
    newer, older = "SD 2.x / SDXL (Linear proj_in, use_linear_in_transformer)", "SD 1.x (1x1 conv)"
    checkpoint, model = (newer, older) if linear_ckpt else (older, newer)
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"{first.target} is {shape_text(ctx.src(first).shape)} in the checkpoint and "
                f"{shape_text(ctx.tgt(first).shape)} in the model: the checkpoint is "
                f"{checkpoint}, the model was built as {model}"
            ),
            params=[p.source for p in pairs],
            evidence={
                **shapes_of(ctx, first),
                "checkpoint_generation": checkpoint,
                "model_generation": model,
                "also_acceptable": ["version"],
            },
            confidence=0.7,
            fix=_reshapes(ctx, pairs),
            fix_note=(
                "build the model from the config of the checkpoint's generation (SD 2.x / SDXL "
                "config, or a loader that detects it); the same values also load by reshaping "
                "these 1x1 weights, but the rest of the config must match too"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _report_builder_default(ctx: Context, pairs: list[Pair], builder: str) -> None:
    """Report SDXL code building 1x1 conv projections: its UNet read its config otherwise.

    Every SDXL UNet has Linear ``proj_in``/``proj_out``; a model built with convolutions by
    code that builds SDXL took the default of a setting its config did not give
    (diffusers' ``use_linear_projection``), as a release of the library or its
    conversion does that predates (or postdates) the config: no other generation.
    """
    first = pairs[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{first.target} is {shape_text(ctx.src(first).shape)} in the checkpoint and "
                f"{shape_text(ctx.tgt(first).shape)} in the model, built by SDXL code "
                f"({builder}): every SDXL UNet has Linear projections, so the model's "
                "1x1 convolutions are the default of a setting its config did not give "
                "(use_linear_projection), as another release of the library or its "
                "conversion builds it"
            ),
            params=[p.source for p in pairs],
            evidence={**shapes_of(ctx, first), "builder": builder},
            confidence=0.45,
            fix=_reshapes(ctx, pairs),
            fix_note=(
                "update the training scripts and diffusers together (the release the "
                "scripts pin), or set use_linear_projection in the UNet's config"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def permuted_axes(ctx: Context) -> None:
    """Report kernels holding the same axes in another order: a library's layout change.

    ``[3, 3, 3, 16, 32]`` against ``[32, 3, 3, 3, 16]`` is one kernel written by spconv 1.x
    (``kD, kH, kW, in, out``) and read by spconv 2.x (``out, kD, kH, kW, in``); TensorFlow's
    ``HWIO`` against PyTorch's ``OIHW`` is the same story. Matrices are ``transpose``'s; this
    reads rank 3 and up. The order every pair allows that moves the fewest axes is named;
    it is no fix, since equal sizes (``kD, kH, kW``; ``in == out``) leave the order open.
    """
    if not ctx.partial:
        return
    pairs = []
    orders: set[tuple[int, ...]] | None = None
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) < 3 or len(have) != len(want) or sorted(have) != sorted(want):
            continue
        pairs.append(pair)
        found = {
            dims
            for dims in itertools.permutations(range(len(have)))
            if tuple(have[d] for d in dims) == want
        }
        orders = found if orders is None else orders & found
    if not pairs:
        return
    first = pairs[0]
    dims = min(orders, key=_inversions) if orders else None
    ctx.add(
        Finding(
            category="transpose",
            severity="error",
            message=(
                f"{counted(len(pairs), 'kernel')} {'holds' if len(pairs) == 1 else 'hold'} "
                f"the same axes in another order: {first.target} "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model — written by a library "
                "version (or framework) with another weight layout (spconv 1.x vs 2.x, "
                "TensorFlow HWIO vs PyTorch OIHW)"
            ),
            params=[p.source for p in pairs],
            evidence={
                **shapes_of(ctx, first),
                "likely_permutation": list(dims) if dims else None,
                "also_acceptable": ["version"],
            },
            confidence=0.7,
            fix_note=(
                "permute the kernels to the model's layout on load (the library's own "
                "conversion knows the order), or install the library version that wrote them"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def backend_layouts(ctx: Context) -> None:
    """Report conv kernels in two backends' layouts whose channels do not line up either.

    ``(3, 3, 64, 3)`` against ``(64, 200, 3, 3)``: the kernel window leads on one side
    (TensorFlow's ``kh, kw, in, out``) and trails on the other (Theano's and PyTorch's
    ``out, in, kh, kw``), and no reordering makes the sizes equal, so the layer was also
    built on channels in another place (Keras' ``image_data_format`` / ``dim_ordering``).
    A first convolution whose outputs agree and whose inputs are image channels (RGB
    against grayscale) is left to the image-channel reading.
    """
    if not ctx.partial:
        return
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) == len(want) == 4 and sorted(have) != sorted(want):
            layouts = _hwio_and_oihw(have, want) or _hwio_and_oihw(want, have)
            if layouts is not None and not _image_inputs(*layouts):
                pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    ctx.add(
        Finding(
            category="transpose",
            severity="error",
            message=(
                f"{first.target} is a convolution kernel in two backends' layouts: "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model, the kernel window leading "
                "on one side (TensorFlow's kh, kw, in, out) and trailing on the other "
                "(Theano's and PyTorch's out, in, kh, kw), and the channels differ too: the "
                "weights were not reordered, and the layer was built with its channels in "
                "another place (Keras' image_data_format)"
            ),
            params=[p.source for p in pairs],
            evidence=shapes_of(ctx, first),
            confidence=0.45,
            fix_note=(
                "set the backend's image data format the weights were made for (Keras "
                "image_data_format / dim_ordering), or reorder the kernels when converting"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _hwio_and_oihw(
    hwio: tuple[int, ...], oihw: tuple[int, ...]
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``((in, out), (in, out))`` when ``hwio`` has its window first and ``oihw`` last."""
    window = hwio[:2]
    if window[0] <= 1 or window != oihw[2:] or hwio[2:] == window or oihw[:2] == window:
        return None
    return (hwio[2], hwio[3]), (oihw[1], oihw[0])


def _image_inputs(first: tuple[int, int], second: tuple[int, int]) -> bool:
    """Whether two kernels' outputs agree and their inputs are two image channel counts."""
    return first[1] == second[1] and {first[0], second[0]} <= IMAGE_CHANNELS


def _inversions(order: tuple[int, ...]) -> int:
    """How many axis pairs a permutation swaps: fewer is the plainer layout change."""
    return sum(a > b for i, a in enumerate(order) for b in order[i + 1 :])


def lazy_buffers(ctx: Context) -> None:
    """Report buffers of size 0 on one side: a module fills them on first use.

    ZeRO-3 and FSDP partition parameters (``partitioned`` reads those, on either side);
    a buffer of size 0 (a filterbank, a mask) is one its module builds lazily. Buffers
    empty on both sides, each its own way, are state the training resizes (``extra_state``).
    """
    if not ctx.partial:
        return
    empty = [p for p in ctx.mismatches() if (ctx.src(p).numel == 0) != (ctx.tgt(p).numel == 0)]
    if not empty or any(PARAMETER_LEAF.search(p.target) for p in empty):
        return
    # A library version that builds a buffer lazily leaves it empty on one side only (the
    # side of the version that builds it late); empty on both sides, each buffer its own
    # way, is state the training itself resizes (indexes, memory banks, neighbour lists).
    both_sides = {ctx.src(p).numel == 0 for p in empty} == {True, False}
    reading = TRAINING_BUFFERS if both_sides else LAZY_BUFFERS
    shapes = ", ".join(
        f"{p.target} {shape_text(ctx.src(p).shape)} → {shape_text(ctx.tgt(p).shape)}"
        for p in empty[:3]
    )
    ctx.add(
        Finding(
            category=reading.category,
            severity="error",
            message=f"{reading.says} ({shapes}): {reading.cause}",
            params=[p.source for p in empty],
            evidence={"empty_buffers": [p.target for p in empty[:8]]},
            confidence=reading.confidence,
            fix_note=reading.fix_note,
        )
    )
    ctx.consume(pairs=empty)


@dataclass(frozen=True)
class EmptyBuffers:
    """What buffers empty on one side or the other say, and what to do."""

    category: Category
    says: str
    cause: str
    confidence: float
    fix_note: str


LAZY_BUFFERS = EmptyBuffers(
    "version",
    "buffers are empty on one side",
    "buffers a module fills on first use (a filterbank, mask or cache built lazily), saved "
    "before or loaded after they were filled",
    0.5,
    "use a library version that builds the buffer when the module is made, run one forward "
    "pass before loading, or leave the buffer out of the state dict (strict=False) so the "
    "module rebuilds it",
)
TRAINING_BUFFERS = EmptyBuffers(
    "extra_state",
    "buffers are empty in the checkpoint and others in the model",
    "state the training resizes as it runs (indexes, memory banks), saved at one point of "
    "training and loaded into a module built at another",
    0.45,
    "leave these buffers out of the load (strict=False after dropping them) so the module "
    "rebuilds them, or resize them to the checkpoint's before loading",
)


IMAGE_CHANNELS = frozenset({1, 3, 4})
"""Channel counts of images: grayscale, RGB, RGBA."""

_IMAGE_OUTPUT_WORDS = ("tail", "out", "last", "final", "rgb", "image")
"""Module words of a convolution that produces the image (``m_tail``, ``conv_last``, ``to_rgb``)."""


def image_channels(ctx: Context) -> None:
    """Report convolutions built for another number of image channels (1, 3, 4).

    A first convolution that takes grayscale against RGB images, or a last one that
    produces them, is one setting of the same network: another variant. A convolution
    fed the image beside extra maps (a noise level) changes by as many channels.
    """
    if not ctx.partial:
        return
    found: list[tuple[Pair, int]] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != 4 or len(want) != 4 or have[2:] != want[2:] or have[2] < 3:
            continue
        if have[0] == want[0] and have[1] != want[1] and {have[1], want[1]} <= IMAGE_CHANNELS:
            found.append((pair, 1))
        elif (
            have[1] == want[1]
            and have[0] != want[0]
            and {have[0], want[0]} <= IMAGE_CHANNELS
            and _names_image_output(pair.target)
        ):
            found.append((pair, 0))
    if not found:
        return
    pair, axis = found[0]
    saved, built = ctx.src(pair).shape[axis], ctx.tgt(pair).shape[axis]
    fed = ctx.changed_by(saved - built, [p for p, _ in found])
    role = "takes" if axis == 1 else "produces"
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"{pair.target} {role} {saved}-channel images in the checkpoint, {built} in the "
                "model: a variant of the network for grayscale, RGB or RGBA images"
            ),
            params=[p.source for p, _ in found] + [p.source for p in fed],
            evidence={
                "checkpoint_channels": saved,
                "model_channels": built,
                "convolutions": [p.target for p, _ in found],
                "fed_the_image": [p.target for p in fed],
            },
            confidence=0.65,
            fix_note=(
                f"build the model for {saved}-channel images (in_channels/out_channels), or load "
                f"the checkpoint made for {built}-channel images; converting the kernel (summing "
                "its RGB weights for grayscale) needs training after"
            ),
        )
    )
    ctx.consume(pairs=[p for p, _ in found] + fed)


def _names_image_output(name: str) -> bool:
    modules = name.lower().split(".")[:-1]
    return any(word in part for part in modules for word in _IMAGE_OUTPUT_WORDS)


def flat_in_model(ctx: Context) -> None:
    """Report a model buffer built flat where the checkpoint holds it as a matrix.

    ``[176128, 32]`` in the file against ``[5636096]`` in the model: the same values, the
    model's code keeping them in one flat buffer. A flattened save (FSDP, ZeRO) is the other
    way round (``partitioned`` reads it); the code that built the model lays the tensor out
    otherwise than the code that saved it, another release of it.
    """
    if not ctx.partial:
        return
    pairs = [
        p
        for p in ctx.mismatches()
        if len(ctx.tgt(p).shape) == 1
        and len(ctx.src(p).shape) >= 2
        and min(ctx.src(p).shape) > 1
        and math.prod(ctx.src(p).shape) == ctx.tgt(p).shape[0]
        and "flat_param" not in p.target
    ]
    if not pairs:
        return
    first = pairs[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{first.target} holds the same {ctx.tgt(first).shape[0]} values in another "
                f"layout: {shape_text(ctx.src(first).shape)} in the checkpoint, one flat "
                f"buffer {shape_text(ctx.tgt(first).shape)} in the model. The code that "
                "saved it laid it out otherwise than the code that builds the model: another "
                "release of it"
            ),
            params=[p.source for p in pairs],
            evidence={"tensors": [{"name": p.target, **shapes_of(ctx, p)} for p in pairs]},
            confidence=0.45,
            fix=_reshapes(ctx, pairs),
            fix_note=(
                "use the release of the code the checkpoint was saved with, or re-save it with "
                "this one (a reshape keeps the values only if both use row-major order)"
            ),
        )
    )
    ctx.consume(pairs=pairs)


FLAT_SLICE_COPY = re.compile(r"\.copy_\([^\n]*\[\s*\w+\s*:\s*\w+\s*\+\s*\w+\s*\]")
"""A ``copy_`` of a slice of a flat buffer (``copy_(torch.from_numpy(buf[start:start+n]))``):
a raw weights reader (Darknet's ``.weights``) filling each layer in turn."""
LAST_AXIS = re.compile(r"at\s+non-singleton\s+dimension\s+([1-9])\b")
"""A broadcast PyTorch refused on an axis after the first (``at non-singleton dimension 1``):
a 1-D buffer meets a weight along its last axis, not its rows."""


def flat_copy(text: str, a: int, b: int) -> bool:
    """Whether a flat buffer of ``b`` values was copied into a weight whose last axis is ``a``.

    The broadcast fails on the weight's last axis (dimension 1 or more: the buffer is 1-D,
    aligned with it) and the buffer's count is a whole number of those rows.
    """
    axis = LAST_AXIS.search(text)
    return (
        axis is not None and FLAT_SLICE_COPY.search(text) is not None and b > a > 1 and b % a == 0
    )


def flat_buffer(a: int, b: int) -> Finding:
    """``version``: a flat slice copied into an N-D weight, as PyTorch before 0.4 allowed."""
    return Finding(
        category="version",
        severity="error",
        message=(
            f"a flat slice of {b} values is copied into a weight whose last axis is {a} "
            f"({b} = {b // a} × {a}: the same values in one row): PyTorch before 0.4 copied "
            "by element count whatever the shapes, newer releases broadcast and refuse. The "
            "reader was written for an older PyTorch"
        ),
        evidence={"buffer_values": b, "last_axis": a},
        confidence=0.45,
        fix_note=(
            "view the slice as the weight's shape before copying "
            "(copy_(torch.from_numpy(buf[start:start + n]).view_as(weight))), or run the "
            "PyTorch the code was written for"
        ),
    )


def _reshapes(ctx: Context, pairs: list[Pair]) -> list[Op]:
    """Reshape each checkpoint tensor to its model shape: the same values, laid out anew."""
    return [
        Op("reshape", {"name": p.target, "shape": list(ctx.tgt(p).shape)}, "same values")
        for p in pairs
    ]
