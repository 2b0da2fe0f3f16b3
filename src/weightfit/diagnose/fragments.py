"""Rules for what a pasted text says beside its tensors, and for unrelated pairs.

- ``unrelated`` (text): transformers' ``You are using a model of type A to
  instantiate a model of type B`` with A and B different architectures;
- ``unrelated`` (files): the checkpoint and the target share almost nothing —
  few module names, few shapes — so a prefix, renames or a partitioned save
  would be invented: "these look like different models";
- ``unknown`` (text only): the text holds a loading error that no rule
  explained; the finding carries everything read and the command that settles it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Category, Finding
from weightfit.plan import Op
from weightfit.tree import stack_of

TEXT_FACTS = "text"
"""Key of the ``text`` profile's facts holding the whole text's
:class:`~weightfit.explain.extract.Facts`; ``facts["first"]`` is true in the one
diagnosis (of several sections) where facts of the whole text make findings."""

ADAPTER_NAME = re.compile(r"lora_|\.lora\.|hada_|lokr_|\.adapter|lora_down|lora_up")
"""Names only adapter files hold."""

MIN_TENSORS = 4
"""Fewest tensors on each side for the files to be judged unrelated."""

MAX_SHARED_MODULES = 0.2
"""Largest share of module paths (last two words, indices dropped) in common for two files
to be unrelated."""

MAX_SHARED_SHAPES = 0.5
"""Largest share of shapes (of the larger side, with repeats) in common for two files to be
unrelated: two models of one width share many shapes, but not half of the larger one's."""

MIN_PAIRED = 0.5
"""Share of the smaller side the alignment paired (by names or by structure) from which two
files are the same model under another naming, never unrelated."""


def text_facts(ctx: Context) -> Any:
    """The :class:`~weightfit.explain.extract.Facts` of the text under diagnosis, or ``None``."""
    return ctx.facts.get(TEXT_FACTS) if ctx.partial else None


def whole_text_facts(ctx: Context) -> Any:
    """The text's facts, in the one diagnosis that reports what the whole text says."""
    if not ctx.facts.get("first", True) or ctx.facts.get("messages"):
        return None  # another diagnosis reports them, or a message's own rules explain it
    return text_facts(ctx)


def model_types(ctx: Context) -> None:
    """Report a checkpoint of one transformers model type loaded into another."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.model_types:
        return
    have, want = facts.model_types
    if _family(have) == _family(want):
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"these look like different models: the checkpoint is a '{have}' model, "
                f"the class instantiated is a '{want}' model"
            ),
            params=[*unexpected, *missing],
            evidence={"checkpoint_model_type": have, "model_model_type": want},
            confidence=0.75,
            fix_note=(
                f"load the checkpoint with the class of its own type ('{have}', "
                "AutoModel picks it from config.json), or pick a checkpoint made for "
                f"'{want}'"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


def _family(model_type: str) -> str:
    """Fold a model type's case and separators (``qwen2_vl`` and ``qwen2`` stay apart)."""
    return re.sub(r"[^a-z0-9]", "", model_type.lower())


def unrelated(ctx: Context) -> None:
    """Report two files that share almost no module names and shapes: different models."""
    if ctx.partial or ctx.findings:
        return  # a rule before this one (a known converter) already tied the files together
    source, target = ctx.source.tensors, ctx.target.tensors
    if len(source) < MIN_TENSORS or len(target) < MIN_TENSORS:
        return
    if any(ADAPTER_NAME.search(name) for name in source):
        return  # an adapter holds only its own tensors: the adapter rules read it
    if ctx.source.format == "gguf":
        return  # llama.cpp names every tensor its own way (blk.0.attn_q): no evidence
    if len(ctx.alignment.pairs) >= MIN_PAIRED * min(len(source), len(target)):
        return  # most tensors found a counterpart (by name or structure): the same model
    have, want = _modules(source), _modules(target)
    shared = len(have & want) / max(min(len(have), len(want)), 1)
    shapes = _shared_shapes([s.shape for s in source.values()], [s.shape for s in target.values()])
    if shared > MAX_SHARED_MODULES or shapes > MAX_SHARED_SHAPES:
        return
    pairs = ctx.pairs()
    message = (
        f"these look like different models: {_describe(ctx, 'source')} vs "
        f"{_describe(ctx, 'target')} — {shared:.0%} of module names and {shapes:.0%} of "
        "shapes in common"
    )
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=message,
            params=sorted(source),
            evidence={
                "shared_module_names": round(shared, 3),
                "shared_shapes": round(shapes, 3),
                "checkpoint_tensors": len(source),
                "model_tensors": len(target),
                "checkpoint_modules": sorted(have)[:12],
                "model_modules": sorted(want)[:12],
            },
            confidence=0.9 if shared == 0 and shapes < 0.3 else 0.8,
            fix_note=(
                "no renaming or reshaping makes one model's weights another's: check that "
                "the file is the one meant for this model (architecture, task, repository)"
            ),
        )
    )
    ctx.consume(pairs=pairs, missing=ctx.missing(), unexpected=ctx.unexpected())


def _modules(names: Any) -> set[str]:
    """The module paths of a checkpoint's names: last two words, indices dropped."""
    found = set()
    for name in names:
        parts = [p for p in name.split(".")[:-1] if not p.isdigit()]
        found.add(".".join(parts[-2:]))
    return found


