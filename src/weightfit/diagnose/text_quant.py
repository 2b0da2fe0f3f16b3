"""Quantized storage read from a text: quantized parameter names, packed shapes, quantizer words."""

from __future__ import annotations

import re

from weightfit import dtypes, knowledge
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import text_facts, whole_text_facts
from weightfit.diagnose.attention_heads import KEY_VALUE
from weightfit.findings import Finding

QUANT_LEAVES = frozenset(
    {
        "qweight",
        "qzeros",
        "scales",
        "g_idx",
        "SCB",
        "absmax",
        "quant_map",
        "weight_format",
        "weight_packed",
        "weight_scale",
        "weight_scale_inv",
        "weight_zero_point",
        "input_scale",
        "weight_global_scale",
        "input_global_scale",
        "nested_absmax",
        "nested_quant_map",
        "bitsandbytes__nf4",
        "bitsandbytes__fp4",
        "int8_weight",
        "weight_shape",
        "weight_g_idx",
        "q_weight",
        "q_scale",
        "q_scale_max",
        "q_invperm",
        "q_groups",
        "W_q",
        "wscales",
        "wzeros",
        "wcscales",
        "wtscale",
        "smooth_factor",
        "smooth_factor_orig",
        "_data",
        "_scale",
    }
)
"""Leaves only quantized checkpoints hold (GPTQ, AWQ, bitsandbytes, compressed-tensors, fp8,
ExLlamaV2's exl2, HQQ's ``W_q``, nunchaku's SVDQuant ``wscales`` / ``smooth_factor``,
optimum-quanto's ``weight._data`` / ``weight._scale``)."""


def quantized_names(ctx: Context) -> None:
    """Report quantized parameter names a text lists as missing or unexpected.

    Unexpected ones: the checkpoint is quantized and the model is built in float.
    Missing ones: the model is built quantized (``zeros``/``scales`` beside ``qweight``)
    and the checkpoint holds plain weights, or another packing.
    """
    if not ctx.partial:
        return
    for names, side in ((ctx.unexpected(), "checkpoint"), (ctx.missing(), "model")):
        leaves = {name.rsplit(".", 1)[-1] for name in names}
        quantized = [n for n in names if _quantized_leaf(n.rsplit(".", 1)[-1])] or (
            [n for n in names if n.endswith((".zeros", ".scales"))]
            if {"zeros", "scales"} <= leaves
            else []
        )
        if not quantized or _whole_modules(quantized, names):
            continue
        scheme = _scheme(leaves)
        listed = ", ".join(sorted({n.rsplit(".", 1)[-1] for n in quantized}))
        facts = text_facts(ctx)
        looked_up = facts is not None and set(quantized) <= set(facts.key_errors)
        if looked_up:
            # Code indexing the file by a quantized name: the loader is built for a
            # quantization whose tensors the file lacks (another scheme or group size).
            side = "model"
            message = (
                f"the loader looks up quantized tensors ({scheme}: {listed}) the file lacks: "
                "it is built for another quantization than the checkpoint's (another "
                "scheme, group size or none)"
            )
        else:
            other = (
                "model is built for float weights"
                if side == "checkpoint"
                else ("checkpoint holds weights of another packing or none quantized")
            )
            message = f"the {side} holds quantized tensors ({scheme}: {listed}) and the {other}"
        ctx.add(
            Finding(
                category="quantization",
                severity="error",
                message=message,
                params=quantized,
                evidence={"side": side, "scheme": scheme, "names": quantized[:8]},
                confidence=0.6 if looked_up else 0.8,
                fix_note=(
                    "load it with the quantizer that wrote it (the model's quantization_config "
                    "and its kernels), or use the unquantized original; weights packed by "
                    "another tool version are not interchangeable"
                ),
            )
        )
        ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())
        return


def _whole_modules(quantized: list[str], names: list[str]) -> bool:
    """Whether most quantized modules are listed whole, their ``weight`` beside the scales.

    ``k_proj.weight``, ``k_proj.scales`` and ``k_proj.biases`` all unexpected: the model
    has no ``k_proj`` there at all, quantized or not (layers built without their own
    projections), so the storage is not what differs.
    """
    listed = set(names)
    modules = {name.rsplit(".", 1)[0] for name in quantized}
    whole = {m for m in modules if f"{m}.weight" in listed}
    return len(whole) * 2 >= len(modules)


