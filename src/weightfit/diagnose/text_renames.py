"""Renames read from a text's names alone.

A known library change (``LayerNorm.gamma`` → ``.weight``), one word renamed the same way
in every name, Meta's reference Llama layout against the transformers one, layers held in
a ``Sequential`` by one code and not the other (``lm_head.0.weight``), and LoRA names with and
without PEFT's adapter-name segment.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context, layer_template
from weightfit.diagnose._facts import text_facts
from weightfit.diagnose.text_prefix import NOTHING_MISSING
from weightfit.findings import Finding


def known_renames(ctx: Context) -> None:
    """Report names a known library change renamed (``LayerNorm.gamma`` → ``.weight``)."""
    if not ctx.partial:
        return
    facts = text_facts(ctx)
    unexpected = ctx.unexpected()
    # A model's own name in the old spelling says only that the model's code is old; it is
    # the change's doing when the checkpoint holds the new spelling beside it.
    wanted_old = [
        n
        for n in ctx.missing()
        if any(
            not unexpected or c.renamed(n) in unexpected
            for c in knowledge.changes_for(n)
            if c.kind == "rename"
        )
    ]
    renamed_modules = {n.rsplit(".", 1)[0] for n in wanted_old}
    siblings = [n for n in ctx.missing() if n not in wanted_old]
    if not unexpected and any(n.rsplit(".", 1)[0] in renamed_modules for n in siblings):
        # Read from missing names alone, a rename leaves the rest of its module loaded: a
        # bias missing beside weight_g is the whole module missing.
        wanted_old = []
    if facts is not None and not ctx.missing() and NOTHING_MISSING.search(facts.text):
        # PyTorch lists missing keys first: none, so the model has no place for the old
        # names under any spelling; a rename would have left the new ones missing.
        unexpected = []
    names = [*unexpected, *wanted_old]
    if facts is not None:
        names += [n for n in facts.key_errors if n not in names]
    # TensorFlow's own variables (bert/embeddings/LayerNorm/beta) are spelled so natively:
    # only a change of TensorFlow's own renames them.
    native = {n for n in names if facts is not None and n.replace(".", "/") in facts.text}
    hits = [
        (n, c)
        for n in names
        for c in knowledge.changes_for(n)
        if c.kind == "rename" and (n not in native or c.library == "tensorflow")
    ]
    if not hits:
        return
    change = hits[0][1]
    found = [n for n, c in hits if c is change]
    # The new spelling of each where the text lists it, and the model's names this change
    # introduced (Swin's layers.3.downsample, moved from layers.2).
    listed = {*names, *ctx.missing()}
    found += [new for n in found if (new := change.renamed(n)) and new in listed]
    found += [n for n in ctx.missing() if n not in found and change.old_spelling(n)]
    # The file's side seen in either spelling settles the change; a model (or a lookup)
    # asking for the old spelling alone says the code is old, not what the file holds.
    seen_in_file = any(n in unexpected for n in found)
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
            confidence=0.7 if seen_in_file else 0.6,
            fix_note=(
                "rename with the library's own conversion (a version that knows both "
                "spellings), or weightfit fix CKPT --against TARGET"
                if seen_in_file or not change.version[:1].isdigit()
                else f"the model's code asks for the old spelling: upgrade {change.library} "
                f"to {change.version} or later, which reads the file's names"
            ),
        )
    )
    ctx.consume(unexpected=found, missing=found)


def new_layout_names(ctx: Context) -> None:
    """Report a model that wants names only a known library change introduced.

    ``model.visual.patch_embed.proj.weight`` missing is transformers 4.52's layout of a
    Qwen2-VL model; a checkpoint saved before holds ``visual.*``. When the text lists no
    old spelling (``known_renames`` reads those), the new spellings alone say the
    checkpoint is in the layout before the change.
    """
    if not ctx.partial or ctx.unexpected():
        return
    facts = text_facts(ctx)
    missing = list(ctx.missing())
    if facts is not None:
        missing += [n for n in facts.key_errors if n not in missing and n not in ctx.source.tensors]
    found = [(n, c, old) for n in missing for c, old in knowledge.changes_to(n)]
    if not found or len({n for n, _, _ in found}) < len(missing) / 2:
        return
    name, change, old = found[0]
    names = [n for n, c, _ in found if c is change]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the model wants {name}, a name of the layout after a known change "
                f"({change.library} {change.version}: {change.description}); a checkpoint "
                f"saved before holds {old}"
            ),
            params=names,
            evidence={"known_change": change.source, "new_names": names[:8], "old_name": old},
            confidence=0.6,
            fix_note=(
                "load with a library version that converts the old layout on load, or "
                "rename the checkpoint's tensors: weightfit fix CKPT --against TARGET"
            ),
        )
    )
    ctx.consume(missing=names)


MIN_RENAMED = 0.9
"""Share of the shorter leftover list a consistent one-word renaming must account for."""


def _blanked(parts: list[str], index: int) -> str:
    """A dotted name with one word replaced by ``*``."""
    return ".".join([*parts[:index], "*", *parts[index + 1 :]])


def _changed_word(old: str, new: str) -> tuple[str, str]:
    """The part that changed, where two snake_case words differ in one part only.

    ``ts_type_norm`` → ``target_type_norm`` and ``ts_type_embedding`` →
    ``target_type_embedding`` are one renaming, ``ts`` → ``target``.
    """
    old_parts, new_parts = old.split("_"), new.split("_")
    if len(old_parts) == len(new_parts) > 1:
        differ = [(a, b) for a, b in zip(old_parts, new_parts, strict=True) if a != b]
        if len(differ) == 1 and all(differ[0]):
            return differ[0]
    return old, new


def _report_renamed(
    ctx: Context,
    olds: list[str],
    news: list[str],
    *,
    said: str,
    evidence: dict[str, object],
    confidence: float,
    what: str = "the checkpoint's names to the model's",
) -> None:
    """Report checkpoint names (``olds``) renamed in the model (``news``); consume them."""
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=said,
            params=[*olds, *news],
            evidence=evidence,
            confidence=confidence,
            fix_note=(
                f"rename {what} (weightfit fix CKPT --against TARGET), or use the code version "
                "that saved it"
            ),
        )
    )
    ctx.consume(missing=news, unexpected=olds)


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
                whole = (word, new.split(".")[i])
                for change in {whole, _changed_word(*whole)}:
                    if not change[0].isdigit() and not change[1].isdigit():
                        words.setdefault(change, []).append((old, new))
    if not words:
        return
    # The change that accounts for most names; between equals, whole words.
    (old_word, new_word), pairs = max(
        words.items(), key=lambda item: (len(item[1]), len(item[0][0]) + len(item[0][1]))
    )
    shorter = min(len(missing), len(unexpected))
    if len({o for o, _ in pairs}) < MIN_RENAMED * shorter or len(pairs) < 2:
        _renamed_modules(ctx, missing, unexpected)
        return
    olds, news = [o for o, _ in pairs], [n for _, n in pairs]
    _report_renamed(
        ctx,
        olds,
        news,
        said=(
            f"'{old_word}' in the checkpoint is '{new_word}' in the model, in {len(pairs)} "
            f"names ({olds[0]} → {news[0]}): renamed between the code that saved the "
            "checkpoint and the model's"
        ),
        evidence={"old": old_word, "new": new_word, "names": len(pairs)},
        # Names alone, no shapes: a guess however consistent (fresh texts bear it out
        # rarely), so never above an even chance.
        confidence=0.45,
        what=f"'{old_word}' to '{new_word}' in the checkpoint's names",
    )


MIN_PAIRED_MODULES = 2
"""Modules that must pair off for a renaming read from the words they share."""


def _renamed_modules(ctx: Context, missing: list[str], unexpected: list[str]) -> None:
    """Report modules renamed one by one: same parent, same parameters, a word in common.

    ``mouse_keypoint_map`` and ``jaw_keypoint_map`` in the checkpoint against
    ``lip_landmark_map`` and ``jaw_landmark_map`` in the model, each with its weight and
    bias, in the same order: the code renamed its modules. Modules under other parents
    (``neck.trans_layer`` against ``keypoint_head.final_layer``) are other parts, not this.
    """
    olds, news = _modules(unexpected), _modules(missing)
    if len(olds) != len(news) or len(olds) < MIN_PAIRED_MODULES:
        return
    for (old, old_leaves), (new, new_leaves) in zip(olds.items(), news.items(), strict=True):
        old_parent, _, old_last = old.rpartition(".")
        new_parent, _, new_last = new.rpartition(".")
        shared = set(old_last.split("_")) & set(new_last.split("_"))
        if old_parent != new_parent or old_leaves != new_leaves or old_last == new_last:
            return
        if not shared - {""}:
            return
    renamed = dict(zip(olds, news, strict=True))
    first_old, first_new = next(iter(renamed.items()))
    _report_renamed(
        ctx,
        unexpected,
        missing,
        said=(
            f"{len(renamed)} modules pair off one by one, each with the same parameters "
            f"under the same parent and a word in common ({first_old} → {first_new}): "
            "renamed between the code that saved the checkpoint and the model's"
        ),
        evidence={"renamed_modules": renamed},
        confidence=0.4,
        what="the checkpoint's modules to the model's",
    )


def _modules(names: list[str]) -> dict[str, frozenset[str]]:
    """Each module of the names, in order of appearance, with its parameters' leaf names."""
    leaves: dict[str, set[str]] = {}
    for name in names:
        module, _, leaf = name.rpartition(".")
        leaves.setdefault(module, set()).add(leaf)
    return {module: frozenset(found) for module, found in leaves.items() if module}