def _shared_shapes(have: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> float:
    """The share of the larger side's shapes (with repeats) the other side also has."""
    a, b = Counter(have), Counter(want)
    common = sum((a & b).values())
    return common / max(len(have), len(want), 1)


def _describe(ctx: Context, side: str) -> str:
    manifest = ctx.source if side == "source" else ctx.target
    stems = sorted({m.rsplit(".", 1)[-1] for m in _modules(manifest.tensors)} - {""}, key=len)[:3]
    where = manifest.source.rsplit("/", 1)[-1] or manifest.source
    return f"{where} ({len(manifest.tensors)} tensors: {', '.join(stems)} …)"


WRAPPER_SEGMENTS = {
    "module": "DistributedDataParallel / DataParallel",
    "_orig_mod": "torch.compile (OptimizedModule)",
    "_fsdp_wrapped_module": "FSDP",
    "state_dict": "a nested state_dict saved whole",
    "model": "a wrapper or task model that holds the network as .model",
    "backbone": "a detector or task model that holds the network as .backbone",
    "encoder": "a model that holds the network as .encoder",
    "base_model": "PEFT (PeftModel)",
    "net": "a training wrapper that holds the network as .net",
    "student": "a distillation wrapper",
    "teacher": "a distillation wrapper",
}
"""Leading segments that wrappers add to every name, and who adds them."""

BUFFERS = (
    ".running_mean",
    ".running_var",
    ".num_batches_tracked",
    ".position_ids",
    ".inv_freq",
    "_index",
)
"""Buffers whose absence or presence is a version matter, never a prefix."""

FIRST_TENSORS = 3
"""Missing names from this many distinct top modules, layer 0 among them, mean 'all of them'."""


def one_sided_prefix(ctx: Context) -> None:
    """Read a prefix from names of one side alone (a text lists only missing or unexpected).

    Every unexpected name (or every missing one) starting with the same wrapper
    segment (``module.``, ``_orig_mod.``, ``backbone.`` …) is the wrapper's prefix,
    even for a single name. A missing list that starts with the model's very first
    tensors (embedding, layer 0 …) and no unexpected name means nothing matched:
    most often the checkpoint's names carry another prefix.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, side in ((unexpected, "checkpoint"), (missing, "model")):
        other = missing if side == "checkpoint" else unexpected
        heads = {name.split(".", 1)[0] for name in names}
        if not names or len(heads) != 1 or "." not in names[0]:
            continue
        segment = heads.pop()
        if segment not in WRAPPER_SEGMENTS or all(n.endswith(BUFFERS) for n in names):
            continue
        if any("lora_" in n or ".adapter" in n for n in names):
            continue
        stripped = {name.split(".", 1)[1] for name in names}
        if other and not (stripped & set(other)):
            continue
        strong = segment in ("module", "_orig_mod", "_fsdp_wrapped_module", "state_dict")
        if side == "model" and not strong:
            continue  # model names start with model., backbone. ... by themselves
        op_args = (
            {"strip": f"{segment}.", "add": ""}
            if side == "checkpoint"
            else {
                "strip": "",
                "add": f"{segment}.",
            }
        )
        ctx.add(
            Finding(
                category="prefix",
                severity="error",
                message=(
                    f"{side} names carry the prefix '{segment}.' "
                    f"({WRAPPER_SEGMENTS[segment]}) that the other side's lack: "
                    f"{len(names)} name(s) read"
                ),
                params=names,
                evidence={"segment": f"{segment}.", "side": side, "names": names[:8]},
                confidence=0.85 if strong else 0.6,
                fix=[Op("rename", op_args, reason=f"prefix '{segment}.'")],
            )
        )
        ctx.consume(missing=[*names, *other], unexpected=[*names, *other])
        return
    if missing and not unexpected and _first_tensors(missing):
        ctx.add(
            Finding(
                category="prefix",
                severity="error",
                message=(
                    f"the model's first tensors are all missing ({', '.join(missing[:3])} …): "
                    "no name of the checkpoint matched, most often because its names carry "
                    "another prefix (module., _orig_mod., model.) or are nested one level down"
                ),
                params=missing,
                evidence={"missing": len(missing), "first": missing[:8]},
                confidence=0.55,
                fix_note=(
                    "list the checkpoint's names (weightfit inspect CKPT) or run weightfit "
                    "check CKPT --against TARGET: the prefix is found from both sides"
                ),
            )
        )
        ctx.consume(missing=missing)


def _first_tensors(names: list[str]) -> bool:
    """Whether missing names start at the model's beginning.

    An embedding or several top modules, and the first layer of a stack.
    """
    tops = {name.split(".", 1)[0] for name in names}
    stacked = [stack_of(name) for name in names]
    embedded = any("embed" in name.split(".")[-2] for name in names if "." in name)
    return (
        (len(tops) >= 2 or embedded)
        and any(s is not None and s[1] == 0 for s in stacked)
        and (len(names) >= FIRST_TENSORS)
    )


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
    }
)
"""Leaves only quantized checkpoints hold (GPTQ, AWQ, bitsandbytes, compressed-tensors, fp8)."""


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
        quantized = [n for n in names if n.rsplit(".", 1)[-1] in QUANT_LEAVES] or (
            [n for n in names if n.endswith((".zeros", ".scales"))]
            if {"zeros", "scales"} <= leaves
            else []
        )
        if not quantized:
            continue
        scheme = _scheme(leaves)
        other = (
            "model is built for float weights"
            if side == "checkpoint"
            else ("checkpoint holds weights of another packing or none quantized")
        )
        ctx.add(
            Finding(
                category="quantization",
                severity="error",
                message=(
                    f"the {side} holds quantized tensors ({scheme}: "
                    f"{', '.join(sorted({n.rsplit('.', 1)[-1] for n in quantized}))}) "
                    f"and the {other}"
                ),
                params=quantized,
                evidence={"side": side, "scheme": scheme, "names": quantized[:8]},
                confidence=0.8,
                fix_note=(
                    "load it with the quantizer that wrote it (the model's quantization_config "
                    "and its kernels), or use the unquantized original; weights packed by "
                    "another tool version are not interchangeable"
                ),
            )
        )
        ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())
        return


def _scheme(leaves: set[str]) -> str:
    if leaves & {"SCB", "weight_format"}:
        return "bitsandbytes 8-bit"
    if leaves & {"absmax", "quant_map"}:
        return "bitsandbytes 4-bit"
    if leaves & {"weight_packed", "weight_zero_point"}:
        return "compressed-tensors"
    if leaves & {"weight_scale_inv", "input_scale"}:
        return "fp8"
    if "int8_weight" in leaves:
        return "int8 weight-only"
    if "g_idx" in leaves:
        return "GPTQ"
    return "GPTQ / AWQ packed int4"


RUNNING_STATS = (".running_mean", ".running_var", ".num_batches_tracked")
INSTANCE_NORM = re.compile(r"InstanceNorm|track_running_stats")


def running_stats(ctx: Context) -> None:
    """Report InstanceNorm running statistics an old (torch < 0.4) checkpoint still holds."""
    facts = text_facts(ctx)
    names = ctx.unexpected()
    if facts is None or not names or not all(n.endswith(RUNNING_STATS) for n in names):
        return
    if not INSTANCE_NORM.search(facts.text):
        return
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{len(names)} running-statistics buffer(s) of InstanceNorm layers: saved by "
                "PyTorch < 0.4.0, whose InstanceNorm tracked running stats; since 0.4.0 it "
                "does not (track_running_stats=False)"
            ),
            params=names,
            evidence={"library": "torch", "version": "0.4.0", "names": names[:8]},
            confidence=0.9,
            fix=[
                Op("drop", {"name": n}, "running stats InstanceNorm no longer keeps") for n in names
            ],
            fix_note="drop these keys from the state dict (the model computes instance statistics)",
        )
    )
    ctx.consume(unexpected=names)


def fused_names(ctx: Context) -> None:
    """Report a fused tensor missing where its parts are unexpected, or the reverse, by name.

    ``experts.gate_up_proj`` against ``experts.0.gate_proj`` / ``experts.0.up_proj``:
    the fused word joins the parts' first words (``gate_up``, ``qkv``), under the same
    parent once layer and expert indices are dropped.
    """
    if not ctx.partial:
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for fused_side, parts_side in ((missing, unexpected), (unexpected, missing)):
        explained_fused, explained_parts = [], []
        for fused in fused_side:
            parent, word = _parent_and_word(fused)
            parts = [p for p in parts_side if _parent_and_word(p)[0] == parent]
            heads = sorted(
                {h for p in parts if (h := _parent_and_word(p)[1].split("_")[0]) and h in word},
                key=word.find,
            )
            if len(heads) < 2:
                continue
            if "_".join(heads) not in word and "".join(heads) not in word:
                continue
            explained_fused.append(fused)
            explained_parts += [p for p in parts if _parent_and_word(p)[1].split("_")[0] in heads]
        if not explained_fused:
            continue
        fused_in = "model" if fused_side is missing else "checkpoint"
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"the {fused_in} holds fused tensors ({explained_fused[0]}) where the other "
                    f"side holds their parts ({', '.join(sorted(set(explained_parts))[:3])})"
                ),
                params=[*explained_fused, *dict.fromkeys(explained_parts)],
                evidence={"fused": explained_fused[:8], "parts": explained_parts[:8]},
                confidence=0.8,
                fix_note=(
                    "the loader that knows this layout fuses or splits them on load (a "
                    "transformers / vLLM version with the model's conversion mapping); "
                    "weightfit check CKPT --against TARGET plans the concatenation"
                ),
            )
        )
        ctx.consume(
            missing=[*explained_fused, *explained_parts],
            unexpected=[*explained_fused, *explained_parts],
        )
        return


def _parent_and_word(name: str) -> tuple[str, str]:
    """The parent path without indices and the module word of a name (``weight`` leaves off)."""
    parts = [p for p in name.split(".") if not p.isdigit()]
    if len(parts) > 1 and parts[-1] in ("weight", "bias", "qweight", "scales", "qzeros"):
        parts = parts[:-1]
    return ".".join(parts[:-1]), parts[-1] if parts else ""


CONTAINER_KEY = re.compile(
    r"(?:model_?)?state_?dict|model|params?(?:_ema)?|parms|net(?:work)?|module|ema|"
    r"checkpoint|weights|g_ema|generator|student|teacher|ema_model|model_ema"
)
"""Top-level keys under which checkpoints nest their state dict."""


def nested(ctx: Context) -> None:
    """Report a state dict nested one level down, or expected so: a container key.

    ``KeyError: 'params'`` on ``torch.load(path)['params']`` means the file has no such
    key; an unexpected list of a few plain words (``"parms"``, ``"state_dict"``) means
    the file's top level holds containers, not tensors.
    """
    facts = text_facts(ctx)
    if facts is None:
        return
    unexpected = ctx.unexpected()
    words = [n for n in unexpected if CONTAINER_KEY.fullmatch(n)]
    if facts.container_key:
        key, where = facts.container_key, "the loader indexes the checkpoint by"
        names: list[str] = []
    elif (
        words
        and len(unexpected) <= 6
        and all("." not in n for n in unexpected)
        and not ctx.mismatches()
    ):
        # A few plain words (epoch, best_acc, state_dict): a training checkpoint's top level.
        key, where = words[0], "the checkpoint's top level holds"
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


def missing_class(ctx: Context) -> None:
    """Report a pickled checkpoint naming a class the installed library lacks."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.missing_class is None or ctx.findings:
        return
    name, module = facts.missing_class
    what = f"class '{name}' of module '{module}'" if name else f"module '{module}'"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the checkpoint pickles the {what}, which the installed code does not have: "
                "it was saved by another version of the library that defines it"
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


def broadcast_rows(ctx: Context) -> None:
    """Report ``size of tensor a (32000) must match ... b (32001)`` as a vocabulary change."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.broadcast is None or ctx.findings:
        return
    a, b = facts.broadcast
    known = _known.vocab_labels(min(a, b)) or _known.vocab_labels(max(a, b))
    if not known or abs(a - b) > _known.NEAR_VOCAB:
        _broadcast_classes(ctx, a, b)
        return
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"two tensors of {a} and {b} rows meet: {min(a, b)} is a known vocabulary "
                f"({known[0]}), the other has {abs(a - b)} token(s) added"
            ),
            evidence={"sizes": [a, b], "vocabulary": known[:3]},
            confidence=0.65,
            fix_note=(
                f"resize the embeddings to {max(a, b)} rows (resize_token_embeddings) before "
                "merging or loading, or use the tokenizer the weights were made with"
            ),
        )
    )


def _broadcast_classes(ctx: Context, a: int, b: int) -> None:
    """Report two row counts that meet, one a known dataset's class count: another label set."""
    datasets = [d.model for n in (a, b) for d in knowledge.datasets_with_classes(n)]
    if not datasets or max(a, b) > 30_000:
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="error",
            message=(
                f"two tensors of {a} and {b} rows meet: {datasets[0]} has "
                f"{max(a, b) if knowledge.datasets_with_classes(max(a, b)) else min(a, b)} "
                "classes, so a head (or its optimizer state) is sized for another label set"
            ),
            evidence={"sizes": [a, b], "known_class_counts": datasets[:3]},
            confidence=0.55,
            fix_note=(
                "rebuild the head for your classes and do not restore the optimizer state "
                "of the old head (or drop the head from the checkpoint)"
            ),
        )
    )


