"""Causes a text's names settle alone.

Old running statistics, EMA copies and LoRA keys, a tied head, the role of a tensor whose
shapes the paste lost, a file that stops before its last layers, buffers alone (a key list
whose label the paste lost, too). Fused names
are in :mod:`~weightfit.diagnose.text_fused`, renames in
:mod:`~weightfit.diagnose.text_renames`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from weightfit.diagnose import _known
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts, whole_text_facts
from weightfit.diagnose.text_prefix import only_buffers
from weightfit.findings import Category, Finding
from weightfit.manifest import counted
from weightfit.plan import Op
from weightfit.tree import stack_of

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


OUTPUT_HEADS = re.compile(r"(?:^|\.)(?:lm_head|output|embed_out)(?:\.weight)?$")
"""Output projections that models tie to their input embedding."""
TOKEN_TABLES = re.compile(r"(?:^|\.)(?:embed_tokens|wte|word_embeddings)(?:\.weight)?$")
"""Input embeddings tied to one shared table (T5's ``encoder.embed_tokens``)."""


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
    # Every copy of a shared token table missing at once (T5's two embed_tokens and lm_head):
    # the file stores the one shared table, the copies tied to it were dropped when saving.
    copies = (
        len(missing) > 1
        and not unexpected
        and any(OUTPUT_HEADS.search(n) for n in missing)
        and all(OUTPUT_HEADS.search(n) or TOKEN_TABLES.search(n) for n in missing)
    )
    stored = not missing and len(unexpected) == 1 and OUTPUT_HEADS.search(unexpected[0]) is not None
    if stored:
        # The checkpoint stores the head a model with tied embeddings does not have.
        missing, head = unexpected, True
    if not (head or copies) and not (facts.meta_device and not missing and not ctx.mismatches()):
        return
    names = missing if copies else [missing[0] if head else facts.meta_device]
    said = (
        f"{', '.join(names)} are not in the checkpoint: copies of one shared token table, "
        "saved once and dropped as duplicates"
        if copies
        else f"{names[0]} is not in the checkpoint"
        if head
        else f"{names[0]} received no value when the checkpoint was loaded"
    )
    ctx.add(
        Finding(
            category="tied_weights",
            severity="error",
            message=said + ": models with tied embeddings store the output head once, as the input "
            "embedding; this loader or model expects a separate copy",
            params=names,
            evidence={"names": names} if copies else {"name": names[0]},
            confidence=0.5 if copies else 0.6 if head else 0.45,
            fix_note=(
                "build the model with tie_word_embeddings=True (or call tie_weights() after "
                "loading), or use a loader version that ties the head to the embedding"
            ),
        )
    )
    ctx.consume(missing=missing if head or copies else [], unexpected=missing if stored else [])


LEARNED_TOKEN = re.compile(r"(?:^|[._])(?:cls|dist|mask|reg|register)_?tokens?(?:$|[._])")
"""A vision transformer's learned tokens (class, distillation, mask, register): no vocabulary."""


def unshaped_names(ctx: Context) -> None:
    """Guess a cause from the names of shape mismatches whose shapes the paste lost."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unshaped or ctx.findings:
        return
    read = [
        (n, found)
        for n in facts.unshaped
        if (found := _unshaped_role(n, facts.model_class)) is not None
    ]
    body = [n for n in facts.unshaped if BODY_TENSOR.fullmatch(n)]
    if not read and body:
        # No role of its own: the same layer at another width, as unexplained shapes are.
        read = [(n, ("wrong_variant", BODY_LAYER)) for n in body]
    if not read:
        return
    (role, why), _ = Counter(found for _, found in read).most_common(1)[0]
    name = next(n for n, found in read if found == (role, why))
    ctx.add(
        Finding(
            category=role,
            severity="error",
            message=f"{name} differs in shape (the text lost the shapes): by its name, {why}",
            params=facts.unshaped[:20],
            evidence={"names": facts.unshaped[:8]},
            confidence=0.3 if why == BODY_LAYER else 0.4 if role == "encoder_swap" else 0.45,
            fix_note="the shapes settle it: weightfit check CKPT --against TARGET",
        )
    )


BODY_TENSOR = re.compile(
    r"[A-Za-z_][\w\-]*(?:\.[\w\-]+)*\.(?:weight|bias|kernel|gamma|beta|running_(?:mean|var)|raw_\w+)"
)
"""A layer's parameter under its module path (GPyTorch's ``raw_lengthscale`` too), not a bare
word, a cut path or a tensor of unknown role."""
BODY_LAYER = (
    "a layer of the network's body, no head or table: the same layer at another width, "
    "a model built with other settings (size, hyperparameters) than the checkpoint's"
)


CONTEXT_READER = re.compile(
    r"(?:^|\.)attn2\.to_[kv]\.|cross_?attn\w*\.(?:to_)?[kv](?:_proj)?\.|encoder_hid_proj\."
    r"|(?:^|\.)add_[kv]_proj\."
)
"""A cross-attention projection that reads the conditioning encoder's features: its input
width is that encoder's (``attn2.to_k``: SD's text context, 768 for CLIP-L, 1024 for OpenCLIP-H)."""
FEEDER_INPUT = re.compile(r"^(?:proj_in|proj)\.weight$")
"""The input projection of a module whose whole job is to project an encoder's features
(IP-Adapter's ``Resampler.proj_in``, ``ImageProjModel.proj``): it reads the encoder's width."""
FEEDER_CLASS = re.compile(r"(?:image|img|vision|clip)_?proj\w*|\w*resampler|\w*perceiver\w*", re.I)
"""Such modules' classes, as a state dict's error names them (``state_dict for Resampler``;
Flamingo's ``PerceiverResampler``)."""
ENCODER_COMPONENT = re.compile(
    r"^(?:lang_encoder|language_model|text_encoder(?:_\d)?|cond_stage_model)\."
)
"""A multimodal model's language or conditioning encoder, the part built from another model."""
GP_HYPERPARAMETER = re.compile(
    r"(?:^|\.)raw_(?:lengthscale|outputscale|noise|period_length|alpha|task_noises)$|"
    r"(?:^|\.)(?:inducing_points|variational_distribution\.\w+)$"
)
"""A Gaussian process's hyperparameters and variational state in GPyTorch's names: their
shapes are set by how the model is built (``ard_num_dims``, ``batch_shape``, the number of
inducing points or tasks), not by anything training changes."""
UNET_PROJECTION = re.compile(
    r"(?:^|\.)(?:input_blocks|output_blocks|middle_block|down_blocks|up_blocks|mid_block)\."
    r"[\w.]*\.proj_(?:in|out)\.weight$"
)
"""A diffusion U-Net's spatial transformer projection: a 1×1 convolution in SD 1.x, a linear
layer in SD 2.x (``use_linear_in_transformer``)."""


def _unshaped_role(name: str, model: str = "") -> tuple[Category, str] | None:
    """The cause a shape-mismatched tensor's name suggests, with the role it names."""
    lower = name.lower()
    if CONTEXT_READER.search(name) or (FEEDER_INPUT.match(name) and FEEDER_CLASS.fullmatch(model)):
        return "encoder_swap", (
            "a layer reading another encoder's features (its input width is that encoder's): "
            "the checkpoint was made for an encoder of another width"
        )
    if ENCODER_COMPONENT.match(name) and not re.search(r"pos|position|embed|vocab", lower):
        return "encoder_swap", (
            "a layer inside the language or conditioning encoder the model is built on: that "
            "encoder is another model, or another size, than the checkpoint's"
        )
    if GP_HYPERPARAMETER.search(name):
        return "wrong_variant", (
            "a Gaussian process's hyperparameter, whose shape how the model is built sets "
            "(ard_num_dims, batch_shape, inducing points): the model is built otherwise than "
            "the saved one"
        )
    if UNET_PROJECTION.search(name):
        return "wrong_variant", (
            "a U-Net spatial transformer's projection (a 1×1 convolution in SD 1.x, a linear "
            "layer in SD 2.x): a file of another Stable Diffusion generation or configuration"
        )
    if re.search(r"pos|position", lower):
        return "pos_embed_resize", "a position table"
    if LEARNED_TOKEN.search(lower):
        return "wrong_variant", "a learned token ([1, n, width]: only the width changes it)"
    if re.search(r"class|label", lower):
        return "num_classes", "a table or head over the classes"
    if re.search(r"(?:^|[._])(?:mbox_)?conf(?:$|[._])", lower):
        return "num_classes", "a detector's class confidences (SSD's mbox_conf: priors × classes)"
    if re.search(r"embed|wte|tok|word|vocab", lower):
        return "vocab_resize", "a token embedding"
    if re.search(r"head|fc|classifier|logit|cls|score|predictor", lower):
        return "num_classes", "a classification head"
    return None


EMA_NAME = re.compile(r"^(?:ema_|ema\.|model_ema\.|ema_model\.|module_ema\.|shadow\.)")
"""Names of the EMA copy a training hook saves beside the model's weights."""


LORA_KEY = re.compile(r"(?:^|[._])lora(?:[._]|$)|lora_|\.alpha$|hada_|lokr_|\.dora_scale$")
"""Names of LoRA-family files (kohya, PEFT, LyCORIS)."""
DIFFUSERS_LORA = re.compile(r"^(?:transformer|unet|text_encoder(?:_2)?)\.[\w.]+\.lora_[AB]\.")
"""LoRA keys in diffusers' naming: a pipeline component, then PEFT's ``lora_A`` / ``lora_B``."""


@dataclass(frozen=True)
class Marker:
    """A name marker that tells where leftover names come from, and what that means."""

    pattern: re.Pattern[str]
    category: Category
    says: str
    confidence: float
    fix_note: str
    drop: bool = False


SINGULAR_VERBS = {"are": "is", "match": "matches"}
"""The singular of the verb a marker's ``says`` opens with, for a single name."""


def _agreeing(says: str, count: int) -> str:
    """``says`` (plural, verb first) with its verb agreeing with ``count`` names."""
    verb, _, rest = says.partition(" ")
    return says if count != 1 else f"{SINGULAR_VERBS.get(verb, verb)} {rest}"


MARKERS = (
    Marker(
        EMA_NAME,
        "extra_state",
        "are an EMA copy of the weights ({first} …), saved by a training hook beside the model",
        0.75,
        "drop them, or load the EMA weights on purpose (they are often the better ones): the "
        "training framework's EMA hook knows how to resume them",
        drop=True,
    ),
    Marker(
        DIFFUSERS_LORA,
        "rename",
        "are in diffusers' naming ({first} …: a pipeline component, then PEFT's lora_A / "
        "lora_B) and the loader mapped none to its own names: a LoRA saved by diffusers "
        "tooling for a model whose diffusers names this loader does not convert",
        0.5,
        "convert the keys to the loader's naming (its LoRA conversion, or strip the "
        "component segment where the loader takes PEFT names), or update the loader",
    ),
    Marker(
        LORA_KEY,
        "lora_mismatch",
        "match no module of the model ({first} …): a LoRA made for another base model (SD 1.x "
        "vs SDXL vs Flux …), or a key naming this loader version does not know",
        0.7,
        "use the LoRA with the base it was trained on (its metadata names it: "
        "ss_base_model_version / base_model_name_or_path), or update the loader",
    ),
)
"""Markers in the order they are tried: an EMA copy of a LoRA is still an EMA copy."""


def marked_leftovers(ctx: Context) -> None:
    """Report unexpected names that all carry one marker of their origin.

    ``ema_backbone_…`` / ``model_ema.…``: the EMA copy a training hook saves beside the
    weights (``extra_state``); ``lora_up`` / ``.alpha`` / ``hada_``: LoRA keys no module
    took, a LoRA made for another base (``lora_mismatch``). One mechanism, the table says
    what each marker means.
    """
    if not ctx.partial:
        return
    names = ctx.unexpected()
    for marker in MARKERS:
        if not names or not all(marker.pattern.search(n) for n in names):
            continue
        what = counted(
            len(names), "LoRA key" if marker.category == "lora_mismatch" else "unexpected name"
        )
        ctx.add(
            Finding(
                category=marker.category,
                severity="error",
                message=f"{what} {_agreeing(marker.says.format(first=names[0]), len(names))}",
                params=names,
                evidence={"names": names[:8]},
                confidence=marker.confidence,
                fix=(
                    [Op("drop", {"name": n}, "extra_state: EMA copy") for n in names]
                    if marker.drop
                    else []
                ),
                fix_note=marker.fix_note,
            )
        )
        ctx.consume(unexpected=names)
        return


FINAL_MODULES = re.compile(
    r"(?:^|\.)(?:norm|ln_f|final_layer_?norm|final_norm|norm_out|layernorm|lm_head|output|"
    r"head|heads|fc|classifier|pooler|decoder)\.",
)
"""Modules a network runs after its layer stacks: the final norm, the output head."""


def truncated_tail(ctx: Context) -> None:
    """Report a checkpoint that stops part-way: the last layers and the final modules missing.

    Missing names that are the layers of one stack from some index ``k >= 1`` on, followed
    (in the model's order, which loaders list them in) by the modules that run after the
    stack, while layers ``0 .. k-1`` loaded: the file ends early. A model of another depth
    would still have its final norm and head; a save that stopped, a download cut short or
    a shard the index does not list lose the tail. A list the paste cut short (``...``)
    does not show that the earlier layers loaded: it may only be the list's end.
    """
    if not ctx.partial or ctx.mismatches() or ctx.unexpected() or ctx.facts.get("truncated"):
        return
    missing = ctx.missing()
    stacked = [(n, s) for n in missing if (s := stack_of(n)) is not None]
    if not stacked or len({s[0] for _, s in stacked}) != 1:
        return
    stack = stacked[0][1][0]
    indices = sorted({s[1] for _, s in stacked})
    if indices[0] < 1 or indices != list(range(indices[0], indices[-1] + 1)):
        return
    last_stacked = max(missing.index(n) for n, _ in stacked)
    after = missing[last_stacked + 1 :]
    if not after or any(stack_of(n) is not None for n in after):
        return
    if not all(FINAL_MODULES.search(n) for n in after):
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the checkpoint stops after layer {indices[0] - 1} of {stack}: layers "
                f"{indices[0]}-{indices[-1]} and the modules after them ({', '.join(after[:3])}) "
                "are missing while the earlier layers loaded: an incomplete file or a shard "
                "that was not read (a download cut short, a save that stopped, an index that "
                "does not list every file)"
            ),
            params=missing,
            evidence={"stack": stack, "first_missing_layer": indices[0], "after": after[:8]},
            confidence=0.7,
            fix_note=(
                "check every shard the index lists is present and complete (weightfit lint "
                "FOLDER), download again, or re-save the checkpoint"
            ),
        )
    )
    ctx.consume(missing=missing)