FUSED_QUANT_SUFFIXES = (
    "_weight_scale",
    "_weight_scale_inv",
    "_input_scale",
    "_weight_zero_point",
    "_qweight",
    "_qzeros",
    "_g_idx",
    "_scales",
    "_zeros",
)
"""Quantized leaves of fused expert tensors (vLLM's ``w13_weight_scale``, ``w2_input_scale``)
and of per-stage scales (QServe's ``s1_scales``, ``s2_zeros``): a float weight has one
value per element, never a set of scales or zero points beside it."""


def _quantized_leaf(leaf: str) -> bool:
    """Whether a parameter leaf is quantized storage: a known leaf, or one of its suffixes."""
    return leaf in QUANT_LEAVES or leaf.endswith(FUSED_QUANT_SUFFIXES)


def _scheme(leaves: set[str]) -> str:
    if leaves & {"SCB", "weight_format"}:
        return "bitsandbytes 8-bit"
    if leaves & {"absmax", "quant_map"}:
        return "bitsandbytes 4-bit"
    if leaves & {"weight_packed", "weight_zero_point", "weight_shape", "weight_g_idx"}:
        return "compressed-tensors"
    if leaves & {"q_weight", "q_invperm", "q_scale_max", "q_groups"}:
        return "ExLlamaV2 exl2"
    if leaves & {"wscales", "wzeros", "wcscales", "wtscale", "smooth_factor", "smooth_factor_orig"}:
        return "nunchaku SVDQuant"
    if "W_q" in leaves:
        return "HQQ"
    if leaves & {"_data", "_scale"}:
        return "optimum-quanto"
    if {"scales", "biases"} <= leaves and not leaves & {"qweight", "qzeros"}:
        return "MLX (weight, scales, biases per group)"
    if leaves & {"weight_scale_inv", "input_scale"} or any(
        leaf.endswith(("_weight_scale_inv", "_input_scale")) for leaf in leaves
    ):
        return "fp8"
    if "int8_weight" in leaves:
        return "int8 weight-only"
    if "g_idx" in leaves:
        return "GPTQ"
    if leaves & {"qweight", "qzeros", "scales"}:
        return "GPTQ / AWQ packed int4"
    return "quantized storage"


PACKING = (2, 4, 8)
"""How many values quantized storage packs per element: 4-bit in a byte (2), 2-bit or
int8 in int32 (4), 4-bit in int32 (8)."""