def singleton_layout(ctx: Context) -> None:
    """Report vectors stored with extra singleton axes: ``(1, 1, 1, 512)`` against ``(512,)``.

    The values are the same; the library that wrote them stored the parameter in
    another layout (flax GroupNorm before 0.3.6, old TensorFlow exports).
    """
    if not ctx.partial:
        return
    pairs = [
        p
        for p in ctx.mismatches()
        if [d for d in ctx.src(p).shape if d != 1] == [d for d in ctx.tgt(p).shape if d != 1]
        and min(len(ctx.src(p).shape), len(ctx.tgt(p).shape)) == 1
    ]
    if not pairs:
        return
    first = pairs[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{first.target} holds the same values in another layout: "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model — the library that saved it "
                "stored this parameter with extra singleton axes"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint": list(ctx.src(first).shape),
                "model": list(ctx.tgt(first).shape),
            },
            confidence=0.65,
            fix=[
                Op("reshape", {"name": p.target, "shape": list(ctx.tgt(p).shape)}, "same values")
                for p in pairs
            ],
            fix_note="use the library version the checkpoint was saved with, or reshape on load",
        )
    )
    ctx.consume(pairs=pairs)


SPATIAL_PROJ = re.compile(r"(^|\.)(proj_in|proj_out)\.weight$")
"""The projections around an LDM UNet's spatial transformer: a 1x1 conv in SD 1.x, a Linear in
SD 2.x and SDXL (``use_linear_in_transformer``)."""


