"""Rules over what a loading message settles without tensors (the ``text`` profile).

``weightfit.explain``'s parsers read a message into a *fact* (one of the
dataclasses here, in ``facts["messages"]``); these rules turn facts into
findings: files of two precision variants mixed, tensors that share memory, an
unreadable safetensors header, globals PyTorch's weights-only unpickler refused,
and a LoRA weight that cannot take its layer's shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from weightfit import security
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import DEFAULT_CHANGED, text_facts
from weightfit.diagnose.text_rows import YOLO_WORDS, yolo_reshape
from weightfit.findings import Finding
from weightfit.knowledge import width_labels
from weightfit.manifest import counted

COMMON_RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""LoRA ranks people train with: a flat weight of N elements is often ``r × width``."""


@dataclass(frozen=True)
class VariantMix:
    """diffusers loaded files of a precision variant and unlabelled ones together."""

    variant: str
    variant_files: list[str]
    non_variant_files: list[str]


@dataclass(frozen=True)
class SharedTensors:
    """safetensors refused to save tensors that share memory, in these groups."""

    groups: list[list[str]]


@dataclass(frozen=True)
class UnreadableHeader:
    """safetensors could not read a file's header.

    Its words, the likely cause, and the one file of another format the text names (the
    file the reader was given), if any.
    """

    reason: str
    cause: str
    other_format: str = ""


@dataclass(frozen=True)
class RefusedGlobals:
    """PyTorch's weights-only unpickler refused a pickle naming these globals."""

    globals: list[str]


@dataclass(frozen=True)
class LoraReshape:
    """``shape '[a, b]' is invalid for input of size N``, and the other numbers of the log."""

    expected: tuple[int, ...]
    size: int
    numbers: frozenset[int]


Fact = TypeVar("Fact")


def _facts(ctx: Context, kind: type[Fact]) -> Iterator[Fact]:
    for fact in ctx.facts.get("messages", ()):
        if isinstance(fact, kind):
            yield fact


def variant_mix(ctx: Context) -> None:
    """``dtype_variant``: a variant and its unlabelled copy loaded side by side."""
    for fact in _facts(ctx, VariantMix):
        variant, others = fact.variant, fact.non_variant_files
        folders = sorted({n.split("/", 1)[0] for n in others if "/" in n})
        ctx.add(
            Finding(
                category="dtype_variant",
                severity="warning",
                message=(
                    f"{variant} and unlabelled weight files are mixed: "
                    f"{len(others)} file(s) without the {variant} label will be "
                    f"loaded beside the {variant} ones"
                    + (f" (in {', '.join(folders)})" if folders else "")
                ),
                params=others,
                evidence={
                    "variant": variant,
                    "variant_files": fact.variant_files,
                    "non_variant_files": others,
                    "folders": folders,
                },
                confidence=0.8,
                fix_note=(
                    f"a component folder holds both a {variant} copy and an unlabelled (usually "
                    f"fp32) copy; diffusers < 0.33 fetched both. Upgrade diffusers, or label or "
                    f"remove the unlabelled copy"
                ),
            )
        )


def shared_tensors(ctx: Context) -> None:
    """``tied_weights``: tensors that share memory, which safetensors will not save twice."""
    for fact in _facts(ctx, SharedTensors):
        groups = fact.groups
        ctx.add(
            Finding(
                category="tied_weights",
                severity="warning",
                message=(
                    f"{counted(len(groups), 'group')} of tensors "
                    f"{'shares' if len(groups) == 1 else 'share'} memory (tied weights): "
                    + "; ".join(" = ".join(g) for g in groups)
                ),
                params=[name for group in groups for name in group],
                evidence={"library": "safetensors", "shared": groups},
                confidence=0.95,
                fix_note=(
                    "save with safetensors.torch.save_model (it keeps one copy of each tied "
                    "tensor) or model.save_pretrained; the model re-ties them when it loads"
                ),
            )
        )


def unreadable_header(ctx: Context) -> None:
    """Report a safetensors header that cannot be read.

    ``partitioned`` (an incomplete download), or ``unrelated`` when the file given is of
    another format (a ``.pth`` opened as safetensors), ``version`` when the text calls that
    file the project's old one (its code has moved to safetensors since).
    """
    for fact in _facts(ctx, UnreadableHeader):
        reason, cause = fact.reason, fact.cause
        if fact.other_format:
            facts = text_facts(ctx)
            older = facts is not None and called_older(facts.text, fact.other_format)
            ctx.add(other_format_finding(reason, fact.other_format, older=older))
            continue
        ctx.add(
            Finding(
                # An interrupted or never-finished download: the file is incomplete.
                category="partitioned",
                severity="error",
                message=(
                    f"the safetensors header cannot be read ({reason}); no tensor of the "
                    f"checkpoint can be loaded" + (f": {cause}" if cause else "")
                ),
                evidence={"library": "safetensors", "error": reason, "likely_cause": cause},
                confidence=0.7 if cause else 0.4,
                fix_note="download the file again (git lfs pull for a pointer file)",
            )
        )


