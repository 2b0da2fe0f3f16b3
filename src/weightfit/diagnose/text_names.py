"""Causes a text's names settle alone.

Known renames, old running statistics, EMA copies, fused words, LoRA keys, a tied head, and
the role of a tensor whose shapes the paste lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weightfit import knowledge
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts, whole_text_facts
from weightfit.diagnose.text_prefix import only_buffers
from weightfit.findings import Category, Finding
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
                {h for p in parts if (h := _head(_parent_and_word(p)[1])) and h in word},
                key=word.find,
            )
            if len(heads) < 2:
                continue
            if "_".join(heads) not in word and "".join(heads) not in word:
                continue
            explained_fused.append(fused)
            explained_parts += [p for p in parts if _head(_parent_and_word(p)[1]) in heads]
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
    _one_sided_fused(ctx)


FUSED_WORD = re.compile(
    r"^(?:\w*_)?(?:qkv|query_key_value|c_attn|in_proj(?:_weight|_bias)?|gate_up|w_?pack|wqkv|"
    r"kv)(?:_proj)?$",
    re.IGNORECASE,
)
"""Module words of fused projections (``attn_qkv``, ``query_key_value``, ``gate_up_proj``)."""

PART_GROUPS = (
    frozenset({"q", "k", "v"}),
    frozenset({"wq", "wk", "wv"}),
    frozenset({"gate", "up"}),
)
"""Words of projections that fused layouts store as one tensor."""


def _one_sided_fused(ctx: Context) -> None:
    """Report a text listing only fused tensors, or only the parts a fused tensor holds.

    Only ``attn_qkv`` missing: the loader wants the fused layout and the file stores the
    parts. Only ``q_proj``/``k_proj``/``v_proj`` missing, layer after layer, while the rest
    of each layer loads: the file stores them fused (``in_proj_weight``, ``qkv``).
    """
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other in ((missing, unexpected), (unexpected, missing)):
        if not names or other:
            continue
        words = [_parent_and_word(n)[1] for n in names]
        side = "model" if names is missing else "checkpoint"
        if all(FUSED_WORD.match(w) for w in words):
            held, stored = "fused tensors", "their parts (q, k, v / gate, up)"
        elif _split_parts(names):
            held, stored = "split projections", "them fused (qkv / in_proj / gate_up)"
        else:
            continue
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"only {held} are in the {side} alone ({names[0]} …): the other side most "
                    f"likely stores {stored}, a layout another version of the loader reads"
                ),
                params=names,
                evidence={"side": side, "names": names[:8]},
                confidence=0.5,
                fix_note=(
                    "use the loader version that knows this layout, or split / fuse the tensors "
                    "(weightfit check CKPT --against TARGET plans it)"
                ),
            )
        )
        ctx.consume(
            missing=names if side == "model" else [], unexpected=names if side != "model" else []
        )
        return


def _split_parts(names: list[str]) -> bool:
    """Whether the names are two or more parts of one fused group in each of their modules."""
    by_parent: dict[str, set[str]] = {}
    for name in names:
        parent, word = _parent_and_word(name)
        by_parent.setdefault(parent, set()).add(_head(word))
    return all(
        any(len(parts & group) >= 2 and parts <= group for group in PART_GROUPS)
        for parts in by_parent.values()
    )


PART_INITIALS = {"query": "q", "key": "k", "value": "v"}
"""Projection words that fused names abbreviate to their initial (``query`` → ``qkv``)."""


def _head(word: str) -> str:
    """The word a fused name joins for a part: ``q_proj`` → ``q``, ``query`` → ``q``."""
    core = word.lower().removeprefix("to_").split("_")[0]
    return PART_INITIALS.get(core, core)


def _parent_and_word(name: str) -> tuple[str, str]:
    """The parent path without indices and the module word of a name (``weight`` leaves off)."""
    parts = [p for p in name.split(".") if not p.isdigit()]
    if len(parts) > 1 and parts[-1] in ("weight", "bias", "qweight", "scales", "qzeros"):
        parts = parts[:-1]
    return ".".join(parts[:-1]), parts[-1] if parts else ""


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


LEARNED_TOKEN = re.compile(r"(?:^|[._])(?:cls|dist|mask|reg|register)_?tokens?(?:$|[._])")
"""A vision transformer's learned tokens (class, distillation, mask, register): no vocabulary."""


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
    elif LEARNED_TOKEN.search(lower):
        role, why = "wrong_variant", "a learned token ([1, n, width]: only the width changes it)"
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


def known_renames(ctx: Context) -> None:
    """Report names a known library change renamed (``LayerNorm.gamma`` → ``.weight``)."""
    if not ctx.partial:
        return
    facts = text_facts(ctx)
    names = [*ctx.unexpected(), *ctx.missing()]
    if facts is not None:
        names += [n for n in facts.key_errors if n not in names]
    if facts is not None:
        # TensorFlow's own variables (bert/embeddings/LayerNorm/beta) are spelled so natively.
        names = [n for n in names if n.replace(".", "/") not in facts.text]
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


LORA_KEY = re.compile(r"(?:^|[._])lora(?:[._]|$)|lora_|\.alpha$|hada_|lokr_|\.dora_scale$")
"""Names of LoRA-family files (kohya, PEFT, LyCORIS)."""