def linear_spatial_proj(ctx: Context) -> None:
    """Report ``proj_in``/``proj_out`` as a Linear on one side and a 1x1 conv on the other.

    Stable Diffusion 1.x builds them as 1x1 convolutions, 2.x and SDXL as Linear layers:
    the checkpoint is of another generation than the config the model was built from.
    """
    if not ctx.partial:
        return
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        pointwise = max(have, want, key=len) == (*min(have, want, key=len), 1, 1)
        if SPATIAL_PROJ.search(pair.target) and pointwise and len(min(have, want, key=len)) == 2:
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    linear_ckpt = len(ctx.src(first).shape) == 2
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
                "checkpoint": list(ctx.src(first).shape),
                "model": list(ctx.tgt(first).shape),
                "checkpoint_generation": checkpoint,
                "model_generation": model,
                "also_acceptable": ["version"],
            },
            confidence=0.7,
            fix=[
                Op("reshape", {"name": p.target, "shape": list(ctx.tgt(p).shape)}, "same values")
                for p in pairs
            ],
            fix_note=(
                "build the model from the config of the checkpoint's generation (SD 2.x / SDXL "
                "config, or a loader that detects it); the same values also load by reshaping "
                "these 1x1 weights, but the rest of the config must match too"
            ),
        )
    )
    ctx.consume(pairs=pairs)


PROMPT_TABLE = re.compile(r"prefix_encoder|prompt_encoder|prompt_embeddings|prompt_tokens")
"""Tables of prompt- or prefix-tuning adapters (PEFT, P-Tuning v2): rows are virtual tokens."""


def prompt_tables(ctx: Context) -> None:
    """Report a prompt / prefix-tuning table built for another number of virtual tokens."""
    if not ctx.partial:
        return
    pairs = [p for p in ctx.mismatches() if PROMPT_TABLE.search(p.target)]
    if not pairs:
        return
    first = pairs[0]
    have, want = ctx.src(first).shape[0], ctx.tgt(first).shape[0]
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"the prompt/prefix-tuning adapter was trained with {have} virtual tokens, "
                f"the model is built for {want}: {first.target}"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_tokens": have, "model_tokens": want},
            confidence=0.7,
            fix_note=(
                f"build the model with the adapter's length (pre_seq_len / "
                f"num_virtual_tokens = {have})"
            ),
        )
    )
    ctx.consume(pairs=pairs)


OUTPUT_HEADS = re.compile(r"(?:^|\.)(?:lm_head|output|embed_out)(?:\.weight)?$")
"""Output projections that models tie to their input embedding."""