OLDER_FILE = re.compile(r"\b(?:old|older|legacy|previous|earlier|pre-?\w+)\s+[`'\"]?$", re.I)
"""Words calling a file the project's old one, just before its name (``an old `.pth` model``)."""


def called_older(text: str, file: str) -> bool:
    """Whether the text calls the file of another format an old or legacy one of the project."""
    return any(
        OLDER_FILE.search(text[max(m.start() - 24, 0) : m.start()])
        for m in re.finditer(re.escape(file), text)
    )


def other_format_finding(said: str, file: str, *, older: bool = False) -> Finding:
    """``unrelated``: a file of another format (a ``.pth``) given to another format's reader.

    A safetensors reader, or a runtime checking its own format's magic number (GGML). When
    the text calls that file an old or legacy one (``loading an old `.pth` model``), the
    project's code moved to the reader's format since the file was written: ``version``.
    """
    if older:
        return Finding(
            category="version",
            severity="error",
            message=(
                f"the reader cannot read the file's header ({said}) and the file given is an "
                f"older {file} of the project: its code now reads another format than the one "
                "its earlier releases wrote"
            ),
            evidence={"error": said, "file": file, "called_older": True},
            confidence=0.5,
            fix_note=f"load {file} with the release that wrote it, or convert it to the format "
            "the code reads now (weightfit inspect shows what it holds)",
        )
    return Finding(
        category="unrelated",
        severity="error",
        message=(
            f"the reader cannot read the file's header ({said}) and the file given is {file}, "
            "of another format than the reader's: the loader wants another file (or this one "
            "converted)"
        ),
        evidence={"error": said, "file": file},
        confidence=0.6,
        fix_note=f"see what {file} holds (weightfit inspect {file}) and pass the file the "
        "loader expects",
    )


def refused_globals(ctx: Context) -> None:
    """``version`` or ``extra_state``: non-tensor objects a weights-only load refused.

    Harmless globals are PyTorch 2.6's ``weights_only`` default change; globals that
    can run code stay ``extra_state``, with a verdict for each.
    """
    for fact in _facts(ctx, RefusedGlobals):
        verdicts = [security.verdict(*full.rpartition(".")[::2]) for full in fact.globals]
        rows = [{"global": g, "verdict": v} for g, v in zip(fact.globals, verdicts, strict=True)]
        worst = security.worst(*verdicts) if rows else None
        listed = ", ".join(row["global"] for row in rows) or "a global it does not allow"
        dangerous = [row["global"] for row in rows if row["verdict"] == "dangerous"]
        note = (
            f"never load it with weights_only=False: {', '.join(dangerous)} can run code"
            if dangerous
            else "the tensors are readable without unpickling anything: convert the checkpoint "
            "to safetensors (weightfit fix) or allowlist only the globals you trust with "
            "torch.serialization.add_safe_globals; weights_only=False runs whatever the file names"
        )
        # Real threads settle a refusal of harmless globals as the PyTorch 2.6 default
        # change (the code loaded the file before); a global that can run code stays
        # the finding, unless pickle itself writes it for ordinary objects (the note
        # keeps the danger either way).
        flipped = all(name in PICKLE_OWN_GLOBALS for name in dangerous)
        ctx.add(
            Finding(
                category="version" if flipped else "extra_state",
                severity="error",
                message=(
                    "torch.load(weights_only=True)"  # trusted: the user's loader named, no load
                    " refused the checkpoint: "
                    + (
                        f"the pickle names {listed}"
                        if rows
                        else "the pickle holds what the weights-only unpickler does not read"
                    )
                    + ", non-tensor objects saved beside the weights (training arguments, "
                    "numpy values, custom classes)"
                    + (
                        (
                            "; the code asks for a weights-only load, and older PyTorch "
                            "releases' weights-only unpickler reads fewer opcodes and globals"
                            if _asked_weights_only(ctx)
                            else "; PyTorch 2.6 made weights_only=True the default, so code "
                            "that loaded it before now fails"
                        )
                        if flipped
                        else ""
                    )
                ),
                evidence={
                    "library": "torch",
                    "globals": rows,
                    "worst_verdict": worst,
                    **({"version": "2.6.0"} if flipped else {}),
                },
                confidence=0.9 if rows else 0.6,
                fix_note=note,
            )
        )