@dataclass(frozen=True)
class Marker:
    """A name marker that tells where leftover names come from, and what that means."""

    pattern: re.Pattern[str]
    category: Category
    says: str
    confidence: float
    fix_note: str
    drop: bool = False


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
        what = "LoRA key(s)" if marker.category == "lora_mismatch" else "unexpected name(s)"
        ctx.add(
            Finding(
                category=marker.category,
                severity="error",
                message=f"{len(names)} {what} " + marker.says.format(first=names[0]),
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
    a shard the index does not list lose the tail.
    """
    if not ctx.partial or ctx.mismatches() or ctx.unexpected():
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
                    f"only buffers differ: {len(names)} {', '.join(leaves[:4])} buffer(s) are in "
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
        ctx.consume(
            missing=names if side == "model" else [], unexpected=names if side != "model" else []
        )
        return


MIN_RENAMED = 0.9
"""Share of the shorter leftover list a consistent one-word renaming must account for."""


def _blanked(parts: list[str], index: int) -> str:
    """A dotted name with one word replaced by ``*``."""
    return ".".join([*parts[:index], "*", *parts[index + 1 :]])


def renamed_word(ctx: Context) -> None:
    """Report missing and unexpected names that differ in one word, the same way throughout.

    ``blocks.{i}.att.time_first`` against ``blocks.{i}.att.time_faaaa`` in every block:
    one word was renamed between the code that saved the checkpoint and the model's
    (another release or another codebase), everything else in place. A renaming that
    is not consistent, or covers only a few names, is left to the leftovers.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or not unexpected:
        return
    words: dict[tuple[str, str], list[tuple[str, str]]] = {}
    by_shape: dict[tuple[int, str], list[str]] = {}
    for name in missing:
        parts = name.split(".")
        for i in range(len(parts)):
            by_shape.setdefault((i, _blanked(parts, i)), []).append(name)
    for old in unexpected:
        parts = old.split(".")
        for i, word in enumerate(parts):
            for new in by_shape.get((i, _blanked(parts, i)), []):
                change = (word, new.split(".")[i])
                if not change[0].isdigit() and not change[1].isdigit():
                    words.setdefault(change, []).append((old, new))
    if not words:
        return
    (old_word, new_word), pairs = max(words.items(), key=lambda item: len(item[1]))
    shorter = min(len(missing), len(unexpected))
    if len({o for o, _ in pairs}) < MIN_RENAMED * shorter or len(pairs) < 2:
        return
    olds, news = [o for o, _ in pairs], [n for _, n in pairs]
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"'{old_word}' in the checkpoint is '{new_word}' in the model, in {len(pairs)} "
                f"names ({olds[0]} → {news[0]}): renamed between the code that saved the "
                "checkpoint and the model's"
            ),
            params=olds + news,
            evidence={"old": old_word, "new": new_word, "names": len(pairs)},
            confidence=0.6,
            fix_note=(
                f"rename '{old_word}' to '{new_word}' in the checkpoint's names (weightfit fix "
                "CKPT --against TARGET), or use the code version that saved it"
            ),
        )
    )
    ctx.consume(missing=news, unexpected=olds)


REFERENCE_LAYOUT = re.compile(
    r"^(?:tok_embeddings|norm|output|layers\.\d+\.(?:attention\.w[qkvo]|feed_forward\.w[123]|"
    r"attention_norm|ffn_norm))\.weight$"
)
"""Names of Meta's reference Llama layout (``consolidated.00.pth``), which Mistral's native
``consolidated.safetensors`` shares: ``layers.0.attention.wq.weight``, ``tok_embeddings``."""


def reference_layout(ctx: Context) -> None:
    """Report the reference (Meta / Mistral native) layout on one side and not the other.

    The original Llama and Mistral releases ship ``consolidated.*`` files in the reference
    implementation's names; a transformers-layout model (``model.layers.0.self_attn.q_proj``)
    cannot take them without conversion, and a folder holding both formats feeds a loader
    the wrong one.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other, side in ((unexpected, missing, "checkpoint"), (missing, unexpected, "model")):
        if not names or not all(REFERENCE_LAYOUT.match(n) for n in names):
            continue
        if not any(n.startswith(("layers.", "tok_embeddings.")) for n in names):
            continue  # a lone output.weight or norm.weight is any model's (GGUF's too)
        if any(REFERENCE_LAYOUT.match(n) for n in other):
            continue
        ctx.add(
            Finding(
                category="rename",
                severity="error",
                message=(
                    f"the {side}'s names are Meta's reference Llama layout ({names[0]}), the "
                    "layout of the original consolidated.* files (Mistral's native "
                    "consolidated.safetensors too), not the transformers layout"
                ),
                params=[*names, *other],
                evidence={"side": side, "names": names[:8]},
                confidence=0.6,
                fix_note=(
                    "load the transformers-format files (model-*.safetensors), not "
                    "consolidated.*; convert reference files with transformers' "
                    "convert_llama_weights_to_hf.py, or weightfit fix CKPT --against TARGET"
                ),
            )
        )
        ctx.consume(missing=missing, unexpected=unexpected)
        return
