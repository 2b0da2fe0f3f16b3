"""A prefix read from one side of a text: a wrapper's leading segment, a loader's first key."""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context, escape_pattern
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op
from weightfit.tree import stack_of

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
PEFT_WRAPPER = "base_model.model"
"""The path PEFT's ``PeftModel`` puts before every name it saves, adapter keys included:
a loader of other LoRA formats (kohya, ComfyUI, diffusers) takes none of them."""


BUFFERS = (
    ".running_mean",
    ".running_var",
    ".num_batches_tracked",
    ".position_ids",
    ".inv_freq",
    "_index",
)
"""Buffers whose absence or presence is a version matter, never a prefix."""


BOOKKEEPING_LEAF = re.compile(
    r"(?:^|_)(?:index|indices|ids|mask|masks|count|counts|steps?|tracked|initiali[sz]ed|"
    r"cache|freqs?|grid|res|levels|size|scale_factor)$|^(?:num|n|max|min|log2|is|use)_\w+$"
)
"""Leaf names of buffers that hold bookkeeping (counts, sizes, indices, masks), not weights."""


def only_buffers(names: list[str]) -> bool:
    """Whether every name is a bookkeeping buffer (``field.max_res``, ``*.num_batches_tracked``)."""
    return bool(names) and all(BOOKKEEPING_LEAF.search(n.rsplit(".", 1)[-1]) for n in names)


WRAPPED_MODEL = re.compile(
    r"DataParallel|DistributedDataParallel|FullyShardedDataParallel|FSDP|OptimizedModule"
)
"""Model classes that are wrappers: a load into one matches names with ``module.`` (or
``_orig_mod.``), so no unexpected name is that prefix's doing when nothing is missing."""


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
    if only_buffers(missing) or only_buffers(unexpected):
        return  # buffers a code version registers: no prefix renames only them
    for names, side in ((unexpected, "checkpoint"), (missing, "model")):
        other = missing if side == "checkpoint" else unexpected
        heads = {name.split(".", 1)[0] for name in names}
        if not names or len(heads) != 1 or any("." not in name for name in names):
            continue  # a bare 'module' beside 'module.x' is a key, not a wrapper's segment
        segment = heads.pop()
        if segment not in WRAPPER_SEGMENTS or all(n.endswith(BUFFERS) for n in names):
            continue
        if all(name.startswith(f"{PEFT_WRAPPER}.") for name in names):
            segment = PEFT_WRAPPER  # PeftModel's two segments, on adapter keys too
        elif any("lora_" in n or ".adapter" in n for n in names):
            continue  # adapter keys no module took: another base, not a wrapper
        if side == "checkpoint" and not other and WRAPPED_MODEL.search(str(ctx.facts.get("model"))):
            continue  # the model is the wrapper: its own names carry the segment and all loaded
        if side == "checkpoint" and not other and _model_names_loaded(ctx, names[0]):
            continue
        if side == "checkpoint" and not other and _base_prefix_resolved(ctx):
            continue
        if _deeper_layers(names):
            continue  # a wrapper renames every tensor, layer 0 too: these are extra layers
        stripped = {name[len(segment) + 1 :] for name in names}
        if other and not (stripped & set(other)):
            continue
        one_module = len({n.split(".", 1)[0] for n in stripped}) < 2
        if one_module and (side == "model" or (len(names) > 1 and not ctx.facts.get("truncated"))):
            continue  # one module unfilled, or all of one module extra: that module, no prefix
        strong = segment in ("module", "_orig_mod", "_fsdp_wrapped_module", "state_dict")
        wrapper = WRAPPER_SEGMENTS[segment.split(".", 1)[0]]
        if not strong and (side == "model" or set(names) <= set(_looked_up(ctx))):
            # Model names start with model., backbone. ... by themselves, and a loader's
            # KeyError on one such name says only that the lookup failed, not why.
            continue
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
                    f"({wrapper}) that the other side's lack: "
                    f"{counted(len(names), 'name')} read"
                ),
                params=names,
                evidence={"segment": f"{segment}.", "side": side, "names": names[:8]},
                confidence=0.85 if strong else 0.6,
                fix=[Op("rename", op_args, reason=f"prefix '{segment}.'")],
            )
        )
        ctx.consume(missing=[*names, *other], unexpected=[*names, *other])
        return
    if _inner_wrapper(ctx, missing, unexpected):
        return
    cut_at_first = (
        bool(ctx.facts.get("truncated"))
        and bool(missing)
        and _first_layer(missing[0])
        and not _weight_loaded(missing)
    )
    front = first_tensors(missing) and _whole_front(missing)
    if missing and not unexpected and (front or cut_at_first):
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
    elif unexpected and not missing and first_tensors(unexpected) and _whole_front(unexpected):
        _foreign_naming(ctx, unexpected)