def untied_head(ctx: Context) -> None:
    """Report an output head that is the only name missing: usually tied to the embedding.

    A checkpoint of a model with tied embeddings stores one copy (``output.weight`` in
    GGUF, ``lm_head.weight`` in transformers); a loader or model built untied asks for
    the second. A parameter left on the meta device after loading is the same story.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    head = len(missing) == 1 and OUTPUT_HEADS.search(missing[0]) is not None
    stored = not missing and len(unexpected) == 1 and OUTPUT_HEADS.search(unexpected[0]) is not None
    if stored:
        # The checkpoint stores the head a model with tied embeddings does not have.
        missing, head = unexpected, True
    if not head and not (facts.meta_device and not missing and not ctx.mismatches()):
        return
    name = missing[0] if head else facts.meta_device
    ctx.add(
        Finding(
            category="tied_weights",
            severity="error",
            message=(
                f"{name} is not in the checkpoint"
                if head
                else f"{name} received no value when the checkpoint was loaded"
            )
            + ": models with tied embeddings store the output head once, as the input "
            "embedding; this loader or model expects a separate copy",
            params=[name],
            evidence={"name": name},
            confidence=0.6 if head else 0.45,
            fix_note=(
                "build the model with tie_word_embeddings=True (or call tie_weights() after "
                "loading), or use a loader version that ties the head to the embedding"
            ),
        )
    )
    ctx.consume(missing=missing if head else [], unexpected=missing if stored else [])


def unshaped_names(ctx: Context) -> None:
    """Guess a cause from the names of shape mismatches whose shapes the paste lost."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unshaped or ctx.findings:
        return
    name = facts.unshaped[0]
    lower = name.lower()
    role: Category
    if re.search(r"pos|position", lower):
        role, why = "pos_embed_resize", "a position table"
    elif re.search(r"embed|wte|tok|word|vocab", lower):
        role, why = "vocab_resize", "a token embedding"
    elif re.search(r"head|fc|classifier|logit|cls|score|predictor", lower):
        role, why = "num_classes", "a classification head"
    else:
        return
    ctx.add(
        Finding(
            category=role,
            severity="error",
            message=f"{name} differs in shape (the text lost the shapes): by its name, {why}",
            params=facts.unshaped[:20],
            evidence={"names": facts.unshaped[:8]},
            confidence=0.45,
            fix_note="the shapes settle it: weightfit check CKPT --against TARGET",
        )
    )


EMA_NAME = re.compile(r"^(?:ema_|ema\.|model_ema\.|ema_model\.|module_ema\.|shadow\.)")
"""Names of the EMA copy a training hook saves beside the model's weights."""


def ema_copies(ctx: Context) -> None:
    """Report unexpected names that are an EMA copy of the weights (``ema_backbone_...``)."""
    if not ctx.partial:
        return
    names = [n for n in ctx.unexpected() if EMA_NAME.match(n)]
    if not names or len(names) < len(ctx.unexpected()):
        return
    ctx.add(
        Finding(
            category="extra_state",
            severity="error",
            message=(
                f"{len(names)} unexpected name(s) are an EMA copy of the weights "
                f"({names[0]} …), saved by a training hook beside the model"
            ),
            params=names,
            evidence={"names": names[:8]},
            confidence=0.75,
            fix=[Op("drop", {"name": n}, "extra_state: EMA copy") for n in names],
            fix_note=(
                "drop them, or load the EMA weights on purpose (they are often the better "
                "ones): the training framework's EMA hook knows how to resume them"
            ),
        )
    )
    ctx.consume(unexpected=names)


def known_renames(ctx: Context) -> None:
    """Report names a known library change renamed (``LayerNorm.gamma`` → ``.weight``)."""
    if not ctx.partial:
        return
    facts = text_facts(ctx)
    names = [*ctx.unexpected(), *ctx.missing()]
    if facts is not None:
        names += [n for n in facts.key_errors if n not in names]
    hits = [(n, c) for n in names for c in knowledge.changes_for(n) if c.kind == "rename"]
    if not hits:
        return
    change = hits[0][1]
    found = [n for n, c in hits if c is change]
    # The new spelling of each, where the text lists it on the other side.
    found += [new for n in found if (new := change.renamed(n)) and new in names]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{found[0]} is spelled as before a known change ({change.library} "
                f"{change.version}: {change.description})"
            ),
            params=found,
            evidence={"known_change": change.source, "names": found[:8]},
            confidence=0.7,
            fix_note=(
                "rename with the library's own conversion (a version that knows both "
                "spellings), or weightfit fix CKPT --against TARGET"
            ),
        )
    )
    ctx.consume(unexpected=found, missing=found)