ASKED_WEIGHTS_ONLY = re.compile(r"weights_only\s*=\s*True\b(?!`)")
"""A code line passing ``weights_only=True`` itself (not PyTorch's message quoting it)."""


def _asked_weights_only(ctx: Context) -> bool:
    """Whether the traceback's code asked for the weights-only load itself.

    PyTorch 2.6's message saying the default changed settles that the caller did not.
    """
    facts = text_facts(ctx)
    return (
        facts is not None
        and ASKED_WEIGHTS_ONLY.search(facts.text) is not None
        and DEFAULT_CHANGED.search(facts.text) is None
    )


PICKLE_OWN_GLOBALS = frozenset({"getattr", "builtins.getattr", "__builtin__.getattr"})
"""Dangerous globals Python's pickle writes for ordinary objects: a bound method reduces to
``getattr(obj, name)``, so a model object holding one pickles ``getattr`` (Ultralytics'
trained detectors do). They can be abused, but they say nothing of a hostile file."""
CHECKPOINT_LOAD = re.compile(
    r"load(?:ing)?[_ ]?(?:weights|checkpoint|state_dict|pretrained)|checkpoint|\.pth?\b|"
    r"\.ckpt\b|torch\.load|view_as|invalid\s+for\s+input\s+with\s+\d+\s+elements",
    re.I,
)
"""Words of a checkpoint (not an adapter) being loaded: the reshaped weight is the model's own.
The TH storage's ``invalid for input with N elements`` is PyTorch < 1.0's, years before LoRA."""


def lora_reshape(ctx: Context) -> None:
    """Factor a reshaped weight's size against its layer's shape, and say whose weight it is.

    In quantized-weight code with no adapter named: packed weights of another layout
    (``quantization``). While a checkpoint loads and no adapter is named: the model's own
    weights, made for another configuration (``wrong_variant``). Otherwise a LoRA made for
    another base (``lora_mismatch``).
    """
    facts = text_facts(ctx)
    in_quantized_code = facts is not None and facts.quantization and not facts.lora
    own_weights = (
        facts is not None and not facts.lora and CHECKPOINT_LOAD.search(facts.text) is not None
    )
    for fact in _facts(ctx, LoraReshape):
        if in_quantized_code:
            # The reshape failed inside quantized-weight code and nothing names an adapter:
            # the packed weights were written in another layout than the kernel reads.
            ctx.add(_packed_reshape(fact.expected, fact.size, facts.quantization))
            continue
        heads = _fused_kv_heads(fact.expected, fact.size)
        if heads is not None:
            ctx.add(_fewer_kv_heads(fact.expected, fact.size, *heads))
            continue
        yolo = yolo_reshape(fact.expected, fact.size) if own_weights else None
        if yolo is not None and YOLO_WORDS.search(facts.text):
            ctx.add(yolo)
            continue
        finding = _reshape_finding(fact.expected, fact.size, set(fact.numbers))
        if own_weights and _short_of_one_row(fact.expected, fact.size):
            # 36863 elements for 36864: no configuration differs by less than a row;
            # the file was read misaligned (a header or format matter).
            ctx.add(_misaligned(fact.expected, fact.size))
            continue
        if own_weights and _fits_no_shape(finding) and _release_of_code(facts.text):
            # The code's own model's released file, read value by value, ran out: no other
            # configuration is named, so the file is cut short.
            finding = _cut_short(finding)
        elif own_weights:
            finding = _own_weights(finding)
        elif not (facts and facts.lora) and _fits_no_shape(finding):
            # Fewer values than the layer takes, in no shape one axis apart, and neither an
            # adapter nor a checkpoint of another configuration named: the values ran out.
            finding = _cut_short(finding)
        ctx.add(finding)


QKV_AXIS = 3
"""The axis of a fused query/key/value weight viewed per head: ``[heads, 3, head_dim, width]``."""