INNER_WRAPPERS = ("module", "_orig_mod", "_fsdp_wrapped_module")
"""Segments only a wrapper puts inside a path: a submodule wrapped alone (``encoder.module.0``)."""


def _inner_wrapper(ctx: Context, missing: list[str], unexpected: list[str]) -> bool:
    """Report one side's names all wrapped at the same submodule (``encoder.module.*``).

    Code that wraps one part of a model in ``DataParallel`` (or ``torch.compile``) before
    loading gives that part's names a ``module.`` segment inside the path; a checkpoint
    saved from the plain part lacks it (or the reverse). When the text lists both sides,
    the other side must hold the same names without the segment.
    """
    for names, side in ((unexpected, "checkpoint"), (missing, "model")):
        other = missing if side == "checkpoint" else unexpected
        parents = {_wrapped_parent(name) for name in names}
        if not names or len(parents) != 1:
            continue
        (found,) = parents
        if found is None:
            continue
        parent, segment = found
        unwrapped = {name.replace(f"{parent}.{segment}.", f"{parent}.", 1) for name in names}
        if other and len(unwrapped & set(other)) * 2 < min(len(names), len(other)):
            continue  # the other side lists other tensors: not this wrapper's doing
        wrapped = escape_pattern(f"{parent}.{segment}.")
        plain = escape_pattern(f"{parent}.")
        pattern, replacement = (
            (f"{wrapped}(.*)", f"{parent}.\\1")
            if side == "checkpoint"
            else (f"{plain}(.*)", f"{parent}.{segment}.\\1")
        )
        ctx.add(
            Finding(
                category="prefix",
                severity="error",
                message=(
                    f"{side} names carry '{segment}.' inside their path ({parent}.{segment}.…): "
                    f"that part alone was wrapped ({WRAPPER_SEGMENTS[segment]}) on one side "
                    f"only; {counted(len(names), 'name')} read"
                ),
                params=names,
                evidence={"segment": f"{segment}.", "inside": parent, "side": side},
                confidence=0.7,
                # The other side's names are not in the text: the mapping is read, not seen.
                fix=[
                    Op(
                        "rename",
                        {"pattern": pattern, "replacement": replacement},
                        inferred={
                            "evidence": f"{side} names wrapped inside {parent}",
                            "score": 0.7,
                        },
                    )
                ],
                fix_note="load before wrapping the part, or unwrap it (.module) to load",
            )
        )
        ctx.consume(missing=[*names, *other], unexpected=[*names, *other])
        return True
    return False


def _wrapped_parent(name: str) -> tuple[str, str] | None:
    """The path before a wrapper's segment inside a name, and the segment."""
    parts = name.split(".")
    for index, part in enumerate(parts[1:-1], start=1):
        if part in INNER_WRAPPERS:
            return ".".join(parts[:index]), part
    return None