def unlisted(ctx: Context) -> None:
    """Report keys a message counts or announces without listing them."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unlisted or ctx.findings or ctx.missing() or ctx.unexpected():
        return
    missing, unexpected = facts.unlisted.get("missing", 0), facts.unlisted.get("unexpected", 0)
    side: Category = "missing" if missing >= unexpected else "unexpected"
    counted = f"{missing} missing and {unexpected} unexpected keys" if unexpected else ""
    ctx.add(
        Finding(
            category=side,
            severity="error",
            message=(
                f"the message counts {counted} without naming them"
                if counted
                else "the model has weights the checkpoint does not (the message names no "
                "list): usually a new task head that training will fill"
            ),
            evidence={"missing": missing, "unexpected": unexpected},
            confidence=0.5,
            fix_note=(
                "expected when fine-tuning a new head or new modules on a pretrained base; "
                "otherwise list them: weightfit check CKPT --against TARGET"
            ),
        )
    )


def empty_tensors(ctx: Context) -> None:
    """Report checkpoint tensors of size 0: parameters ZeRO-3 partitioned and never gathered."""
    if not ctx.partial:
        return
    pairs = [p for p in ctx.mismatches() if ctx.src(p).numel == 0 and ctx.tgt(p).numel > 0]
    if not pairs:
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{len(pairs)} checkpoint tensor(s) are empty ({pairs[0].source} has shape "
                f"{shape_text(ctx.src(pairs[0]).shape)}): saved from DeepSpeed ZeRO-3 (or FSDP) "
                "without gathering the partitioned parameters"
            ),
            params=[p.source for p in pairs],
            evidence={"empty": [p.source for p in pairs[:8]], "count": len(pairs)},
            confidence=0.85,
            fix_note=(
                "save with the parameters gathered (deepspeed zero_to_fp32.py, "
                "accelerator.get_state_dict(model), or stage3_gather_16bit_weights_on_model_save)"
            ),
        )
    )
    ctx.consume(pairs=pairs)


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


ANCHORS = (3, 9)
"""Anchors per location of common detectors (YOLO: 3, RetinaNet / EfficientDet: 9)."""
PER_ANCHOR = (5, 4, 0)
"""Values per anchor beside the class scores: box + objectness (YOLO), box, none."""


def detection_rows(ctx: Context) -> None:
    """Report detector outputs of ``anchors × (classes + k)`` rows: another class count.

    YOLOv5's ``model.24.m.0`` has 255 = 3 × (80 + 5) rows for COCO; a model built for
    one class has 18. The rows name no head, their arithmetic does.
    """
    if not ctx.partial:
        return
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or have[1:] != want[1:] or have[0] == want[0]:
            continue
        if re.search(r"rpn|anchor|objectness", pair.target, re.I):
            continue  # a proposal network scores anchors, not classes
        split = _anchor_split(have[0], want[0])
        if split is None:
            continue
        anchors, extra, classes = split
        pairs = [
            p
            for p in ctx.mismatches()
            if ctx.src(p).shape[0] == have[0] and ctx.tgt(p).shape[0] == want[0]
        ]
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=(
                    f"detection outputs of {have[0]} rows in the checkpoint, {want[0]} in the "
                    f"model: {anchors} anchors × ({classes[0]} classes + {extra}) against "
                    f"{anchors} × ({classes[1]} + {extra}), a head for another class count"
                ),
                params=[p.source for p in pairs],
                evidence={
                    "anchors": anchors,
                    "per_anchor_extra": extra,
                    "checkpoint_classes": classes[0],
                    "model_classes": classes[1],
                },
                confidence=0.75,
                fix=[
                    Op("reinit", {"name": p.target}, "num_classes: detection head") for p in pairs
                ],
                fix_note=(
                    "the backbone loads as is: load with strict=False (or the framework's "
                    "transfer option) and train the detection head for your classes"
                ),
            )
        )
        ctx.consume(pairs=pairs)
        return


def _stft_bins(rows: int) -> int | None:
    """Return the FFT size whose one-sided spectrum has ``rows`` bins (``n_fft / 2 + 1``)."""
    half = rows - 1
    return 2 * half if half >= 64 and half & (half - 1) == 0 else None


def spectrogram_bins(ctx: Context) -> None:
    """Report layers sized for another STFT: ``n_fft / 2 + 1`` frequency bins on each side.

    513 against 1025 rows is a spectrogram of n_fft 1024 against 2048 (Tacotron's linear
    decoder, vocoders): the audio hyperparameters differ, not a class count or vocabulary.
    """
    if not ctx.partial:
        return
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b]
        if len(have) != len(want) or len(axes) != 1:
            continue
        if _stft_bins(have[axes[0]]) and _stft_bins(want[axes[0]]):
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    have, want = ctx.src(first).shape, ctx.tgt(first).shape
    axis = next(i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b)
    ffts = (_stft_bins(have[axis]), _stft_bins(want[axis]))
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"{first.target} has {have[axis]} rows in the checkpoint, {want[axis]} in the "
                f"model: the frequency bins of a spectrogram with n_fft {ffts[0]} against "
                f"{ffts[1]} (n_fft / 2 + 1); the model was built with other audio settings"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_n_fft": ffts[0], "model_n_fft": ffts[1]},
            confidence=0.7,
            fix_note=(
                f"build the model with the audio hyperparameters it was trained with "
                f"(n_fft = {ffts[0]}, and the hop/window that go with it)"
            ),
        )
    )
    ctx.consume(pairs=pairs)


BOX_REGRESSION = re.compile(r"reg|bbox|box", re.IGNORECASE)
"""Names of a dense detector's box-regression convolution (4 rows per anchor)."""