def _fused_kv_heads(expected: tuple[int, ...], size: int) -> tuple[int, int] | None:
    """``(query heads, key/value heads)`` when a fused q/k/v weight holds fewer k/v heads.

    Falcon-7B's ``query_key_value`` viewed as ``[71, 3, 64, 4544]`` holds 21229568 values:
    ``73 × 64 × 4544``, 71 query heads and one key and one value head (multi-query
    attention), where the view assumed 71 of each.
    """
    if QKV_AXIS not in expected[1:2] or len(expected) < 3:
        return None
    heads = expected[0]
    per_head = math.prod(expected) // (QKV_AXIS * heads)
    if heads < 2 or not per_head or size % per_head:
        return None
    total = size // per_head
    kv_heads, odd = divmod(total - heads, 2)
    if odd or not 1 <= kv_heads < heads or heads % kv_heads:
        return None
    return heads, kv_heads


def _fewer_kv_heads(expected: tuple[int, ...], size: int, heads: int, kv_heads: int) -> Finding:
    """``wrong_variant``: grouped or multi-query attention viewed with a k/v head per head."""
    return Finding(
        category="wrong_variant",
        severity="error",
        message=(
            f"a fused query/key/value weight of {size} elements holds {heads} query heads and "
            f"{counted(kv_heads, 'key/value head')} ({heads} + 2 × {kv_heads} heads), "
            "where the code "
            f"viewed it as {list(expected)}, {heads} of each: the model uses "
            f"{'multi-query' if kv_heads == 1 else 'grouped-query'} attention its config does "
            "not declare"
        ),
        evidence={
            "expected_shape": list(expected),
            "elements": size,
            "query_heads": heads,
            "kv_heads": kv_heads,
        },
        confidence=0.55,
        fix_note=(
            f"set the number of key/value heads to {kv_heads} in the config the converter or "
            "loader reads (num_kv_heads / n_head_kv / multi_query)"
        ),
    )


def _short_of_one_row(expected: tuple[int, ...], size: int) -> bool:
    """Whether ``size`` differs from the shape's element count by less than its smallest axis."""
    axes = [d for d in expected if d > 1]
    return bool(axes) and 0 < abs(math.prod(expected) - size) < min(axes)


def _misaligned(expected: tuple[int, ...], size: int) -> Finding:
    """A weight read from a raw stream a few values off: the file's layout is another's."""
    want = math.prod(expected)
    return Finding(
        category="version",
        severity="error",
        message=(
            f"a weight read from the file has {size} elements where the layer's shape "
            f"{list(expected)} takes {want}: fewer than one row apart, which no configuration "
            "of the model explains. The reader and the file disagree on the file's layout (a "
            "header of another length, another version of the format), so every value after "
            "it was read shifted"
        ),
        evidence={"expected_shape": list(expected), "elements": size, "expected_elements": want},
        confidence=0.4,
        fix_note=(
            "check the file's header against the reader (its version fields and length), or "
            "use the reader of the version that wrote the file"
        ),
    )


DARKNET_RELEASE = re.compile(r"(?<![\w\-])(yolov\d)\.weights\b", re.I)
"""A Darknet release's weights file, by its plain name (``yolov3.weights``): one flat stream
of values that a reader takes layer by layer, with no names to check."""
YOLO_VERSION = re.compile(r"yolo[\s_\-]*v?(\d)(?!\d)|--yolo\s+(\d)\b", re.I)
"""A YOLO version the text names: the code's folder or module, a command's option."""


def _release_of_code(text: str) -> str:
    """The one plain Darknet release file a text names, when it is the code's own version.

    ``yolov3.weights`` read by code under ``YOLOV3/`` names one version throughout: no other
    configuration (a ``-tiny`` file, ``--yolo 4`` against a v3 file) is in play, so a reader
    that runs out of values was given a file cut short.
    """
    named = {m.group(1).lower() for m in DARKNET_RELEASE.finditer(text)}
    if len(named) != 1:
        return ""
    release = named.pop()
    versions = {m.group(1) or m.group(2) for m in YOLO_VERSION.finditer(text)}
    return release if versions == {release[-1]} else ""


def _fits_no_shape(finding: Finding) -> bool:
    """Whether a reshape finding's weight is short of its layer and no other shape explains it."""
    evidence = finding.evidence
    return "implied_shape" not in evidence and evidence["elements"] < evidence["expected_elements"]


def _cut_short(finding: Finding) -> Finding:
    """The reshape finding read as a weight whose values ran out (``partitioned``)."""
    evidence = finding.evidence
    return Finding(
        category="partitioned",
        severity="error",
        message=(
            f"a weight has {evidence['elements']} values where its shape "
            f"{evidence['expected_shape']} takes {evidence['expected_elements']}, and no shape "
            "one axis apart from it holds that many: no configuration of the model explains "
            "the count, so the values ran out. The weights file is cut short, or the weights "
            "are split over several files and only some were read"
        ),
        evidence=evidence,
        confidence=0.4,
        fix_note=(
            "compare the weight files' sizes with the source's and download again; if the "
            "weights come in several shards, give the loader all of them (or re-export as one)"
        ),
    )