def _foreign_naming(ctx: Context, unexpected: list[str]) -> None:
    """Report a checkpoint whose first tensors all lack a place: another implementation's names.

    No wrapper segment leads them (that is a prefix), so the checkpoint names the same
    kind of layers its own way (lukemelas' ``_conv_stem``, ``_blocks.0._bn1`` against
    another EfficientNet) or belongs to another model.
    """
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"the checkpoint's first tensors have no place in the model "
                f"({', '.join(unexpected[:3])} …): its names follow another implementation "
                "(or it is another model), not a prefix"
            ),
            params=unexpected,
            evidence={"unexpected": len(unexpected), "first": unexpected[:8]},
            confidence=0.45,
            fix_note=(
                "map the names with the converter of the implementation that saved it, or "
                "weightfit check CKPT --against TARGET, which pairs them by structure"
            ),
        )
    )
    ctx.consume(unexpected=unexpected)


FIRST_LAYER = re.compile(
    r"^(?:conv_?(?:first|in(?:put)?|1)(?:_1|_\d+x\d+\w*)?|stem|patch_embed|embed\w*|tok_embeddings|wte|"
    r"input\w*|first\w*|[a-z_]+0)$"
)
"""Modules that are a network's first layer (``conv_first``, ``conv1_1``, ``stem``,
``patch_embed``, a stage numbered 0: ``model0``, ``conv0``)."""
NOTHING_MISSING = re.compile(
    r"Error\(s\)\s+in\s+loading\s+state_dict\s+for\s+\w+:\s*Unexpected\s+key\(s\)"
)
"""PyTorch's message opening on its unexpected keys: it lists missing ones first, so none are."""
FIRST_UNEXPECTED = re.compile(r"unexpected\s+key\s+\"[^\"]+\"\s+in\s+state_dict")
"""PyTorch 0.3's ``load_state_dict``, which raised on the first checkpoint key the model lacks."""


TRANSFORMERS_UNUSED = re.compile(r"were\s+not\s+used\s+when\s+initiali[sz]ing")
"""transformers listing checkpoint names no module took."""


def _base_prefix_resolved(ctx: Context) -> bool:
    """Whether transformers left the names unused: it resolves base-model prefixes itself.

    ``from_pretrained`` adds or strips the base model's prefix (``model.``,
    ``transformer.``), so the names it left unused carry theirs and all else loaded.
    accelerate's loaders say the same words and list no missing name: a parameter left on
    the meta device after them says the model's own names did not load.
    """
    facts = text_facts(ctx)
    return (
        facts is not None
        and TRANSFORMERS_UNUSED.search(facts.text) is not None
        and not facts.meta_device
    )


def _model_names_loaded(ctx: Context, name: str) -> bool:
    """Whether the model's own names loaded beside an unexpected one: then no prefix.

    PyTorch's message lists missing keys before unexpected ones, so one that opens on its
    unexpected keys had none missing. PyTorch 0.3 walked the checkpoint in order and raised
    on the first key the model lacks, so a prefix would have failed on the very first key:
    ``module.layer1.0.downsample.0.weight`` comes after conv1, bn1 and layer1.0's
    convolutions, which loaded; the model carries the same prefix and the module is extra.
    """
    facts = text_facts(ctx)
    if facts is None:
        return False
    opens_first = any(FIRST_LAYER.match(segment) for segment in name.split(".")[1:-1])
    if NOTHING_MISSING.search(facts.text):
        # Unless only a wrapper adds the segment and the extra names open at the network's
        # first layer: the model's own names did not load either, the paste left them out.
        return not (name.split(".", 1)[0] in INNER_WRAPPERS and opens_first)
    if not FIRST_UNEXPECTED.search(facts.text):
        return False
    return not opens_first


