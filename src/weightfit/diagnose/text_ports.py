"""Rules of the ``text`` profile over PyTorch weights run by a framework of another layout.

MLX keeps a convolution's input channels last, in its inputs (``N, L, C``) and its weights
(``out, *kernel, in``); PyTorch keeps them second (``out, in, *kernel``). A port that loads
PyTorch weights transposes each convolution kernel once; a kernel it left alone shows the
input channels in PyTorch's place when MLX checks them (``mlx_conv_layout`` → ``transpose``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

MLX_CONV_CHANNELS = re.compile(
    r"\[conv\]\s*Expect\s+the\s+input\s+channels\s+in\s+the\s+input\s+and\s+weight\s+array\s+to"
    r"\s+match\s+but\s+got\s+shapes\s*-\s*input:\s*\((?P<input>[\d,\s]+)\)\s+and\s+weight:\s*"
    r"\((?P<weight>[\d,\s]+)\)"
)
"""MLX's channel check in ``conv_general`` (mlx/ops.cpp): the input's last axis against the
weight's last axis (times the groups)."""


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.replace(" ", "").split(",") if d)


def mlx_conv_layout(ctx: Context) -> None:
    """Report an MLX convolution whose kernel is still in PyTorch's layout.

    MLX refused the input's channels against the weight's last axis, and the weight's
    second axis holds exactly the input's channels: ``(4096, 1024, 1)`` against an input of
    1024 channels is PyTorch's ``(out, in, kernel)``, not MLX's ``(out, kernel, in)``. A
    port's sanitize step that transposes kernels only when their shape looks untransposed
    (``shape[-1] > shape[-2]``) misses a pointwise (``kernel_size=1``) kernel this way. A
    weight whose second axis is not the input's channels is another width, left to the
    shape rules.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    refused = MLX_CONV_CHANNELS.search(facts.text)
    if refused is None:
        return
    given, weight = _shape(refused.group("input")), _shape(refused.group("weight"))
    if len(given) != len(weight) or len(weight) < 3:
        return
    channels = given[-1]
    if weight[1] != channels or weight[-1] == channels:
        return
    ctx.add(
        Finding(
            category="transpose",
            severity="error",
            message=(
                f"MLX refused a convolution weight of shape {weight} for an input of "
                f"{channels} channels: MLX reads kernels as (out, *kernel, in), and this "
                f"weight holds the {channels} input channels second, PyTorch's "
                "(out, in, *kernel): the kernel was not transposed when the PyTorch weights "
                "were converted (a pointwise kernel_size=1 conv a shape test skips)"
            ),
            evidence={"input": given, "weight": weight, "library": "mlx"},
            confidence=0.45,
            fix_note=(
                "transpose the conv weights from (out, in, *kernel) to (out, *kernel, in) "
                "when loading (weight.moveaxis(1, -1)), for kernel size 1 too"
            ),
        )
    )
    ctx.consume(pairs=ctx.mismatches())