def registered_buffers(ctx: Context) -> None:
    """Report a side whose only leftover names are bookkeeping buffers: another code version.

    A release that registers a new persistent buffer (``field.max_res``,
    ``attn.relative_position_index``), or stops registering one, leaves exactly those names
    missing or unexpected while every weight loads.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, side in ((missing, "model"), (unexpected, "checkpoint")):
        other = unexpected if side == "model" else missing
        if not names or other:
            continue
        if not only_buffers(names):
            continue
        leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"only buffers differ: {counted(len(names), 'buffer')} "
                    f"({', '.join(leaves[:4])}) "
                    f"{'is' if len(names) == 1 else 'are'} in "
                    f"the {side} alone, while every weight matched: one code version registers "
                    "them (persistent) and the other does not"
                ),
                params=names,
                evidence={"side": side, "leaves": leaves[:8], "names": names[:8]},
                confidence=0.55,
                fix_note=(
                    "load with strict=False (the module rebuilds its buffers), or use the code "
                    "version the checkpoint was saved with"
                ),
            )
        )
        ctx.consume(missing=names, unexpected=names)  # each name is on one side only
        return


CLASS_SCORES = re.compile(r"(?:^|_)(?:cls|class|classes|classifier|logits?|scores?)(?:_|\d|s?$)")
"""Words of a layer that scores classes (``conv_cls``, ``cls_preds``, ``fc_cls``, ``score``)."""
NEWLY_INITIALISED = re.compile(r"newly\s+initiali[sz]ed", re.IGNORECASE)
SHAPES_DIFFERED = re.compile(r"shapes\s+did\s+not\s+match", re.IGNORECASE)
NOT_FOUND_IN = re.compile(r"not\s+found\s+in", re.IGNORECASE)
"""A loader that looked each name up in the file and says it is not there."""


def class_head_only(ctx: Context) -> None:
    """Report missing names that are only the weights of layers scoring classes.

    Detectors, action and 3D models skip tensors whose shapes differ and then list them
    as missing or not updated. A label set of another size changes only the layers that
    score classes; a head absent from the checkpoint would lack its norms and box layers
    too. transformers lists a head skipped for its shape apart ("shapes did not match"),
    so its plain "newly initialized" head is absent, not resized; so is a head a loader
    says it did "not find in" the file (Paddle's "not found in the provided dict").
    """
    facts = whole_text_facts(ctx)
    missing = ctx.missing()
    if facts is None or ctx.findings or ctx.unexpected() or ctx.mismatches() or not missing:
        return
    if NEWLY_INITIALISED.search(facts.text) and not SHAPES_DIFFERED.search(facts.text):
        return
    if NOT_FOUND_IN.search(facts.text):
        return
    found = {_scoring_layer(name) for name in missing}
    layers = sorted(layer for layer in found if layer is not None)
    if None in found:
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="error",
            message=(
                f"only the weights of the class-scoring layer(s) {', '.join(layers[:4])} did not "
                "load: a loader that skips tensors of other shapes leaves exactly "
                "these when the checkpoint was trained on another number of classes"
            ),
            params=missing,
            evidence={"layers": layers[:8], "names": missing[:8]},
            confidence=0.5,
            fix_note=(
                "build the head with the checkpoint's number of classes, or keep the skipped "
                "layers and train them for yours"
            ),
        )
    )
    ctx.consume(missing=missing)


def _scoring_layer(name: str) -> str | None:
    """The class-scoring layer a weight or bias belongs to (``dense_head.conv_cls``), if one."""
    module, _, leaf = name.rpartition(".")
    if leaf not in ("weight", "bias"):
        return None
    words = [part for part in module.split(".") if not part.isdigit()]
    return module if words and CLASS_SCORES.search(words[-1]) else None


def sideless_buffers(ctx: Context) -> None:
    """Report a key list whose label the paste lost, naming only buffers of a known change.

    PyTorch lists keys as ``Missing key(s) in state_dict: "a", "b"``; a paste that cut the
    label keeps ``in state_dict: "a"`` and says neither side. When every name it keeps is a
    buffer a library release made persistent or non-persistent
    (``knowledge/version_changes.yaml``: ``*.embeddings.position_ids``, transformers 4.31),
    the change itself says which side holds it and the cause is that release (``version``).
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    lists = [m for m in SIDELESS_LIST.finditer(facts.text) if not LIST_LABEL.search(m.group(1))]
    names = [n for m in lists for n in QUOTED_NAME.findall(m.group(2))]
    changes = [c for n in names if (c := _known.buffer_change(n)) is not None]
    if not names or len(changes) < len(names):
        return
    change = changes[0]
    holder = "checkpoint" if change.kind == "buffer-nonpersistent" else "model"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the key list lost its label, and its only name{'s' if len(names) > 1 else ''} "
                f"({', '.join(names[:3])}) {'are buffers' if len(names) > 1 else 'is a buffer'} "
                f"{change.library} {change.version} changed ({change.description}): the "
                f"{holder} holds {'them' if len(names) > 1 else 'it'}, and the two sides are "
                f"of {change.library} releases on either side of the change"
            ),
            params=names[:20],
            evidence={"names": names[:8], "known_change": change.source, "holder": holder},
            confidence=0.45,
            fix_note=(
                f"install the {change.library} release the checkpoint was saved with, or load "
                "with strict=False: the model rebuilds these buffers"
            ),
        )
    )


SIDELESS_LIST = re.compile(r"([^\n]{0,40})\bin\s+state_dict:\s*((?:\"[\w.\-]+\"[,\s.]*)+)")
"""PyTorch's key list (``in state_dict: "a", "b".``), with the words before it."""
LIST_LABEL = re.compile(r"(?i:missing|unexpected)\W*\s*keys?\W*$|\bkey\(s\)\s*$")
"""The label that says a key list's side (``Missing key(s)``, ``Unexpected key(s)``)."""
QUOTED_NAME = re.compile(r"\"([\w.\-]+)\"")
"""One name of a key list."""