def anchor_count(ctx: Context) -> None:
    """Report dense detection heads built for another number of anchors per location.

    A dense head's box-regression conv has 4 rows per anchor and its classification conv
    ``anchors × classes``; when both change by the same factor and the classes per anchor
    agree, the anchors differ (the detector's config), not the class count. Only 4-D convs
    count: a two-stage detector's Linear box head has 4 rows per class, not per anchor.
    """
    if not ctx.partial:
        return
    convs = [
        p
        for p in ctx.mismatches()
        if len(ctx.src(p).shape) == len(ctx.tgt(p).shape) == 4
        and ctx.src(p).shape[1:] == ctx.tgt(p).shape[1:]
    ]
    for reg in convs:
        have, want = ctx.src(reg).shape[0], ctx.tgt(reg).shape[0]
        if not BOX_REGRESSION.search(reg.target.rsplit(".", 1)[0]) or have % 4 or want % 4:
            continue
        anchors = (have // 4, want // 4)
        if max(anchors) > max(ANCHORS):
            continue
        for cls in convs:
            rows = (ctx.src(cls).shape[0], ctx.tgt(cls).shape[0])
            if cls is reg or rows[0] % anchors[0] or rows[1] % anchors[1]:
                continue
            classes = rows[0] // anchors[0]
            if classes != rows[1] // anchors[1]:
                continue
            _report_anchors(ctx, reg, cls, anchors, classes)
            return


def _report_anchors(
    ctx: Context, reg: Pair, cls: Pair, anchors: tuple[int, int], classes: int
) -> None:
    heads = {reg.target.rsplit(".", 1)[0], cls.target.rsplit(".", 1)[0]}
    pairs = [p for p in ctx.mismatches() if p.target.rsplit(".", 1)[0] in heads]
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the detection head is built for {anchors[1]} anchors per location, the "
                f"checkpoint has {anchors[0]}: {reg.target} {ctx.src(reg).shape[0]} → "
                f"{ctx.tgt(reg).shape[0]} rows (4 per anchor), {cls.target} "
                f"{ctx.src(cls).shape[0]} → {ctx.tgt(cls).shape[0]} ({classes} class(es) per "
                f"anchor on both sides): another detector configuration, not another class count"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_anchors": anchors[0],
                "model_anchors": anchors[1],
                "classes_per_anchor": classes,
            },
            confidence=0.7,
            fix_note=(
                "build the model with the checkpoint's anchor settings (scales, ratios, "
                "octave_base_scale ...) or the config it was trained with"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _anchor_split(have: int, want: int) -> tuple[int, int, tuple[int, int]] | None:
    """Split two row counts as anchors × (classes + extra), if one side's classes are known.

    Returns ``(anchors, extra, (classes, classes))``, or ``None``.
    """
    for anchors in ANCHORS:
        for extra in PER_ANCHOR:
            if have % anchors or want % anchors:
                continue
            a, b = have // anchors - extra, want // anchors - extra
            if a < 1 or b < 1:
                continue
            known = knowledge.datasets_with_classes(a) or knowledge.datasets_with_classes(b)
            if known and max(a, b) >= 20:
                return anchors, extra, (a, b)
    return None


def image_channels(ctx: Context) -> None:
    """Report a first convolution built for another number of image channels (1, 3, 4)."""
    if not ctx.partial:
        return
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != 4 or len(want) != 4 or have[0] != want[0] or have[2:] != want[2:]:
            continue
        if have[1] == want[1] or {have[1], want[1]} - {1, 3, 4} or have[2] < 3:
            continue
        ctx.add(
            Finding(
                category="latent_channels",
                severity="error",
                message=(
                    f"the first convolution takes {have[1]}-channel images in the checkpoint, "
                    f"{want[1]} in the model ({pair.target}): grayscale, RGB or RGBA input"
                ),
                params=[pair.source],
                evidence={"checkpoint_channels": have[1], "model_channels": want[1]},
                confidence=0.65,
                fix_note=(
                    f"feed {have[1]}-channel images (convert them), or adapt the kernel: sum "
                    "its RGB weights for grayscale, or build the model for the checkpoint's input"
                ),
            )
        )
        ctx.consume(pairs=[pair])
        return


PACKING = (2, 4, 8)
"""How many values quantized storage packs per element: 4-bit in a byte (2), 2-bit or
int8 in int32 (4), 4-bit in int32 (8)."""


def packed_shapes(ctx: Context) -> None:
    """Report tensors stored packed: a fraction of the model's elements, or quantized names.

    bitsandbytes 4-bit stores ``[n/2, 1]`` bytes for an ``n``-element weight; GPTQ and
    AWQ store ``qweight`` with 8 values in each int32, along one axis or the other.
    """
    if not ctx.partial:
        return
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair), ctx.tgt(pair)
        named = pair.target.rsplit(".", 1)[-1] in QUANT_LEAVES
        ratios = [k for k in PACKING if have.numel and have.numel * k == want.numel]
        flat = bool(ratios) and have.shape == (have.numel, 1) and len(want.shape) == 2
        matrix = bool(ratios) and len(have.shape) == len(want.shape) == 2 and _quant_words(ctx)
        if named or flat or matrix or _byte_buffer(pair.target, have.shape, want.shape):
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    ratio = ctx.tgt(first).numel / max(ctx.src(first).numel, 1)
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"{first.target} is stored packed in the checkpoint "
                f"({shape_text(ctx.src(first).shape)} for the model's "
                f"{shape_text(ctx.tgt(first).shape)}, {ratio:.3g} values per element): "
                "quantized weights loaded into a model built for another storage"
            ),
            params=[p.source for p in pairs],
            evidence={"packing": ratio, "count": len(pairs)},
            confidence=0.75,
            fix_note=(
                "build the model with the checkpoint's quantization_config (bitsandbytes, "
                "GPTQ, AWQ …) so it expects the packed layout, or use the unquantized weights"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _byte_buffer(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a matrix weight is stored as one flat buffer of fewer elements.

    More than 1/8 of them and fewer than all: compressed storage with its scales packed
    alongside (weight-only int4/int8), not a flattened copy of the matrix.
    """
    if not name.endswith("weight") or len(have) != 1 or len(want) != 2:
        return False
    whole = want[0] * want[1]
    return whole // 8 < have[0] < whole


def _quant_words(ctx: Context) -> bool:
    facts = text_facts(ctx)
    return bool(facts is not None and facts.quantization)


def quantization_words(ctx: Context) -> None:
    """Report a loading error whose text is about quantized weights and nothing else."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not facts.quantization:
        return
    words = [w for w in facts.quantization if w not in ("fp8",)]
    if not words:
        return
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                "the loading error is about quantized weights ("
                + ", ".join(words[:5])
                + "): the checkpoint and the model (or loader) expect different storage"
            ),
            evidence={"quantization_words": words},
            confidence=0.5,
            fix_note=(
                "load with the quantizer and version that wrote the weights (its "
                "quantization_config), or use the unquantized weights"
            ),
        )
    )