def packed_shapes(ctx: Context) -> None:
    """Report tensors stored packed: a fraction of the model's elements, or quantized names.

    bitsandbytes 4-bit stores ``[n/2, 1]`` bytes for an ``n``-element weight; GPTQ and
    AWQ store ``qweight`` with 8 values in each int32, along one axis or the other; GGUF
    stores rows as GGML blocks (``Q4_K``: 144 bytes per 256 values), read where the text
    speaks of quantization.
    """
    if not ctx.partial:
        return
    pairs = []
    blocks: list[str] = []
    mlx_bits: dict[Pair, tuple[int, int, int]] = {}
    bare = 0  # pairs read as packed from their shapes alone (a row in 32-bit words)
    reshaped: list[Pair] = []  # rows regrouped into whole K-quant blocks
    along_inputs = _packed_inputs(ctx)
    # A vector eight times longer too says the input itself is wider: packing leaves vectors.
    widened = any(
        len(ctx.src(p).shape) == 1 and _int4_words((1, *ctx.src(p).shape), (1, *ctx.tgt(p).shape))
        for p in ctx.mismatches()
    )
    for pair in ctx.mismatches():
        have, want = ctx.src(pair), ctx.tgt(pair)
        named = pair.target.rsplit(".", 1)[-1] in QUANT_LEAVES
        ratios = [k for k in PACKING if have.numel and have.numel * k == want.numel]
        flat = bool(ratios) and have.shape == (have.numel, 1) and len(want.shape) == 2
        # The model built packed (a 4-bit load format) and handed a float tensor.
        flat = flat or (
            any(want.numel and want.numel * k == have.numel for k in PACKING)
            and want.shape == (want.numel, 1)
            and len(have.shape) == 2
        )
        matrix = bool(ratios) and len(have.shape) == len(want.shape) == 2 and _quant_words(ctx)
        # Fewer rows of a key/value projection, in the float layout: grouped heads, no packing
        # (GPTQ and AWQ store their packed matrices input axis first).
        matrix = matrix and not (KEY_VALUE.search(pair.target) and have.shape[1:] == want.shape[1:])
        ggml = _ggml_blocks(have.shape, want.shape) if _quant_words(ctx) else []
        blocks += [name for name in ggml if name not in blocks]
        packed = named or flat or matrix or ggml or pair in along_inputs
        group = pair.target.rsplit(".", 1)[-1] in GROUP_LEAVES
        mlx = None if group else _mlx_bits(ctx, have.shape, want.shape)
        if mlx is not None:
            mlx_bits[pair] = mlx
        packed = packed or mlx is not None
        if not packed and not widened and _int4_words(have.shape, want.shape):
            packed, bare = True, bare + 1
        if not packed and _block_rows(have.shape, want.shape):
            packed, bare = True, bare + 1
            reshaped.append(pair)
        if packed or _byte_buffer(pair.target, have.shape, want.shape):
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    ratio = ctx.tgt(first).numel / max(ctx.src(first).numel, 1)
    evidence: dict[str, object] = {"packing": ratio, "count": len(pairs)}
    if blocks:
        evidence["ggml_types"] = blocks
    message = (
        f"{first.target} is stored packed in the checkpoint "
        f"({shape_text(ctx.src(first).shape)} for the model's "
        f"{shape_text(ctx.tgt(first).shape)}, {ratio:.3g} values per element): "
        "quantized weights loaded into a model built for another storage"
        if ratio >= 1
        else f"the model is built for packed (quantized) storage of {first.target} "
        f"({shape_text(ctx.tgt(first).shape)}) and the checkpoint holds it whole "
        f"({shape_text(ctx.src(first).shape)}): full-precision weights loaded with a "
        "quantized load format"
    )
    if first in reshaped:
        row = ctx.tgt(first).shape[-1]
        evidence["block_rows"] = [ctx.src(first).shape[-1], row]
        message = (
            f"{first.target} holds the model's values regrouped into rows of "
            f"{ctx.src(first).shape[-1]} ({shape_text(ctx.src(first).shape)} for the model's "
            f"{shape_text(ctx.tgt(first).shape)}, the same count): GGUF's K-quants store whole "
            f"blocks of {K_QUANT_BLOCK} values and a row of {row} fills none, so the converter "
            "reshaped the tensor to quantize it and the loader did not restore its shape"
        )
    note = (
        "build the model with the checkpoint's quantization_config (bitsandbytes, "
        "GPTQ, AWQ …) so it expects the packed layout, or use the unquantized weights"
    )
    groups = _groups(ctx.src(first).shape, ctx.tgt(first).shape)
    if first.target.rsplit(".", 1)[-1] in GROUP_LEAVES and groups is not None:
        evidence["groups_per_row"] = list(groups)
        message = (
            f"{first.target} holds {groups[0]} scale groups per row in the checkpoint "
            f"({shape_text(ctx.src(first).shape)}), {groups[1]} in the model "
            f"({shape_text(ctx.tgt(first).shape)}): quantized with another group size "
            "(each row's values over its groups), not other bits"
        )
        note = (
            "quantize the model with the checkpoint's group size before loading (MLX: "
            "nn.quantize(model, group_size=…, bits=…) as its config.json's quantization says; "
            "transformers: the quantization_config's group_size)"
        )
    elif first in mlx_bits and 32 not in mlx_bits[first][1:]:
        row, have_bits, want_bits = mlx_bits[first]
        evidence["bits"] = [have_bits, want_bits]
        message = (
            f"{first.target} is quantized at other bits: rows of {row} values packed at "
            f"{have_bits} bits in the checkpoint ({shape_text(ctx.src(first).shape)}), at "
            f"{want_bits} in the model ({shape_text(ctx.tgt(first).shape)}): the loader "
            "quantized the module otherwise than the checkpoint's per-layer settings say"
        )
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=message,
            params=[p.source for p in pairs],
            evidence=evidence,
            confidence=0.45 if bare == len(pairs) else 0.75,
            fix_note=note,
        )
    )
    ctx.consume(pairs=pairs)