MAX_HEAD = 3
"""Leading words of a name tried as the path a module sits under (``layer1.0``)."""


def regrouped_words(ctx: Context) -> None:
    """Report missing and unexpected names spelled with the same words, grouped otherwise.

    ``composition_weights`` missing beside ``composition_model.weights`` unexpected: the
    words agree but for one module word added or dropped, the last word kept, so the same
    tensor moved into (or out of) a submodule between the code that saved the checkpoint and
    the model's. Every name of the shorter list must find exactly one such partner.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or not unexpected:
        return
    pairs = []
    for new in missing:
        partners = [old for old in unexpected if _regrouped(old, new)]
        if len(partners) != 1:
            return
        pairs.append((partners[0], new))
    if len({old for old, _ in pairs}) != len(pairs) or len(pairs) < min(
        len(missing), len(unexpected)
    ):
        return
    olds, news = [o for o, _ in pairs], [n for _, n in pairs]
    _report_renamed(
        ctx,
        olds,
        news,
        said=(
            f"the same words, grouped otherwise: {olds[0]} in the checkpoint is "
            f"{news[0]} in the model: the tensor moved into or out of a submodule "
            "between the code that saved the checkpoint and the model's"
        ),
        evidence={"renamed": dict(pairs)},
        confidence=0.45,
    )


GENERIC_MODULES = re.compile(
    r"(?:conv|norm|bn|ln|fc|linear|proj|dense|mlp|attn|attention|embed|head|layer|block|"
    r"weight|bias|out|in|q|k|v|o)\d*"
)
"""Module names too common to say two paths hold the same module (``conv``, ``norm1``)."""


def moved_modules(ctx: Context) -> None:
    """Report modules that moved under another parent, paired one to one by their own names.

    ``word_embeddings.weight`` missing beside ``transformer.word_embeddings.weight``
    unexpected, and ``transformer.block_position_embeddings.weight`` beside
    ``mixins.block_position_embedding.block_position_embeddings.weight``: each module keeps
    its name and parameter, only where it sits changed (another codebase's layout). Every
    name of both lists must pair, by a module name distinctive enough to say so.
    """
    if not ctx.partial or ctx.mismatches() or ctx.facts.get("truncated"):
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if len(missing) < MIN_PAIRED_MODULES or len(missing) != len(unexpected):
        return
    news, olds = _by_module(missing), _by_module(unexpected)
    if news is None or olds is None or news.keys() != olds.keys():
        return
    pairs = [(olds[key], news[key]) for key in news]
    first_old, first_new = pairs[0]
    _report_renamed(
        ctx,
        unexpected,
        missing,
        said=(
            f"{len(pairs)} modules keep their names under other parents ({first_old} → "
            f"{first_new}): the code that saved the checkpoint arranged the same modules "
            "otherwise than the model's"
        ),
        evidence={"moved": dict(pairs)},
        confidence=0.45,
    )


def _by_module(names: list[str]) -> dict[str, str] | None:
    """Each name by its module and leaf (``word_embeddings.weight``).

    ``None`` unless every key is distinct and every module name distinctive.
    """
    found: dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        if len(parts) < 2 or parts[-2].isdigit() or GENERIC_MODULES.fullmatch(parts[-2]):
            return None
        key = ".".join(parts[-2:])
        if key in found:
            return None
        found[key] = name
    return found


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[._]", name.lower()) if w and not w.isdigit()]


def _regrouped(old: str, new: str) -> bool:
    """Whether two names use the same words in order but for one, their last word equal."""
    if old.count(".") == new.count("."):
        return False  # the same nesting: a renamed word (``renamed_word``), not a regrouping
    a, b = _words(old), _words(new)
    if not a or not b or a[-1] != b[-1] or abs(len(a) - len(b)) != 1:
        return False
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer) - 1))


def renamed_path(ctx: Context) -> None:
    """Report the same modules under another path on each side: a renamed parent.

    ``extractor.4.0.conv1.weight`` missing beside ``layer1.0.0.conv1.weight`` unexpected:
    past their first words the names agree (``0.conv1.weight``), so the code that saved
    the checkpoint and the model's place the same modules under other parents. Tails must
    hold at least a module and its parameter, and cover :data:`MIN_RENAMED` of the
    shorter list.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if len(missing) < 2 or len(unexpected) < 2:
        return
    best: tuple[int, int, int] | None = None
    for cut_new in range(1, MAX_HEAD + 1):
        for cut_old in range(1, MAX_HEAD + 1):
            news, olds = _tails(missing, cut_new), _tails(unexpected, cut_old)
            shared = news.keys() & olds.keys()
            heads_new = {h for t in shared for h in news[t]}
            heads_old = {h for t in shared for h in olds[t]}
            if heads_new & heads_old:
                continue  # the same parent on both sides: not a renamed path
            covered = min(
                sum(1 for n in missing if _tail(n, cut_new) in shared),
                sum(1 for n in unexpected if _tail(n, cut_old) in shared),
            )
            enough = covered >= max(2, MIN_RENAMED * min(len(missing), len(unexpected)))
            if enough and (best is None or covered > best[0]):
                best = (covered, cut_new, cut_old)
    if best is None:
        return
    _, cut_new, cut_old = best
    new_head = ".".join(missing[0].split(".")[:cut_new])
    old_head = ".".join(unexpected[0].split(".")[:cut_old])
    _report_renamed(
        ctx,
        unexpected,
        missing,
        said=(
            f"the same modules sit under other parents: '{old_head}' in the checkpoint, "
            f"'{new_head}' in the model ({unexpected[0]} → {missing[0]}): renamed between "
            "the code that saved the checkpoint and the model's"
        ),
        evidence={"checkpoint_path": old_head, "model_path": new_head},
        confidence=0.6,
        what="the checkpoint's module paths to the model's",
    )


def _tail(name: str, cut: int) -> str:
    """A name past its first ``cut`` words, or ``""`` when less than a module and leaf remain."""
    parts = name.split(".")
    return ".".join(parts[cut:]) if len(parts) - cut >= 2 else ""


def _tails(names: list[str], cut: int) -> dict[str, set[str]]:
    """Each tail past ``cut`` words, with the heads it follows."""
    found: dict[str, set[str]] = {}
    for name in names:
        if tail := _tail(name, cut):
            found.setdefault(tail, set()).add(".".join(name.split(".")[:cut]))
    return found


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


def wrapped_layers(ctx: Context) -> None:
    """Report each missing name found among the unexpected ones with an index inserted.

    ``lm_head.weight`` in the model against ``lm_head.0.weight`` in the checkpoint, every
    name of both lists paired so and nothing else: the same layers, one of the two codes
    holding each in a ``Sequential`` (``nn.Sequential(layer)``, a head given a dropout in
    front) and the other not. The tensors are the same; a rename of the names maps them.
    A layer against a block of several (``proj.weight`` against ``proj.0.weight`` and the
    ``proj.1`` norm beside it) leaves names unpaired and is the ``rearranged`` rule's.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or len(missing) != len(unexpected):
        return
    for longer, shorter, side in (
        (unexpected, missing, "checkpoint"),
        (missing, unexpected, "model"),
    ):
        paired = {name: _unwrapped(name, set(shorter)) for name in longer}
        if any(bare is None for bare in paired.values()):
            continue
        bares = [bare for bare in paired.values() if bare is not None]
        if sorted(bares) != sorted(shorter):
            continue
        olds, news = (longer, bares) if side == "checkpoint" else (bares, longer)
        wrapped = sorted({bare.rsplit(".", 1)[0] for bare in bares})
        _report_renamed(
            ctx,
            olds,
            news,
            said=(
                f"the {side}'s names hold one index more than the other side's, and only that "
                f"({longer[0]} against {paired[longer[0]]}): the {side}'s code holds "
                f"{', '.join(wrapped[:3])} in a Sequential, the same layers renamed"
            ),
            evidence={"side": side, "wrapped": wrapped[:8], "names": len(longer)},
            confidence=0.45,
        )
        return


def _unwrapped(name: str, others: set[str]) -> str | None:
    """The one name of ``others`` that ``name`` is with an index segment removed, if any.

    The top segment and the leaf are never a ``Sequential``'s index: a wrapper's index sits
    between a module and its tensor.
    """
    parts = name.split(".")
    found = {
        ".".join(parts[:i] + parts[i + 1 :]) for i in range(1, len(parts) - 1) if parts[i].isdigit()
    } & others
    return found.pop() if len(found) == 1 else None


def adapter_segment(ctx: Context) -> None:
    """Report LoRA names with and without PEFT's adapter-name segment for the same modules.

    PEFT 0.3.0 began naming every adapter: a LoRA layer's tensors are ``lora_A.default.weight``
    in memory, where earlier releases had ``lora_A.weight``. The same modules' LoRA tensors
    named both ways (the model's with the segment, the file's without, or the reverse) are a
    state dict of one PEFT release loaded into a model built by another, with plain
    ``load_state_dict`` rather than PEFT's own loading, which adds or drops the segment.
    Read from the names alone, whichever side the text gave them, layer indices folded.
    """
    if not ctx.partial or ctx.mismatches():
        return
    names = ctx.missing() + ctx.unexpected()
    named: dict[str, str] = {}
    plain: dict[str, str] = {}
    for name in names:
        match = LORA_TENSOR.search(name)
        if match is None:
            continue
        # Layer indices folded: a list cut short may show one form in the first layers only.
        stem = layer_template(
            f"{name[: match.start()]}.{match.group('part')}.{match.group('leaf')}"
        )
        (named if match.group("adapter") else plain)[stem] = name
    both = sorted(set(named) & set(plain))
    if not both:
        return
    adapters = sorted({m.group("adapter") for s in both if (m := LORA_TENSOR.search(named[s]))})
    lora = [n for n in names if LORA_TENSOR.search(n)]
    ctx.consume(missing=lora, unexpected=lora)
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the same modules' LoRA tensors are named with PEFT's adapter-name segment "
                f"({named[both[0]]}) and without it ({plain[both[0]]}): PEFT 0.3.0 and later "
                "name each adapter (.default.), earlier releases did not, so the state dict "
                "and the model come from PEFT releases on either side of that change"
            ),
            params=lora[:20],
            evidence={"adapter_names": adapters, "with": named[both[0]], "without": plain[both[0]]},
            confidence=0.45,
            fix_note=(
                "install the PEFT release the project pins (its requirements), or load the "
                "adapter with PeftModel.from_pretrained / set_peft_model_state_dict, which add "
                "or drop the adapter name, rather than load_state_dict"
            ),
        )
    )


LORA_TENSOR = re.compile(
    r"\.(?P<part>lora_(?:A|B|embedding_A|embedding_B|magnitude_vector))"
    r"(?:\.(?P<adapter>(?!weight$|bias$)[A-Za-z_]\w*))?\.(?P<leaf>weight|bias)$"
)
"""A LoRA tensor's name: its part, the adapter name PEFT 0.3.0 added (when there), its leaf."""