SHARD_FILE = re.compile(
    r"-\d{5}-of-\d{5}\.|\.index\.json|zero_to_fp32|mp_rank_\d+|zero_pp_rank|"
    r"global_step\d+|__\d+_\d+\.distcp|optim_states|consolidated\.\d+\.pth|"
    r"SHARDED_STATE_DICT|ShardedTensor|\bweight_map\b|\bzero_?3\b|stage\s*3\b|"
    r"\bshards?\b|\bincomplete\b",
    re.I,
)
"""Files of a sharded or distributed save (shards, indexes, DeepSpeed / DCP pieces)."""
VARIANT_FILE = re.compile(
    r"[\w\-]+\.(?:fp16|bf16|fp32|non_ema|ema)\.(?:safetensors|bin)|"
    r"\bvariant\s*[=:]\s*['\"]?(?:fp16|bf16|fp32)\b|\b(?:fp16|bf16)\s+variant\b|"
    r"revision\s*=\s*['\"]fp16['\"]",
    re.I,
)
"""A weight file labelled with a precision (or EMA) variant."""


def files_named(ctx: Context) -> None:
    """Report a loading error about the files of a sharded save, or of a precision variant."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    variant = VARIANT_FILE.search(facts.text)
    shards = SHARD_FILE.search(facts.text)
    found = variant or shards
    if found is None:
        return
    if variant is not None:
        category: Category = "dtype_variant"
        message = (
            f"the error is about the precision-variant file {variant.group(0)}: the folder "
            "holds another variant (or none), or a loader version reads variants differently"
        )
        note = "pass the variant the folder has (variant=...), or weightfit lint MODEL_FOLDER"
    else:
        assert shards is not None
        category = "partitioned"
        message = (
            f"the error is about the pieces of a sharded or distributed save "
            f"({shards.group(0)}): a shard missing, an index naming other files, or "
            "partitions never consolidated"
        )
        note = "check every shard the index names is present, or consolidate the save first"
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=message,
            evidence={"file": found.group(0)},
            confidence=0.5,
            fix_note=note,
        )
    )


def layer_counts(ctx: Context) -> None:
    """Report a weight file of another number of layers (Keras): another depth."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.layer_counts is None or ctx.findings:
        return
    have, want = facts.layer_counts
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the weight file holds {have} layers, the model has {want}: another depth or "
                "architecture than the one the weights were saved from"
            ),
            evidence={"checkpoint_layers": have, "model_layers": want},
            confidence=0.55,
            fix_note="build the model the weights were saved from (same depth and options)",
        )
    )


def broken_file(ctx: Context) -> None:
    """Report a checkpoint file that is not whole (an LFS pointer, an HTML page, a cut file)."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.broken_file or ctx.findings:
        return
    said = facts.broken_file
    pointer = "'v'" in said
    page = "'<'" in said
    cause = (
        "a Git LFS pointer file (the weights were never downloaded: git lfs pull)"
        if pointer
        else "an HTML page saved under the checkpoint's name (a login or error page)"
        if page
        else "an interrupted download or copy: the file ends early"
    )
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=f"the checkpoint file is not whole ({said}): {cause}",
            evidence={"error": said, "likely_cause": cause},
            confidence=0.75 if (pointer or page) else 0.65,
            fix_note="download the file again and compare its size with the source's",
        )
    )


LORA_KEY = re.compile(r"(?:^|[._])lora(?:[._]|$)|lora_|\.alpha$|hada_|lokr_|\.dora_scale$")
"""Names of LoRA-family files (kohya, PEFT, LyCORIS)."""


def unloaded_lora_keys(ctx: Context) -> None:
    """Report LoRA keys no module took: a LoRA made for another base model or naming."""
    if not ctx.partial:
        return
    names = ctx.unexpected()
    lora = [n for n in names if LORA_KEY.search(n)]
    if not lora or len(lora) < len(names):
        return
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"{len(lora)} LoRA key(s) match no module of the model ({lora[0]} …): a LoRA "
                "made for another base model (SD 1.x vs SDXL vs Flux …), or a key naming "
                "this loader version does not know"
            ),
            params=lora,
            evidence={"names": lora[:8]},
            confidence=0.7,
            fix_note=(
                "use the LoRA with the base it was trained on (its metadata names it: "
                "ss_base_model_version / base_model_name_or_path), or update the loader"
            ),
        )
    )
    ctx.consume(unexpected=lora)


def unknown(ctx: Context) -> None:
    """Report a loading error in a text that no rule explained, with all that was read."""
    facts = text_facts(ctx)
    if facts is None or ctx.findings:
        return
    source, target = ctx.source.tensors, ctx.target.tensors
    shapes = {
        name: {
            "checkpoint": shape_text(source[name].shape) if name in source else None,
            "model": shape_text(target[name].shape) if name in target else None,
        }
        for name in list(dict.fromkeys([*source, *target]))[:20]
    }
    numbers = sorted(
        {d for spec in (*source.values(), *target.values()) for d in spec.shape if d > 1}
    )
    candidates = {
        str(n): labels
        for n in numbers[:12]
        if (labels := (_known.width_labels(n) + _known.vocab_labels(n))[:3])
    }
    checkpoint = next(iter(facts.files), "CKPT")
    ctx.add(
        Finding(
            category="unknown",
            severity="error",
            message=(
                "the text holds a loading error no rule explains"
                + (f" ({len(shapes)} tensor(s) named)" if shapes else " (no tensor named)")
            ),
            params=list(shapes),
            evidence={"tensors": shapes, "numbers_match": candidates, **facts.to_dict()},
            confidence=0.2,
            fix_note=(
                f"settle it with the files at hand: weightfit check {checkpoint} --against "
                "TARGET (the model's config.json, folder or a factory pkg.module:Callable)"
            ),
        )
    )