def first_key_refused(ctx: Context) -> None:
    """Report a loader that failed on the network's very first tensor: names differ throughout.

    PyTorch 0.3 raised on the first checkpoint key the model lacks (``unexpected key
    "base_model.0.weight" in state_dict``); a TensorFlow restore names the graph variable the
    checkpoint lacks (``Key bert/embeddings/word_embeddings not found in checkpoint``), as do
    loaders that stop at the first missing key (:data:`FIRST_MISSING`). When
    that tensor is the network's first layer, nothing matched before it: the two sides name
    their layers otherwise (another scope, codebase or release), not one layer absent. A
    guess: the text shows one name.
    """
    facts = text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if FIRST_UNEXPECTED.search(facts.text) and len(unexpected) == 1 and not missing:
        names, side = unexpected, "the checkpoint's first tensor"
        if names[0].rsplit(".", 1)[-1] not in ("weight", "bias"):
            return
    elif FIRST_MISSING.search(facts.text) and len(missing) == 1 and not unexpected:
        names, side = missing, "the model's first tensor"
    else:
        return
    parts = names[0].split(".")
    if len(parts) < 2 or not (any(FIRST_LAYER.match(p) for p in parts[:-1]) or parts[1:2] == ["0"]):
        return
    # The first name opening with a wrapper's segment around a named network (TensorFlow's
    # "model" scope around resnet_v1_110/...): that wrapper is the likeliest difference, not
    # every name. A segment holding numbered layers (base_model.0) is the model's own.
    wrapped = parts[0] in WRAPPER_SEGMENTS and len(parts) > 2 and not parts[1].isdigit()
    wrapper = parts[0] if wrapped else ""
    ctx.add(
        Finding(
            category="prefix" if wrapper else "rename",
            severity="error",
            message=(
                f"the loader failed on {side}, {names[0]}, the network's first layer: nothing "
                "matched before it, so the two sides name their layers otherwise (another "
                "scope, codebase or release), not one layer absent"
                + (
                    f"; the name opens with '{wrapper}' ({WRAPPER_SEGMENTS[wrapper]}), which "
                    "the other side's names likely lack"
                    if wrapper
                    else ""
                )
            ),
            params=names,
            evidence={"first_key": names[0], **({"wrapper": wrapper} if wrapper else {})},
            confidence=0.4,
            fix_note=(
                "list both sides' names to map them (weightfit check CKPT --against TARGET), "
                "or load with the code version that saved the checkpoint"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


NO_MODULE_IN_CLASS = re.compile(
    r"There\s+is\s+no\s+module\s+or\s+parameter\s+named\s+'([\w.]+)'\s+in\s+(\w+)"
)
"""vLLM's weight loader walking the checkpoint's names and stopping at the first module path
the model class lacks: the path, and the class."""
TASK_CLASS = re.compile(r"[A-Z]\w*For[A-Z]\w+")
"""A transformers-style task class (``Qwen3ForCausalLM``, ``BertForSequenceClassification``):
its base model sits under one segment (``model.``, ``bert.``) beside the task's head."""


def bare_base_model(ctx: Context) -> None:
    """Report a task class refusing an input table at the top of the checkpoint: no wrapper.

    A task class holds its base model under one segment (``Qwen3ForCausalLM.model``); a
    checkpoint whose very first module is the input table itself (``embed_tokens``, not
    ``model.embed_tokens``) is a bare base model (saved from ``AutoModel``, an embedding
    model), so every name lacks that segment.
    """
    facts = text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches() or ctx.missing():
        return
    refused = NO_MODULE_IN_CLASS.search(facts.text)
    unexpected = ctx.unexpected()
    if (
        refused is None
        or unexpected != [refused.group(1)]
        or not TASK_CLASS.fullmatch(refused.group(2))
    ):
        return
    name, model = refused.groups()
    if not INPUT_TABLE.match(name.split(".", 1)[0]):
        return
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"{model} found no module '{name}': the checkpoint's first module is the input "
                f"table itself, where a task class holds it under its base model's segment "
                f"('model.{name}' in most decoders), so the file is a bare base model (saved "
                "from AutoModel, or an embedding model) and every name lacks that segment"
            ),
            params=unexpected,
            evidence={"first_key": name, "model_class": model},
            confidence=0.5,
            fix_note=(
                "load the file with the base model's class or task (vLLM: --task embed for an "
                "embedding model), or add the segment to every name "
                "(weightfit check CKPT --against TARGET --fix plan.yaml)"
            ),
        )
    )
    ctx.consume(unexpected=unexpected)


