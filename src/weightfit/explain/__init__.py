"""``weightfit.explain``: diagnose a loading error from its text alone, no files at hand.

Each parser reads one family of messages (:mod:`.torch_messages`,
:mod:`.transformers_messages`, :mod:`.other_messages`, :mod:`.lora_reshape`) into
sections (:class:`~weightfit.explain._text.Section`): per model, the tensors whose shapes
differ (both sides known), the names missing from the checkpoint (model side
only) and the unexpected ones (checkpoint side only). Each section becomes two
*partial* manifests (format ``error-text``: they hold only what the text names)
that go through the same :func:`~weightfit.align.align`,
:func:`~weightfit.diagnose.diagnose` (its ``text`` profile) and
:func:`~weightfit.ranking.build_report` as ``check``. A name the text gives without a
shape gets shape ``[]`` and dtype ``?``.

Several models in one log make one report: each section is diagnosed on its own,
every finding's evidence names its ``model``, and when more than one section
names tensors their names are written ``Model/name`` in the report. Messages
about the same model (transformers prints its missing and unexpected keys
separately) are one section. What the text settles without tensors (unsafe
pickle globals, LoRA reshapes, unreadable safetensors headers, shared tensors,
mixed variants) the parsers record as facts, and the same ``text`` profile of
the rules turns them into findings of the same report. Where the text cannot settle a cause,
the hints name the command that would.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from weightfit.align import align
from weightfit.alignment import Alignment, Pair
from weightfit.diagnose import diagnose
from weightfit.diagnose._facts import TEXT_FACTS
from weightfit.diagnose.rivals import rivals
from weightfit.diagnose.text_tensors import is_adapter_tensor
from weightfit.errors import NoLoadingErrorFound
from weightfit.explain import (
    extract,
    ggml_messages,
    lora_reshape,
    other_messages,
    paste,
    resemblance,
    statements,
    tf_messages,
    torch_messages,
    transformers_messages,
)
from weightfit.explain._text import Section, clean
from weightfit.findings import Finding, Report
from weightfit.fix_hint import FixTarget
from weightfit.manifest import UNKNOWN_DTYPE, Manifest, TensorSpec, counted
from weightfit.ranking import build_report

HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
"""``ORG/REPO`` as ``huggingface_hub.utils.validate_repo_id`` accepts it (two parts)."""

FORMAT = "error-text"
"""The ``format`` of manifests built from error text (diagnosed with the ``text`` profile)."""

SOURCE = "<error text>"
"""``Report.source`` of an explained error."""

MAX_INPUT_CHARS = 20_000_000
"""Longest text read after windowing (:func:`~weightfit.explain.paste.window`)."""

PARSERS = (
    torch_messages.parse,
    transformers_messages.parse,
    other_messages.parse,
    lora_reshape.parse,
    tf_messages.parse,
    ggml_messages.parse,
)
"""Every message family, each ``parse(clean_text) -> list[Section]``."""

__all__ = ["explain", "explained", "sections"]


def explain(text: str | bytes, *, resemble: bool = True) -> Report:
    r"""Diagnose the loading error in a log, as ``check`` would with the files at hand.

    Args:
        text: A pasted log or exception message (colours, terminal wrapping and
            truncated lists are handled). Bytes are decoded as UTF-8.
        resemble: When no rule explains the loading error, name what the settled threads
            most like the text were (:mod:`.resemblance`); ``False`` keeps to the rules.

    Returns:
        A :class:`~weightfit.findings.Report` shaped like ``check``'s, with
        ``source`` ``"<error text>"`` and ``target`` the model class(es) named.

    Raises:
        NoLoadingErrorFound: the text holds no loading error weightfit knows (exit 2).

    Example:
        >>> report = explain(
        ...     "RuntimeError: Error(s) in loading state_dict for DiT:\n\tsize mismatch for "
        ...     "x_embedder.proj.weight: copying a param with shape torch.Size([1152, 4, 2, 2]) "
        ...     "from checkpoint, the shape in current model is torch.Size([1152, 4, 1, 2, 2]).")
        >>> [f.category for f in report.findings]
        ['rank_inflate']

    """
    cleaned = readable(text)
    found = _sections(cleaned)
    tensor_sections = [s for s in found if s.has_tensors]
    labelled = _colliding(tensor_sections)
    parts: list[Alignment] = []
    findings: list[Finding] = []
    for index, section in enumerate(found):
        label = _label(section, index)
        # The whole text's facts make their findings once, with the first section.
        text_facts = {
            TEXT_FACTS: section.text_facts,
            "first": index == 0,
            "truncated": section.truncated,
        }
        if section.has_tensors:
            alignment, diagnosed = _diagnose(section, label, text_facts)
            if labelled:
                alignment, diagnosed = _namespaced(alignment, diagnosed, label)
            parts.append(alignment)
            findings += diagnosed
        if section.facts or not section.has_tensors:
            facts = {"messages": section.facts, **text_facts}
            if section.has_tensors:
                facts["first"] = False
            findings += diagnose(_empty(label), profile="text", facts=facts)
    alignment = _merged(parts)
    report = build_report(alignment, findings, fix_target=_fix_target(found))
    report.findings[1:1] = rivals(report)
    unknown = report.findings[0] if report.findings else None
    if resemble and unknown is not None and unknown.category == "unknown":
        like = resemblance.resembling(cleaned)
        if like is not None:
            named = unknown.evidence.get("files") or [_fix_target(found).checkpoint]
            answer = like.finding(str(named[0]))
            # The unknown's rivals stay: resemblance picked one cause among them.
            others = [f for f in report.findings if f.category != answer.category]
            report.findings = [answer, *others]
    models = list(dict.fromkeys(s.model for s in found if s.model))
    report.target = ", ".join(models) or "<model in the log>"
    report.hints = [*report.hints, *_hints(found, tensor_sections)]
    return report


def sections(text: str | bytes) -> list[Section]:
    """Parse a log into the loading messages it holds, one section per model, in text order.

    Raises:
        NoLoadingErrorFound: binary or empty input, or no message weightfit knows.
    """
    return _sections(readable(text))


def readable(text: str | bytes) -> str:
    """The text as the parsers read it: decoded, windowed and with pasting undone.

    Raises:
        NoLoadingErrorFound: binary or empty input.
    """
    if isinstance(text, bytes):
        if b"\x00" in text[:65536]:
            raise NoLoadingErrorFound("the input is binary, not a log")
        text = paste.decode(text)
    else:
        text = paste.window(text)
    if not text.strip():
        raise NoLoadingErrorFound("the input is empty")
    if _binary(text):
        raise NoLoadingErrorFound("the input is binary, not a log")
    return paste.normalise(clean(text[:MAX_INPUT_CHARS]))


def _sections(cleaned: str) -> list[Section]:
    """:func:`sections` of a :func:`readable` text."""
    facts = statements.facts(cleaned)
    found = sorted(
        (section for parse in PARSERS for section in parse(cleaned)), key=lambda s: s.start
    )
    merged: list[Section] = []
    by_model: dict[str, Section] = {}
    for section in found:
        _set_aside_scalars(section, facts)
        if not (section.has_tensors or section.facts):
            continue
        section.text_facts = facts
        twin = next((earlier for earlier in merged if _repeats(earlier, section)), None)
        if twin is not None:  # the same message printed again (a log line and a raise)
            twin.merge(section)
            continue
        same = by_model.get(section.model) if section.model else None
        if same is not None and not (set(same.mismatched) & set(section.mismatched)):
            same.merge(section)
            continue
        merged.append(section)
        if section.model:
            by_model[section.model] = section
    generic = _uncovered(extract.extract(cleaned, facts), merged)
    _set_aside_scalars(generic, facts)
    if generic.has_tensors:
        merged.append(generic)
    if not merged and facts.loading_error:
        merged.append(Section(model=facts.model_class, origin="text", start=0, text_facts=facts))
    if merged:
        merged[0].hints += [h for h in statements.hints(facts) if h not in merged[0].hints]
    if not merged:
        raise NoLoadingErrorFound(
            "the text names no tensor with shapes, no missing or unexpected keys and no "
            "failure to load a model or weight file"
        )
    return merged


def _repeats(earlier: Section, later: Section) -> bool:
    """Whether ``later`` names the very tensors ``earlier`` does, for the same model."""
    return (
        later.has_tensors
        and later.model == earlier.model
        and later.mismatched == earlier.mismatched
        and set(later.missing) == set(earlier.missing)
        and set(later.unexpected) == set(earlier.unexpected)
    )


def _set_aside_scalars(section: Section, facts: statements.Facts) -> None:
    """Keep a 0-d tensor's mismatch (``torch.Size([])``) against a sized one as a bare name.

    A scalar against ``[1]`` holds the same value in another layout and stays (a layout
    rule reads it); against ``[5]`` the shape rules have no axis to reason over, and the
    name alone still tells its role (its shapes kept in ``facts.scalar_pairs``).
    """
    for name, (have, want) in list(section.mismatched.items()):
        if (not have or not want) and max(math.prod(have), math.prod(want)) > 1:
            del section.mismatched[name]
            facts.scalar_pairs[name] = (have, want)
            if name not in facts.unshaped:
                facts.unshaped.append(name)


def _uncovered(generic: Section, parsed: list[Section]) -> Section:
    """Keep only what the generic extractor read that no library parser did."""
    covered = {n for s in parsed for n in (*s.mismatched, *s.missing, *s.unexpected)}
    # A parser that reads a message into PyTorch's layout names its shapes in another order.
    same_dims = {_dims(pair) for s in parsed for pair in s.mismatched.values()}
    generic.mismatched = {
        n: v
        for n, v in generic.mismatched.items()
        if n not in covered and _dims(v) not in same_dims
    }
    generic.missing = [n for n in generic.missing if n not in covered]
    generic.unexpected = [n for n in generic.unexpected if n not in covered]
    if any(s.model == generic.model for s in parsed if s.model):
        generic.model = ""
    return generic


def _dims(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[tuple[int, ...], ...]:
    """A mismatch's two shapes with their axes sorted, either side first.

    The same pair in any axis order, whichever side a reader printed first (Keras prints
    the layer's shape first).
    """
    return tuple(sorted(tuple(sorted(shape)) for shape in pair))


@contextmanager
def explained() -> Iterator[None]:
    """Re-raise a loading error with weightfit's diagnosis added to its message.

    The new exception has the original's type and is chained to it (``from``);
    an exception whose text holds no loading error passes through untouched.

    Example:
        >>> with explained():  # doctest: +SKIP
        ...     model.load_state_dict(state_dict)
        RuntimeError: Error(s) in loading state_dict for DiT: ...
        weightfit explain: rank_inflate: model expects more axes than the checkpoint has ...

    """
    try:
        yield
    except Exception as error:
        try:
            report = explain(f"{type(error).__name__}: {error}", resemble=False)
        except NoLoadingErrorFound:
            raise error from None
        text = f"{error}\n\n{diagnosis_text(report)}"
        try:
            replacement = type(error)(text)
        except Exception:
            error.add_note(diagnosis_text(report))
            raise
        raise replacement from error


def diagnosis_text(report: Report) -> str:
    """Plain lines for an exception message: one per finding, then the hints."""
    lines = [f"weightfit explain: {counted(len(report.findings), 'finding')}"]
    for finding in report.findings:
        lines.append(f"- {finding.category}: {finding.message}")
        if finding.fix_note:
            lines.append(f"  fix: {finding.fix_note}")
    lines += [f"hint: {hint}" for hint in report.hints]
    return "\n".join(lines)


def _label(section: Section, index: int) -> str:
    return section.model or f"{section.origin}#{index + 1}"


def _diagnose(
    section: Section, label: str, text_facts: dict[str, object]
) -> tuple[Alignment, list[Finding]]:
    """Align and diagnose one section's partial manifests; LoRA halves are set aside as facts."""
    adapters = {n: s for n, s in section.mismatched.items() if is_adapter_tensor(n)}
    source, target = _manifests(section, label, skip=set(adapters))
    facts = {"lora_halves": adapters, "model": label, **text_facts}
    findings = diagnose(align(source, target), profile="text", facts=facts)
    if adapters and not any(
        f.category == "lora_mismatch" or not adapters.keys().isdisjoint(f.params) for f in findings
    ):
        # No LoRA reading explains them: the general rules read the adapter tensors too.
        source, target = _manifests(section, label, skip=set())
        facts["lora_halves"] = {}
        findings = diagnose(align(source, target), profile="text", facts=facts)
    for finding in findings:
        if section.model:
            finding.evidence.setdefault("model", section.model)
        elif finding.evidence.get("model") == label:  # ours (``text#1``), not the log's
            del finding.evidence["model"]
    full_source, full_target = _manifests(section, label, skip=set())
    return align(full_source, full_target), findings


def _empty(label: str) -> Alignment:
    """No tensors: for the facts a message settles alone."""
    return Alignment(
        source=Manifest(tensors={}, source=SOURCE, format=FORMAT),
        target=Manifest(tensors={}, source=label, format=FORMAT),
    )


def _manifests(section: Section, label: str, skip: set[str]) -> tuple[Manifest, Manifest]:
    """The checkpoint-side and model-side partial manifests of one section."""
    source: dict[str, TensorSpec] = {}
    target: dict[str, TensorSpec] = {}
    for name, (have, want) in section.mismatched.items():
        if name not in skip:
            source[name] = TensorSpec(name=name, shape=have, dtype="F32")
            target[name] = TensorSpec(name=name, shape=want, dtype="F32")
    for name in section.unexpected:
        source.setdefault(name, TensorSpec(name=name, shape=(), dtype=UNKNOWN_DTYPE))
    for name in section.missing:
        target.setdefault(name, TensorSpec(name=name, shape=(), dtype=UNKNOWN_DTYPE))
    where = section.checkpoint or SOURCE
    return (
        Manifest(tensors=source, source=where, format=FORMAT),
        Manifest(tensors=target, source=label, format=FORMAT),
    )


def _colliding(sections: list[Section]) -> bool:
    """Whether two sections name one tensor: only then are names written ``label/name``."""
    seen: set[str] = set()
    for section in sections:
        names = {*section.mismatched, *section.missing, *section.unexpected}
        if names & seen:
            return True
        seen |= names
    return False


def _namespaced(
    alignment: Alignment, findings: list[Finding], label: str
) -> tuple[Alignment, list[Finding]]:
    """Write every name of one section as ``label/name``, so sections never collide."""

    def name(n: str) -> str:
        return f"{label}/{n}"

    def manifest(m: Manifest) -> Manifest:
        tensors = {name(n): dataclasses.replace(s, name=name(n)) for n, s in m.tensors.items()}
        return dataclasses.replace(m, tensors=tensors)

    renamed = Alignment(
        source=manifest(alignment.source),
        target=manifest(alignment.target),
        pairs=[Pair(name(p.source), name(p.target), p.via) for p in alignment.pairs],
        missing=[name(n) for n in alignment.missing],
        unexpected=[name(n) for n in alignment.unexpected],
    )
    for finding in findings:
        finding.params = [name(n) for n in finding.params]
    return renamed, findings


def _merged(parts: list[Alignment]) -> Alignment:
    """One alignment holding every section's, for the report's counts."""
    if len(parts) == 1:
        return parts[0]
    source: dict[str, TensorSpec] = {}
    target: dict[str, TensorSpec] = {}
    merged = Alignment(
        source=Manifest(tensors=source, source=SOURCE, format=FORMAT),
        target=Manifest(tensors=target, source="<models in the log>", format=FORMAT),
    )
    for part in parts:
        source.update(part.source.tensors)
        target.update(part.target.tensors)
        merged.pairs += part.pairs
        merged.missing += part.missing
        merged.unexpected += part.unexpected
    return merged


def _hints(found: list[Section], tensor_sections: list[Section]) -> list[str]:
    """What would settle what the text cannot: the check command, the cut lists."""
    hints = [hint for section in found for hint in section.hints]
    models: dict[str, list[str]] = {}  # per checkpoint argument, the model classes named
    for section in tensor_sections:
        named = models.setdefault(_checkpoint_argument(section.checkpoint), [])
        if section.model and section.model not in named:
            named.append(section.model)
    for checkpoint, named in models.items():
        folder = (
            f"the config.json or model folder of {' or '.join(named)}"
            if named
            else "the model's config.json or folder"
        )
        hints.append(
            "the log names only the tensors that differ; for the whole picture run: "
            f"weightfit check {checkpoint} --against TARGET "
            f"(TARGET: {folder}, or a factory pkg.module:Callable)"
        )
    for section in tensor_sections:
        if section.truncated:
            hints.append(
                f"the log cut a list short ('...'): {len(section.missing)} missing and "
                f"{len(section.unexpected)} unexpected names were read; "
                "weightfit check sees them all"
            )
    return list(dict.fromkeys(hints))


def _checkpoint_argument(named: str) -> str:
    """The checkpoint as ``weightfit check`` takes it: a Hub repo id becomes ``hf://ORG/REPO``.

    Loaders name the ``from_pretrained`` argument: a local folder, or a repo id
    (``ORG/REPO``) that is not a path here, which ``weightfit`` reads from the Hub.
    """
    if not named:
        return "CKPT"
    if HUB_REPO_ID.fullmatch(named) and not Path(named).exists():
        return f"hf://{named}"
    return named


def _fix_target(found: list[Section]) -> FixTarget:
    """What a person would run ``weightfit fix`` on once the files are at hand.

    The checkpoint the log names (else ``CKPT``) and ``TARGET``, written as they
    are: placeholders and a log's names for a person to adapt.
    """
    checkpoint = next((s.checkpoint for s in found if s.checkpoint), "CKPT")
    return FixTarget(checkpoint=checkpoint, target="TARGET", verbatim=True)


def _binary(text: str) -> bool:
    """Whether a text is mostly control characters or undecodable bytes."""
    sample = text[:65536]
    odd = sum(1 for ch in sample if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\x1b"))
    return odd > max(8, len(sample) // 20)