def _own_weights(finding: Finding) -> Finding:
    """The reshape finding read as a checkpoint's own weight: another configuration."""
    evidence = finding.evidence
    implied = evidence.get("implied_shape")
    return Finding(
        category="wrong_variant",
        severity="error",
        message=(
            f"a checkpoint weight of {evidence['elements']} elements cannot take the layer's "
            f"shape {evidence['expected_shape']} ({evidence['expected_elements']} elements)"
            + (f": it is {implied}," if implied else ",")
            + " the checkpoint was made for another configuration of the model"
        ),
        evidence=evidence,
        confidence=0.6,
        fix_note=(
            "build the model with the configuration the checkpoint was trained with (its "
            "config file, or the variant its name says), or use the matching checkpoint"
        ),
    )


def _packed_reshape(expected: tuple[int, ...], size: int, words: list[str]) -> Finding:
    want = math.prod(expected)
    return Finding(
        category="quantization",
        severity="error",
        message=(
            f"a reshape to {list(expected)} ({want} elements) got {size} elements in code "
            f"that handles quantized weights ({', '.join(words[:4])}): the packed weights were "
            f"written in another layout (quantizer version or packing) than this kernel reads"
        ),
        evidence={
            "expected_shape": list(expected),
            "elements": size,
            "expected_elements": want,
            "quantization_words": words,
        },
        confidence=0.6,
        fix_note=(
            "re-quantize with the version the loader expects, or load the weights with the "
            "quantizer (and version) that wrote them"
        ),
    )


def _reshape_finding(expected: tuple[int, ...], size: int, numbers: set[int]) -> Finding:
    candidates = implied_shapes(expected, size)
    scored = sorted(
        candidates,
        key=lambda c: (-(bool(width_labels(c[1])) * 2 + (c[1] in numbers)), c[1]),
    )
    want = math.prod(expected)
    evidence: dict[str, object] = {
        "expected_shape": list(expected),
        "elements": size,
        "expected_elements": want,
    }
    if not scored:
        return Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"a weight of {size} elements cannot take the layer's shape {list(expected)} "
                f"({want} elements): the adapter was made for another base model"
            ),
            evidence=evidence,
            confidence=0.5,
            fix_note="use an adapter made for this base model",
        )
    implied, value, axis = scored[0]
    ours = expected[axis] if axis < len(expected) else None
    labels = width_labels(value)
    base_labels = width_labels(ours) if ours else []
    evidence.update(
        {
            "implied_shape": list(implied),
            "implied_width": value,
            "model_width": ours,
            "implied_width_matches": labels,
            "model_width_matches": base_labels,
        }
    )
    fits = f" ({', '.join(labels[:3])})" if labels else ""
    base = f" ({', '.join(base_labels[:2])})" if base_labels else ""
    return Finding(
        category="lora_mismatch",
        severity="error",
        message=(
            f"the adapter does not fit this base: a weight of {size} elements is "
            f"{list(implied)}, the layer expects {list(expected)}; it was made for a base "
            f"of width {value}{fits}, this one is {ours}{base}"
        ),
        evidence=evidence,
        confidence=0.85 if labels else 0.6,
        fix_note=(
            f"not shape-repairable: load the adapter onto the base it was trained for "
            f"(width {value}{fits})"
        ),
    )


def implied_shapes(expected: tuple[int, ...], size: int) -> list[tuple[tuple[int, ...], int, int]]:
    """Shapes of ``size`` elements that differ from ``expected`` in one axis (or a rank split).

    Returns:
        ``(shape, new size of the changed axis, axis)`` for each candidate.
    """
    found = []
    for axis in range(len(expected)):
        others = math.prod(expected) // expected[axis] if expected[axis] else 0
        if others and size % others == 0 and size // others != expected[axis]:
            value = size // others
            found.append(((*expected[:axis], value, *expected[axis + 1 :]), value, axis))
    if not found and len(expected) == 2:
        # A flat adapter half of r × width: try the usual ranks against the expected axes.
        for rank in COMMON_RANKS:
            if size % rank == 0 and width_labels(size // rank):
                found.append(((rank, size // rank), size // rank, 1))
    return found