FIRST_MISSING = re.compile(
    r"\bKey\s+\S+\s+not\s+found\s+in\s+checkpoint|"
    r"Missing\s+key\s+in\s+checkpoint(?:\s+state_dict)?:\s*\S+|"
    r"\bweight\s+\S+\s+does\s+not\s+exist"
)
"""A loader stopping at the first model tensor the checkpoint lacks: a TensorFlow restore's
``Key X not found in checkpoint``, NeMo's and OpenNMT's ``Missing key in checkpoint: X``,
TGI's ``weight X does not exist``."""


def _whole_front(names: list[str]) -> bool:
    """Whether names are a network's front, not one layer kind repeated (``wi_1`` of every block).

    Tensors outside any layer stack (a stem, a first norm) and three or more kinds of layer.
    """
    kinds = {re.sub(r"\.\d+(?=\.|$)", "", name) for name in names}
    return any(stack_of(name) is None for name in names) and len(kinds) >= 3


def _looked_up(ctx: Context) -> list[str]:
    """Names the text shows only in a ``KeyError``."""
    facts = text_facts(ctx)
    return facts.key_errors if facts is not None else []


INPUT_TABLE = re.compile(r"^(?:embed_tokens|tok_embeddings|word_embeddings|wte|patch_embed)$")
"""Input embeddings: the first tensors of a model wherever a wrapper nests them."""


def _first_layer(name: str) -> bool:
    """Whether a name sits in a network's first layer (``conv1``, ``x.embed_tokens.weight``).

    Its top module says so, or an input embedding on its path does, or a first layer's
    module does on a path where every index is the first (``backbone.conv1``,
    ``body.0.estimator.conv1``; never ``layer4.0.conv1`` nor ``input_blocks.3.0.op``).
    """
    segments = name.split(".")
    stack = segments[0].endswith("s") and len(segments) > 2 and segments[1].isdigit()
    if stack and int(segments[1]) > 0:
        return False  # a later entry of a stack named for the input (``input_blocks.3``)
    if FIRST_LAYER.match(segments[0]) is not None or any(
        INPUT_TABLE.match(segment) for segment in segments[1:-1]
    ):
        return True
    path = segments[:-1]
    at_first = all(
        (index := re.search(r"\d+$", segment)) is None or int(index.group()) <= 1
        for segment in path
    ) and all(segment != "1" for segment in path)
    return at_first and any(FIRST_LAYER.match(segment) for segment in path[1:])


def _weight_loaded(missing: list[str]) -> bool:
    """Whether the first missing name is a bias whose module's weight is not missing: it loaded.

    A list of biases alone (``encoder.conv_in.bias`` without ``encoder.conv_in.weight``)
    is a model with biases the checkpoint's layers lack, not a checkpoint nothing matched.
    A lone name says nothing of its neighbours.
    """
    module, _, leaf = missing[0].rpartition(".")
    return len(missing) > 1 and leaf == "bias" and f"{module}.weight" not in missing


def _deeper_layers(names: list[str]) -> bool:
    """Whether every name sits in a layer stack past its first layer (``encoder.layer.12`` …)."""
    found = [stack_of(name) for name in names]
    return all(f is not None and f[1] >= 1 for f in found)


def first_tensors(names: list[str]) -> bool:
    """Whether missing names start at the model's beginning.

    An embedding or several top modules, and the first layer of a stack with its weights:
    buffers of layer 0 (CrossFormer's position ``biases`` and indexes) beside a final norm
    and head are what a classifier's file has and a backbone lacks, no front. Top modules
    that share one name stem (``count_feat_normalization``, ``count_decoder``) are one
    branch of the model, not its beginning.
    """
    tops = {name.split(".", 1)[0] for name in names}
    words = [top.strip("_").split("_") for top in tops]
    if len(tops) >= 2 and all(len(w) > 1 for w in words) and len({w[0] for w in words}) == 1:
        return False
    embedded = any("embed" in name.split(".")[-2] for name in names if "." in name)
    first_weights = any(
        (found := stack_of(name)) is not None and found[1] == 0 and name.endswith("weight")
        for name in names
    )
    return (len(tops) >= 2 or embedded) and first_weights and len(names) >= FIRST_TENSORS


