"""WF4xx: ``config.json`` against the shapes and dtypes the weight headers declare."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from weightfit.lint.context import Context, Folder
from weightfit.lint.registry import Violation, implements
from weightfit.lint.rules_weightsets import LABEL_DTYPES, set_dtypes
from weightfit.manifest import TensorSpec, human_bytes


@dataclass(frozen=True)
class DimRule:
    """A config field and the tensor dimension that must equal it.

    Attributes:
        keys: Config fields holding the value, first present wins.
        pattern: Regular expression a tensor name must match (``re.search``).
        axis: The tensor dimension compared.
        scale: Config fields whose product multiplies the value (``patch_size``
            squared for ``proj_out``), each defaulting to 1.

    """

    keys: tuple[str, ...]
    pattern: str
    axis: int
    scale: tuple[str, ...] = ()


DIM_RULES: tuple[DimRule, ...] = (
    # transformers PretrainedConfig fields (Llama, Gemma, Qwen, GPT-2, BERT, T5 ...).
    DimRule(("vocab_size",), r"(^|\.)(embed_tokens|word_embeddings|wte|shared)\.weight$", 0),
    DimRule(
        ("hidden_size", "d_model", "n_embd"),
        r"(^|\.)(embed_tokens|word_embeddings|wte|shared)\.weight$",
        1,
    ),
    DimRule(("intermediate_size",), r"\.mlp\.(up_proj|gate_proj)\.weight$", 0),
    # Learned position tables: BERT-family ``embeddings.position_embeddings``, GPT-2's ``wpe``.
    DimRule(("max_position_embeddings",), r"(^|\.)embeddings\.position_embeddings\.weight$", 0),
    DimRule(("n_positions", "max_position_embeddings"), r"(^|\.)wpe\.weight$", 0),
    # diffusers ModelMixin configs (UNet2DConditionModel, Sana/PixArt/SD3/Flux transformers, VAEs).
    DimRule(
        ("in_channels",), r"^(conv_in|patch_embed\.proj|pos_embed\.proj|x_embedder)\.weight$", 1
    ),
    DimRule(("out_channels", "in_channels"), r"^conv_out\.weight$", 0),
    DimRule(
        ("out_channels", "in_channels"), r"^proj_out\.weight$", 0, ("patch_size", "patch_size")
    ),
    DimRule(("caption_channels",), r"^caption_projection\.linear_1\.weight$", 1),
    DimRule(("joint_attention_dim",), r"^context_embedder\.weight$", 1),
    DimRule(("cross_attention_dim",), r"\.attn2\.to_k\.weight$", 1),
    DimRule(("latent_channels",), r"^decoder\.conv_in\.weight$", 1),
)
"""Config dimensions checked against weights, with where each shows in a state dict."""

LAYER_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("num_hidden_layers", "n_layer"), r"(?:^|\.)(?:layers|h|layer|block)\.(\d+)\."),
    (("num_layers",), r"^transformer_blocks\.(\d+)\."),
    (("num_single_layers",), r"^single_transformer_blocks\.(\d+)\."),
)
"""Config layer counts and the numbered module each one counts."""


def _int(config: dict[str, Any], key: str) -> int | None:
    value = config.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def primary_tensors(ctx: Context, folder: Folder) -> dict[str, TensorSpec] | None:
    """The tensors a plain ``from_pretrained`` reads: the unlabelled set a loader picks."""
    for r in ctx.resolutions:
        if r.component == folder.rel and r.variant is None and r.error is None and r.loaded:
            found = ctx.set_of(r.loaded[-1])
            if found is not None:
                return ctx.set_tensors(folder, found[1])
    for ws in folder.sets:
        if ws.format == "safetensors" and ws.files and not ws.is_training_state:
            tensors = ctx.set_tensors(folder, ws)
            if tensors:
                return tensors
    return None


def _configured(ctx: Context) -> Iterator[tuple[Folder, dict[str, Any], dict[str, TensorSpec]]]:
    for folder in ctx.folders:
        if folder.config is None or folder.kind == "peft-adapter":
            continue
        tensors = primary_tensors(ctx, folder)
        if tensors:
            yield folder, folder.config, tensors


@implements("WF401")
def config_dimension_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Dimensions in ``config.json`` against the tensors that carry them:
        ``vocab_size`` and ``hidden_size`` against the token embedding,
        ``intermediate_size`` against the MLP, ``max_position_embeddings`` /
        ``n_positions`` against a learned position table, ``in_channels`` /
        ``out_channels`` (times ``patch_size`` squared for ``proj_out``),
        ``caption_channels``, ``joint_attention_dim``, ``cross_attention_dim``
        and a VAE's ``latent_channels`` against the layers that read them.

    Why it matters:
        ``from_pretrained`` builds the model from the config and then fails
        with "size mismatch", or with ``ignore_mismatched_sizes`` silently
        re-initialises the layer.

    Example:
        ``transformer/config.json`` says ``caption_channels: 2304`` but
        ``caption_projection.linear_1.weight`` is ``[2240, 1536]``.

    Fix:
        Correct the config to the weights (or use the weights the config is for).

    Fix safety:
        No automatic fix: which side is wrong is a decision.

    References:
        transformers ``PretrainedConfig``; diffusers ``ConfigMixin`` configs of
        ``SanaTransformer2DModel``, ``FluxTransformer2DModel``, ``UNet2DConditionModel``.

    """
    for folder, config, tensors in _configured(ctx):
        for rule in DIM_RULES:
            key = next((k for k in rule.keys if _int(config, k) is not None), None)
            if key is None:
                continue
            expected = _int(config, key) or 0
            for k in rule.scale:
                expected *= _int(config, k) or 1
            pattern = re.compile(rule.pattern)
            hit = next(
                (s for n, s in tensors.items() if pattern.search(n) and len(s.shape) > rule.axis),
                None,
            )
            if hit is None or hit.shape[rule.axis] == expected:
                continue
            scaled = f" (× {' × '.join(rule.scale)})" if rule.scale else ""
            yield Violation(
                "WF401",
                folder.relpath("config.json"),
                f"{key} {_int(config, key)}{scaled} expects {expected} but {hit.name} "
                f"{list(hit.shape)} has {hit.shape[rule.axis]} on axis {rule.axis}",
                evidence={
                    "key": key,
                    "config": _int(config, key),
                    "expected": expected,
                    "tensor": hit.name,
                    "shape": list(hit.shape),
                },
                fix_note="make config.json and the weights agree",
            )