def _packed_inputs(ctx: Context) -> list[Pair]:
    """Matrices whose input axis is ``1/k`` of the model's on every layer, outputs unchanged.

    Packed 4-bit storage halves the input axis of every quantized matrix (two values per
    byte) and keeps the outputs. A narrower model would narrow some output too (the
    projections back to the hidden width); a tensor-parallel shard splits the input of
    the projections back to the hidden width only, which all share one output size.
    A narrower input (another encoder's context width) changes one input size only. So:
    every differing matrix, the same ``k``, two or more output and input sizes.
    """
    pairs = ctx.mismatches()
    shapes = [(ctx.src(p).shape, ctx.tgt(p).shape) for p in pairs]
    if len(pairs) < 2 or any(len(a) != 2 or len(b) != 2 or a[0] != b[0] for a, b in shapes):
        return []
    ratios = {b[1] // a[1] if a[1] and b[1] % a[1] == 0 else 0 for a, b in shapes}
    if len(ratios) != 1 or ratios.pop() not in PACKING:
        return []
    if len({a[0] for a, _ in shapes}) < 2 or len({b[1] for _, b in shapes}) < 2:
        return []  # one input size: a narrower input (another text encoder's context)
    return list(pairs)


def _int4_words(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a matrix holds the model's rows as 4-bit values in 32-bit words.

    GPTQ, AWQ and MLX store a 4-bit weight's rows eight values to an int32 word: the
    checkpoint's last axis is exactly 1/8 of the model's, the other axis the same. A
    narrower variant would not narrow one matrix's inputs eightfold and keep its outputs.
    Read without quantization words, so the finding says it less surely.
    """
    return len(have) == len(want) == 2 and have[0] == want[0] and have[1] * 8 == want[1]


def _ggml_blocks(have: tuple[int, ...], want: tuple[int, ...]) -> list[str]:
    """GGML block types whose bytes per row fit: one side's last axis is the other's in blocks.

    GGUF stores each row of a ``Q4_K`` weight as ``n / 256`` blocks of 144 bytes: a
    ``[3072, 3072]`` weight read as raw bytes is ``[3072, 1728]``. Only the last axis may
    differ, and the element count must fill whole blocks.
    """
    if len(have) != len(want) or not have or have[:-1] != want[:-1] or have[-1] == want[-1]:
        return []
    found = []
    for block in dtypes.BLOCK_TYPES.values():
        for values, stored in ((want[-1], have[-1]), (have[-1], want[-1])):
            if values % block.block_size == 0 and stored * block.block_size == (
                values * block.type_size
            ):
                found.append(block.name)
    return found


K_QUANT_BLOCK = 256
"""Values in one block of GGML's K-quant types (``QK_K``)."""


def _block_rows(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a matrix holds the model's values regrouped into rows of whole K-quant blocks.

    A K-quant stores each row as blocks of 256 values, so a converter reshapes a matrix
    whose rows are shorter than a block (Flux's ``img_in``, ``[3072, 64]``) into rows of 256
    (``[768, 256]``) before quantizing, and a loader must restore the recorded shape.
    """
    return (
        len(have) == len(want) == 2
        and have[0] * have[1] == want[0] * want[1]
        and have[1] % K_QUANT_BLOCK == 0
        and want[1] < K_QUANT_BLOCK
        and have[1] != want[0]
    )


def _byte_buffer(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a matrix weight is stored as one flat buffer of fewer elements.

    More than 1/8 of them and fewer than all: compressed storage with its scales packed
    alongside (weight-only int4/int8), not a flattened copy of the matrix.
    """
    if not name.endswith("weight") or len(have) != 1 or len(want) != 2:
        return False
    whole = want[0] * want[1]
    return whole // 8 < have[0] < whole


MLX_BITS = (2, 3, 4, 5, 6, 8)
"""Bits per value MLX quantizes to; a row of ``n`` values packs into ``n * bits / 32`` words."""


def _mlx_bits(
    ctx: Context, have: tuple[int, ...], want: tuple[int, ...]
) -> tuple[int, int, int] | None:
    """An MLX text's two shapes as one weight packed otherwise: ``(row, have bits, want bits)``.

    MLX quantizes along the last axis into 32-bit words, and its community checkpoints are
    mostly quantized: ``[3072, 256]`` is ``[3072, 2048]`` at 4 bits (``(2048, 4, 32)``),
    and ``(20, 512, 36)`` against ``(20, 512, 24)`` is one 192-value row at 6 bits and at 4
    (``(192, 6, 4)``). 32 bits is a row stored whole. Two known model widths (768 against
    1024) are two models' rows, never one row at 3 bits and at 4.
    """
    facts = text_facts(ctx)
    if facts is None or not facts.mlx or len(have) < 2 or have[:-1] != want[:-1]:
        return None
    if have[-1] == want[-1]:
        return None
    model_widths = knowledge.width_labels(have[-1]) and knowledge.width_labels(want[-1])
    wanted = _mlx_rows(want[-1])
    for row, bits in sorted(_mlx_rows(have[-1]).items()):
        both_packed = 32 not in (bits, wanted.get(row))
        if row in wanted and not (model_widths and both_packed):
            return row, bits, wanted[row]
    return None


GROUP_LEAVES = frozenset({"scales", "biases"})
"""Per-group side tensors (MLX's, GPTQ's ``scales``): their last axis counts groups, so
another size there is another group size, never packing at other bits."""


def _groups(have: tuple[int, ...], want: tuple[int, ...]) -> tuple[int, int] | None:
    """Groups per row on each side of a scales tensor differing in its last axis only."""
    if len(have) != 2 or len(want) != 2 or have[0] != want[0] or have[1] == want[1]:
        return None
    return have[1], want[1]


def _mlx_rows(width: int) -> dict[int, int]:
    """The row lengths a last axis of ``width`` stores, each with its bits (32: unpacked)."""
    rows = {width * 32 // bits: bits for bits in MLX_BITS if width * 32 % bits == 0}
    return {**rows, width: 32}


def _quant_words(ctx: Context) -> bool:
    facts = text_facts(ctx)
    return bool(facts is not None and facts.quantization)


LORA_FAMILY = frozenset({"lora", "loras", "lycoris", "locon", "loha", "lokr", "dora"})
"""Words of LoRA-family files; "adapter" and "peft" name other adapters and the library too."""


FORMAT_ONLY_WORDS = frozenset({"fp8", "gguf", "ggml"})
"""Words that name a file's format or precision, never a quantizer at odds with a model:
every GGUF file is stored quantized, whatever went wrong with it."""


def topic_words(ctx: Context) -> None:
    """Report a loading error no rule explained whose text is about one topic's files.

    Quantized weights (``bnb``, ``gptq``, ``Params4bit`` …: ``quantization``) first, then
    LoRA adapters (``lora``, ``lycoris`` …: ``lora_mismatch``, an adapter made for another
    base). A fallback of low confidence: the words say what the files are, not what differs.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    quantized = [w for w in facts.quantization if w not in FORMAT_ONLY_WORDS]
    if quantized:
        ctx.add(
            Finding(
                category="quantization",
                severity="error",
                message=(
                    "the loading error is about quantized weights ("
                    + ", ".join(quantized[:5])
                    + "): the checkpoint and the model (or loader) expect different storage"
                ),
                evidence={"quantization_words": quantized},
                confidence=0.5,
                fix_note=(
                    "load with the quantizer and version that wrote the weights (its "
                    "quantization_config), or use the unquantized weights"
                ),
            )
        )
    elif lora := [w for w in facts.lora if w in LORA_FAMILY]:
        ctx.add(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    "the loading error is about a LoRA adapter ("
                    + ", ".join(lora[:5])
                    + "): most often one made for another base model (SD 1.x, SDXL, Flux …) "
                    "or a format this loader version does not read"
                ),
                evidence={"lora_words": lora},
                confidence=0.45,
                fix_note=(
                    "use the adapter with the base it was trained on (its metadata names it), "
                    "or compare them: weightfit check LORA_FILE --against BASE_MODEL"
                ),
            )
        )


GGML_F16_FIELD = re.compile(r"\b\w+_model_load:\s*f16\s*=\s*(\d+)\b")
"""A ggml example loader printing its header's file type under the field's first name,
``f16`` (whisper.cpp's ``whisper_model_load: f16 = 8``)."""
PRE_FTYPE_TYPES = 4
"""The highest ggml file type a loader that still named the field ``f16`` may read: 0 f32,
1 f16, and llama.cpp's first quantized types (2 q4_0, 3 q4_1, 4 q4_1 with some f16). The
types after them (q8_0, q5_0, q5_1 …) came with the field's rename to ``ftype``."""


def ggml_old_ftype(ctx: Context) -> None:
    """Report a quantized ggml file read by a loader from before its quantized type.

    ggml's example loaders (whisper.cpp, GPT-2, GPT-J) stored whether weights were half
    precision in a header field ``f16``; when quantized types arrived the field became
    ``ftype``. A loader that prints ``f16 = 8`` is that older code reading a file of a
    quantized type it has no kernels for, and it fails on the file's tensors.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    field = GGML_F16_FIELD.search(facts.text)
    if field is None or int(field.group(1)) <= PRE_FTYPE_TYPES:
        return
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"the loader reads the file type as 'f16 = {field.group(1)}': a ggml loader "
                "from before quantized files (it still names the field f16, a flag), given a "
                "file of a quantized type it cannot read"
            ),
            evidence={"f16": int(field.group(1))},
            confidence=0.45,
            fix_note=(
                "update the runtime (whisper.cpp, the bindings' bundled copy) to a release "
                "that reads quantized files, or use the f16 model"
            ),
        )
    )