STRUCTURAL_NAME = re.compile(r"(?:^|\.)\d+\.")
"""A name that follows a block's structure (``0.weight``, ``features.3.bias``)."""


STATED_START = re.compile(
    r"""\b(?:start|begin)(?:s|ing)?\s+with\s+(?:the\s+)?(?:prefix\s+)?[`'"]([A-Za-z_]\w*)\.?[`'"]""",
    re.I,
)
"""Prose giving the segment names start with (``it starts with `swin_vit` ``)."""
KEYS_WORD = re.compile(r"\bkeys?\b|state_?dict|\bparam(?:eter)?s?\b|\bweights?\b", re.I)


def stated_starts(ctx: Context) -> None:
    """Report prose saying one side's keys start with one segment and the other's with another.

    A user who read both sides' names often describes them by their first segment only
    (``the saved keys start with `swin_vit`, but load_from requires keys to start with
    `module` ``): two different leading segments are one prefix on one side (a wrapper's,
    ``module.``) or a module named otherwise, the same tensors under another root.
    """
    facts = text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    starts = list(dict.fromkeys(m.group(1) for m in STATED_START.finditer(facts.text)))
    if len(starts) != 2 or KEYS_WORD.search(facts.text) is None:
        return
    wrapper = next((s for s in starts if s in WRAPPER_SEGMENTS), None)
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"the text says the names start with '{starts[0]}' on one side and "
                f"'{starts[1]}' on the other: the same tensors under another leading segment"
                + (f" ('{wrapper}.' is {WRAPPER_SEGMENTS[wrapper]}'s)" if wrapper else "")
            ),
            evidence={"starts": starts},
            confidence=0.4,
            fix_note=(
                "list both sides' names (weightfit check CKPT --against TARGET): a wrapper's "
                "segment is stripped; a module named otherwise is renamed"
            ),
        )
    )


def gluon_names(ctx: Context) -> None:
    """Report MXNet Gluon looking up a prefix-named parameter a ``.params`` file lacks.

    Gluon names parameters by their blocks' prefixes (``net0_conv0_weight``); a file saved
    under another prefix, or by ``save_parameters`` (MXNet 1.2+: structural names such as
    ``features.0.weight``), holds other names for the same tensors. When MXNet lists the
    file's names and they are all structural, it is the second: the naming scheme of
    another save call (or MXNet release), not a prefix.
    """
    facts = text_facts(ctx)
    if facts is None or facts.gluon_missing is None or ctx.findings:
        return
    name, file = facts.gluon_missing
    held = facts.gluon_file_names
    if held and all(STRUCTURAL_NAME.search(n) for n in held):
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"MXNet Gluon looks up the prefix-named parameter {name}, and {file} holds "
                    f"structural names ({', '.join(held[:3])} …): the file was written by "
                    "save_parameters (or MXNet 1.2.0's save_params), whose names follow the "
                    "block structure, not the prefixes load_params looks up"
                ),
                params=[n for n in (name, *held) if n in (*ctx.missing(), *ctx.unexpected())],
                evidence={"parameter": name, "file": file, "file_names": held[:8]},
                confidence=0.5,
                fix_note=(
                    "load the file with load_parameters (net.load_parameters), or export the "
                    "network again with the MXNet release that loads it"
                ),
            )
        )
        ctx.consume(missing=[name], unexpected=held)
        return
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"MXNet Gluon looks up the prefix-named parameter {name} and {file} does not "
                "hold it: the file was saved under another block prefix, or with structural "
                "names (save_parameters, MXNet 1.2+)"
            ),
            params=[name] if name in ctx.missing() else [],
            evidence={"parameter": name, "file": file},
            confidence=0.5,
            fix_note=(
                "load with the call that saved it (load_parameters for save_parameters "
                "files), or build the network under the prefix the file's names carry"
            ),
        )
    )
    ctx.consume(missing=[n for n in ctx.missing() if n == name])