@implements("WF402")
def config_layer_count_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        The layer count in ``config.json`` (``num_hidden_layers``,
        ``num_layers``, ``num_single_layers``) against the numbered blocks in
        the weights.

    Why it matters:
        Fewer layers in the weights leaves the rest randomly initialised
        (transformers only warns); more are ignored.

    Example:
        ``num_hidden_layers: 32`` but ``model.layers.{0..27}`` in the weights.

    Fix:
        Correct the config, or find the missing shards.

    Fix safety:
        No automatic fix.

    References:
        transformers ``PretrainedConfig.num_hidden_layers``.

    """
    for folder, config, tensors in _configured(ctx):
        for keys, pattern in LAYER_RULES:
            key = next((k for k in keys if _int(config, k) is not None), None)
            if key is None:
                continue
            regex = re.compile(pattern)
            found = {int(m.group(1)) for n in tensors if (m := regex.search(n))}
            if not found or len(found) == _int(config, key):
                continue
            yield Violation(
                "WF402",
                folder.relpath("config.json"),
                f"{key} is {_int(config, key)} but the weights hold {len(found)} numbered blocks "
                f"({min(found)}..{max(found)})",
                evidence={"key": key, "config": _int(config, key), "blocks": len(found)},
                fix_note="make config.json and the weights agree",
            )


_EMBED = re.compile(r"(^|\.)(embed_tokens|word_embeddings|wte)\.weight$")


@implements("WF403")
def tied_weights_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        ``tie_word_embeddings`` in ``config.json`` against what is stored:
        ``false`` with no ``lm_head.weight`` in a model with a language-model
        head, or ``true`` with an ``lm_head.weight`` stored anyway.

    Why it matters:
        Untied and missing: the output layer is randomly initialised and the
        model produces noise (transformers only warns). Tied and stored: the
        stored head is discarded and its bytes wasted, and if it differed from
        the embeddings the trained head is lost.

    Example:
        ``tie_word_embeddings: false`` and only ``model.embed_tokens.weight``.

    Fix:
        Set ``tie_word_embeddings`` to what the model was trained with.

    Fix safety:
        No automatic fix.

    References:
        transformers ``PreTrainedModel.tie_weights`` / ``_tied_weights_keys``.

    """
    for folder, config, tensors in _configured(ctx):
        tie = config.get("tie_word_embeddings")
        if not isinstance(tie, bool):
            continue
        heads = [n for n in tensors if n == "lm_head.weight" or n.endswith(".lm_head.weight")]
        embeds = [n for n in tensors if _EMBED.search(n)]
        architectures = config.get("architectures")
        named = architectures if isinstance(architectures, list) else []
        head_class = next((a for a in named if isinstance(a, str) and "LM" in a), None)
        if not tie and not heads and embeds and head_class:
            yield Violation(
                "WF403",
                folder.relpath("config.json"),
                f"tie_word_embeddings is false but no lm_head.weight is stored: "
                f"{head_class} gets a randomly initialised output layer",
                evidence={"tie_word_embeddings": tie, "embeddings": embeds},
                fix_note="set tie_word_embeddings to true, or store lm_head.weight",
            )
        elif tie and heads and embeds:
            head = tensors[heads[0]]
            yield Violation(
                "WF403",
                folder.relpath("config.json"),
                f"tie_word_embeddings is true but {heads[0]} is stored "
                f"({human_bytes(head.nbytes or 0)}): it is replaced by {embeds[0]} on load",
                evidence={"tie_word_embeddings": tie, "stored_head": heads[0]},
                fix_note="set tie_word_embeddings to false if the head was trained separately",
            )


CONFIG_DTYPES = {"float16": "F16", "bfloat16": "BF16", "float32": "F32"}
"""transformers ``config.json`` ``dtype`` values and the safetensors dtype each names."""


def _dtype_disagreement(
    config: dict[str, Any], tensors: dict[str, TensorSpec]
) -> tuple[str, str, str, float] | None:
    """When a transformers config names a dtype the bulk of the weights is not in.

    Returns:
        The config's dtype, its safetensors name, the dtype of most float bytes
        and their share; ``None`` when they agree or either is unknown.

    """
    declared = config.get("dtype") or config.get("torch_dtype")
    if not isinstance(declared, str) or "model_type" not in config:
        return None
    wanted = CONFIG_DTYPES.get(declared.removeprefix("torch."))
    counts = set_dtypes(tensors)
    if wanted is None or not counts:
        return None
    held, held_bytes = counts.most_common(1)[0]
    if held == wanted:
        return None
    return declared, wanted, held, held_bytes / max(1, sum(counts.values()))


def _variants_holding(folder: Folder, dtype: str) -> list[str]:
    """The folder's variant labels that promise ``dtype``."""
    return [
        ws.variant
        for ws in folder.sets
        if ws.variant and dtype in LABEL_DTYPES.get(ws.variant.lower(), ())
    ]


@implements("WF404")
def config_dtype_from_variant(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        A transformers ``config.json``'s ``dtype`` (``torch_dtype`` before
        transformers 5) against the floating-point dtype of most bytes of the
        weights a plain ``from_pretrained`` reads (the unlabelled set), when a
        variant set beside them holds the config's dtype: the config was
        written by ``save_pretrained(variant=...)`` of the variant.

    Why it matters:
        transformers 5 loads with ``dtype="auto"``, casting the weights to the
        config's dtype. Saving an ``fp16`` variant beside float32 weights
        rewrites ``config.json`` with ``float16``: every later plain load of the
        float32 weights, and a diffusers pipeline's text encoder beside a
        float32 UNet, silently runs in half precision.

    Example:
        ``text_encoder/`` holds ``model.safetensors`` (F32) and
        ``model.fp16.safetensors``; ``config.json`` says ``"dtype": "float16"``.

    Fix:
        Set ``dtype`` in ``config.json`` to the unlabelled weights' dtype, and
        load the variant with ``dtype=torch.float16`` (or save each precision
        in its own folder).

    Fix safety:
        No automatic fix: which precision a plain load should give is yours to say.

    References:
        transformers ``PreTrainedModel.save_pretrained`` (writes ``config.dtype``)
        and ``from_pretrained`` (``dtype="auto"`` by default since v5).

    """
    for folder, config, tensors in _configured(ctx):
        if (found := _dtype_disagreement(config, tensors)) is None:
            continue
        declared, wanted, held, share = found
        variants = _variants_holding(folder, wanted)
        if not variants:
            continue
        yield Violation(
            "WF404",
            folder.relpath("config.json"),
            f"config.json dtype is {declared}, as the {variants[0]} variant beside the weights "
            f"was saved, but {share:.0%} of the float bytes a plain from_pretrained reads are "
            f"{held}: transformers 5 casts them to {declared} on load",
            evidence={"config_dtype": declared, "weights_dtype": held, "variants": variants},
            fix_note=f"set dtype in config.json to the unlabelled weights' dtype ({held})",
        )


@implements("WF405")
def config_dtype_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        A transformers ``config.json``'s ``dtype`` (``torch_dtype`` before
        transformers 5) against the floating-point dtype of most bytes of the
        weights a plain ``from_pretrained`` reads, when no variant set beside
        them explains it (that is WF404) and the model is not quantized. A few
        tensors kept in another precision (float32 norms in a bfloat16 model)
        do not count: only the dtype of the bulk does.

    Why it matters:
        transformers 5 loads with ``dtype="auto"``, casting every weight to the
        config's dtype without a word: float32 weights under ``bfloat16`` lose
        precision, bfloat16 weights under ``float32`` take twice the memory.

    Example:
        ``config.json`` says ``"dtype": "bfloat16"`` but ``model.safetensors``
        holds F32 tensors (the config was edited, or copied from another export).

    Fix:
        Set ``dtype`` in ``config.json`` to the weights' dtype, or convert the
        weights to the dtype the config promises.

    Fix safety:
        No automatic fix: which precision the model should load in is yours to say.

    References:
        transformers ``PreTrainedModel.from_pretrained`` (``dtype="auto"`` by
        default since v5) and ``save_pretrained`` (writes ``config.dtype``).

    """
    for folder, config, tensors in _configured(ctx):
        if config.get("quantization_config") is not None:
            continue
        if (found := _dtype_disagreement(config, tensors)) is None:
            continue
        declared, wanted, held, share = found
        if held not in CONFIG_DTYPES.values() or _variants_holding(folder, wanted):
            continue  # fp8 and other storage dtypes; a variant's config is WF404's
        yield Violation(
            "WF405",
            folder.relpath("config.json"),
            f"config.json dtype is {declared} but {share:.0%} of the float bytes a plain "
            f"from_pretrained reads are {held}: transformers 5 casts them to {declared} on load",
            evidence={"config_dtype": declared, "weights_dtype": held, "share": round(share, 4)},
            fix_note=f"set dtype in config.json to the weights' dtype ({held}), or convert them",
        )


HEAD_TASKS = (
    "ForSequenceClassification",
    "ForImageClassification",
    "ForTokenClassification",
    "ForAudioClassification",
    "ForAudioFrameClassification",
)
"""transformers task class suffixes whose head has one row per label."""

_HEAD = re.compile(
    r"(^|\.)(classifier|score|cls_head|classification_head)(\.out_proj|\.dense|\.\d+)?\.weight$"
)
"""A classification head's linear layers: the layer itself, RoBERTa's and BART's
``dense`` then ``out_proj`` (whose ``out_proj`` gives the labels), AST's ``dense``,
or ResNet's ``Sequential(Flatten, Linear)`` (``classifier.1``)."""


def _label_count(config: dict[str, Any]) -> tuple[str, int]:
    """How many labels transformers builds a head for, and the field that says so.

    A hand-written ``num_labels`` wins over ``id2label`` (``PretrainedConfig``
    rebuilds ``id2label`` from it); with neither, the default is 2.
    """
    if (n := _int(config, "num_labels")) is not None:
        return "num_labels is", n
    labels = config.get("id2label")
    if isinstance(labels, dict):
        return "id2label names", len(labels)
    return "with no id2label, defaults to", 2


@implements("WF406")
def config_label_count_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        The label count of a classification model's ``config.json`` (the
        length of ``id2label``, which ``save_pretrained`` writes instead of
        ``num_labels``; 2, transformers' default, when it is absent) against
        the rows of its classifier (``classifier.weight``, ``score.weight``,
        ``classification_head.out_proj.weight`` ...), for architectures named
        ``*ForSequenceClassification``, ``*ForImageClassification``,
        ``*ForTokenClassification`` or ``*ForAudioClassification``; a
        hand-written ``num_labels`` wins over ``id2label``, as in transformers.
        Multiple choice heads (one row) are not label counts; a regression
        head is, so ``problem_type: regression`` needs a one-label ``id2label``
        (``save_pretrained`` writes one).

    Why it matters:
        ``from_pretrained`` builds the head from the config and fails with a
        size mismatch; with ``ignore_mismatched_sizes=True`` it silently
        re-initialises the head and the model predicts noise.

    Example:
        ``id2label`` names 3 labels but ``classifier.weight`` is ``[5, 768]``:
        the labels file was replaced after fine-tuning on 5 classes.

    Fix:
        Make ``id2label`` / ``label2id`` list one label per classifier row.

    Fix safety:
        No automatic fix: the label names are yours to give.

    References:
        transformers ``PretrainedConfig.num_labels`` / ``id2label`` and the
        ``*ForSequenceClassification`` heads.

    """
    for folder, config, tensors in _configured(ctx):
        architectures = config.get("architectures")
        named = architectures if isinstance(architectures, list) else []
        task = next((a for a in named if isinstance(a, str) and a.endswith(HEAD_TASKS)), None)
        heads = [s for n, s in tensors.items() if _HEAD.search(n) and len(s.shape) == 2]
        heads = [s for s in heads if s.name.endswith("out_proj.weight")] or heads
        if task is None or len(heads) != 1:
            continue
        source, expected = _label_count(config)
        rows = heads[0].shape[0]
        if rows == expected:
            continue
        yield Violation(
            "WF406",
            folder.relpath("config.json"),
            f"{task}'s config.json {source} {expected} labels but {heads[0].name} "
            f"{list(heads[0].shape)} has {rows} rows: from_pretrained fails with a size mismatch",
            evidence={
                "architecture": task,
                "labels": expected,
                "tensor": heads[0].name,
                "rows": rows,
            },
            fix_note="make id2label and label2id list one label per classifier row",
        )
