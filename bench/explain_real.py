"""Measure ``weightfit explain`` on loading errors that real people pasted in public threads.

The corpus is ``tests/data/errors-real/``: one ``<id>.txt`` (the text, verbatim) and one
``<id>.yaml`` (its source URL, the cause the thread settled, its category, the facts a tool
could derive, and its ``split``) per text. The split is by repository: ``heldback`` texts
are never read while writing rules; their figures are the honest ones.

For each part (``dev``, ``heldback``) it reports:

- top-1 and top-3 category accuracy (a finding is right when its category is the settled
  one or one of ``also_acceptable``); the top 3 include the rival causes named beside an
  uncertain answer (:mod:`weightfit.diagnose.rivals`), counted apart too; every text is
  explained with its own repository's threads withheld from resemblance
  (:mod:`weightfit.explain.resemblance`), and the answers read from it are counted apart;
- the share answered "no loading error found" (exit 2);
- per-category results, and the commonest misses (settled against answered category);
- a calibration table: of the top findings reported at confidence >= 0.8, in [0.5, 0.8)
  and < 0.5, how many are right (and the same over every finding reported).

It also reports ``bench/data/first_sight.yaml``: each later batch of dev texts as
``explain`` first answered it, before any rule was tuned on it; and
``bench/data/*_misses_audit.tsv``: each part's texts missed at one commit, judged on
whether the settled cause can be read from the pasted text alone (how far rules can go).

Then the bad-input guard rails: binary data, a 100 MB log and a 1-million-line log, each in
a fresh process with its time and peak memory (the budget: 5 s and 200 MB each).

The result replaces this benchmark's section of ``BENCHMARKS.md`` unless ``--no-write``.

With ``--calibrate`` it measures, on the dev part only, how many top findings of each
``text`` rule are right, and how often each kind of rival cause is, and writes
``src/weightfit/knowledge/calibration.yaml`` (the caps of :mod:`weightfit.diagnose.calibration`).

Run: ``.venv/bin/python bench/explain_real.py [--no-write] [--show-wrong] [--calibrate]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _measure
import yaml
from _measure import human_mb, human_seconds, machine, measure

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "errors-real"
PARTS = ("dev", "heldback")
BANDS = ((0.8, 1.01, ">= 0.8"), (0.5, 0.8, "0.5 - 0.8"), (0.0, 0.5, "< 0.5"))
BUDGET_SECONDS, BUDGET_BYTES = 5.0, 200_000_000
BEGIN, END = "<!-- bench/explain_real.py begin -->", "<!-- bench/explain_real.py end -->"


@dataclass
class Case:
    """One real text with what its thread settled."""

    ident: str
    text: str
    split: str
    settled: str
    right: frozenset[str]
    repo: str


@dataclass
class Outcome:
    """What ``explain`` said of one case."""

    case: Case
    categories: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    no_error: bool = False
    crashed: str = ""
    rivals: list[tuple[str, bool]] = field(default_factory=list)
    """Each rival cause named (``basis:answered>rival``) and whether it was an accepted cause."""
    resembled: str = ""
    """``unknown`` when the top finding was read from resemblance
    (:mod:`weightfit.explain.resemblance`), else empty."""

    @property
    def top1(self) -> bool:
        return bool(self.categories) and self.categories[0] in self.case.right

    @property
    def top1_settled(self) -> bool:
        """The top finding is the settled category itself, not one ``also_acceptable``."""
        return bool(self.categories) and self.categories[0] == self.case.settled

    @property
    def top3(self) -> bool:
        return any(category in self.case.right for category in self.categories[:3])


def load_corpus(folder: Path = CORPUS) -> list[Case]:
    """Every case of the corpus, in name order."""
    cases = []
    for meta_path in sorted(folder.glob("*.yaml")):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        text = meta_path.with_suffix(".txt").read_text(encoding="utf-8")
        right = frozenset([meta["category"], *(meta.get("also_acceptable") or [])])
        cases.append(
            Case(meta_path.stem, text, meta["split"], meta["category"], right, meta["repo"])
        )
    return cases


def run_case(case: Case) -> Outcome:
    """Explain one text in this process and record the findings' categories."""
    import weightfit
    from weightfit.diagnose.rivals import rival_key
    from weightfit.errors import NoLoadingErrorFound
    from weightfit.explain.resemblance import withheld

    outcome = Outcome(case)
    try:
        with withheld([case.repo]):  # a text's own repository never votes for it
            report = weightfit.explain(case.text)
    except NoLoadingErrorFound:
        outcome.no_error = True
        return outcome
    except Exception as error:  # a crash is a result to report, not a reason to stop
        outcome.crashed = f"{type(error).__name__}: {error}"
        return outcome
    outcome.categories = [finding.category for finding in report.findings]
    outcome.confidences = [finding.confidence for finding in report.findings]
    outcome.rules = [
        "rivals"
        if "rival_of" in finding.evidence
        else "resemblance"
        if "resembles" in finding.evidence
        else RULE_OF.get(id(finding), "?")
        for finding in report.findings
    ]
    top = report.findings[0] if report.findings else None
    if top is not None and "resembles" in top.evidence:
        outcome.resembled = "unknown"
    outcome.rivals = [
        (
            rival_key(
                finding.evidence["rival_of"], finding.category, finding.evidence["read_from"]
            ),
            finding.category in case.right,
        )
        for finding in report.findings
        if "rival_of" in finding.evidence
    ]
    return outcome


RULE_OF: dict[int, str] = {}
"""The rule that made each finding (by ``id``), recorded while ``explain`` runs."""


def record_rules() -> None:
    """Wrap the text profile's calibration step, which sees each rule's new findings."""
    import weightfit.diagnose as diagnose_module

    calibrate = diagnose_module.calibrate

    def recording(rule: str, findings: list) -> None:  # type: ignore[type-arg]
        for finding in findings:
            RULE_OF[id(finding)] = rule
        calibrate(rule, findings)

    diagnose_module.calibrate = recording  # type: ignore[attr-defined]


def write_calibration(outcomes: list[Outcome]) -> str:
    """Each rule's top findings on the dev part, right and seen, as ``calibration.yaml``."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rivals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    resembled: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        if outcome.case.split != "dev" or not outcome.rules:
            continue
        if not outcome.resembled:
            counts[outcome.rules[0]][0] += 1
            counts[outcome.rules[0]][1] += outcome.top1
        for rival, right in outcome.rivals:
            rivals[rival][0] += 1
            rivals[rival][1] += right
        if outcome.resembled:
            resembled[outcome.resembled][0] += 1
            resembled[outcome.resembled][1] += outcome.top1
    lines = [
        "# Precision of each `text` rule's top findings on the dev part of",
        "# tests/data/errors-real/ (never the held-back part). Written by",
        "# `bench/explain_real.py --calibrate`; weightfit.diagnose.calibration caps a rule's",
        "# confidence at a lower bound of its precision (Wilson), and at 0.45 for a rule",
        "# seen on fewer than 3 dev texts or not listed here. `rivals`: each rival cause",
        "# (weightfit.diagnose.rivals) named beside an answer, and how often it was accepted.",
        "# `resemblance`: answers read from the settled threads most like a text",
        "# (weightfit.explain.resemblance), its own repository's threads withheld.",
        "rules:",
        *(
            f"  {rule}: {{seen: {seen}, right: {right}}}"
            for rule, (seen, right) in sorted(counts.items())
        ),
        "rivals:",
        *(
            f"  {rival}: {{seen: {seen}, right: {right}}}"
            for rival, (seen, right) in sorted(rivals.items())
        ),
        "resemblance:",
        *(
            f"  {key}: {{seen: {seen}, right: {right}}}"
            for key, (seen, right) in sorted(resembled.items())
        ),
    ]
    path = ROOT / "src" / "weightfit" / "knowledge" / "calibration.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def percent(part: int, whole: int, digits: int = 0) -> str:
    return f"{100 * part / whole:.{digits}f} % ({part}/{whole})" if whole else "-"


def part_section(name: str, outcomes: list[Outcome]) -> list[str]:
    """The figures of one part as Markdown lines."""
    total = len(outcomes)
    repos = len({outcome.case.repo for outcome in outcomes})
    unknown = sum(o.categories[:1] == ["unknown"] for o in outcomes)
    wrong_cause = sum(
        bool(o.categories) and o.categories[0] != "unknown" and not o.top1 for o in outcomes
    )
    with_rivals = [o for o in outcomes if o.rivals]
    resembled = [o for o in outcomes if o.resembled]
    rival_right = sum(any(right for _, right in o.rivals) for o in with_rivals)
    lines = [
        f"#### {name}: {total} texts from {repos} repositories",
        "",
        "| measure | result |",
        "| --- | --- |",
        f"| top-1 category | {percent(sum(o.top1 for o in outcomes), total)} |",
        f"| top-1, the settled category only (no `also_acceptable`) | "
        f"{percent(sum(o.top1_settled for o in outcomes), total)} |",
        f"| top-3 category | {percent(sum(o.top3 for o in outcomes), total)} |",
        f"| 'no loading error found' | {percent(sum(o.no_error for o in outcomes), total, 1)} |",
        f"| `unknown` (a loading error no rule explains) | {percent(unknown, total, 1)} |",
        f"| a cause named, not the settled one | {percent(wrong_cause, total, 1)} |",
        f"| crashed | {percent(sum(bool(o.crashed) for o in outcomes), total)} |",
        f"| rival causes named beside the answer | {percent(len(with_rivals), total)} |",
        f"| ... one of them a settled cause | {percent(rival_right, len(with_rivals))} |",
        f"| ... the answer wrong, a rival right | "
        f"{percent(sum(not o.top1 and any(r for _, r in o.rivals) for o in with_rivals), total)} |",
        f"| answered from the settled threads most like the text (own repository withheld) | "
        f"{percent(len(resembled), total)} |",
        f"| ... right | {percent(sum(o.top1 for o in resembled), len(resembled))} |",
        "",
        "| settled category | texts | top-1 right | top-3 right |",
        "| --- | --- | --- | --- |",
    ]
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.case.settled].append(outcome)
    for category in sorted(by_category):
        group = by_category[category]
        lines.append(
            f"| {category} | {len(group)} | {sum(o.top1 for o in group)} | "
            f"{sum(o.top3 for o in group)} |"
        )
    lines += ["", *misses_table(outcomes)]
    lines += [
        "",
        "| confidence | top findings right | their mean confidence | all findings right |",
        "| --- | --- | --- | --- |",
    ]
    for low, high, label in BANDS:
        top = [o for o in outcomes if o.confidences and low <= o.confidences[0] < high]
        every = [
            category in o.case.right
            for o in outcomes
            for category, confidence in zip(o.categories, o.confidences, strict=True)
            if low <= confidence < high
        ]
        stated = sum(o.confidences[0] for o in top) / len(top) if top else 0.0
        lines.append(
            f"| {label} | {percent(sum(o.top1 for o in top), len(top))} | "
            f"{stated:.2f} | {percent(sum(every), len(every))} |"
        )
    return [*lines, "", *calibration_error(outcomes), ""]


def misses_table(outcomes: list[Outcome], rows: int = 10) -> list[str]:
    """The commonest ways the top answer missed: settled category against the one answered."""
    pairs = Counter(
        (o.case.settled, "no loading error found" if o.no_error else o.categories[0])
        for o in outcomes
        if not o.top1 and (o.no_error or o.categories)
    )
    shown = pairs.most_common(rows)
    lines = [
        f"Misses by settled and answered category ({len(shown)} commonest of {len(pairs)} pairs, "
        f"{pairs.total()} texts):",
        "",
        "| settled | answered | texts |",
        "| --- | --- | --- |",
    ]
    return lines + [f"| {settled} | {answered} | {n} |" for (settled, answered), n in shown]


def calibration_error(outcomes: list[Outcome]) -> list[str]:
    """Expected calibration error of the top findings: how far stated confidence sits
    from the share right, weighted over ten equal-width bins."""
    bins: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.confidences:
            bins[min(int(outcome.confidences[0] * 10), 9)].append(outcome)
    answered = sum(len(group) for group in bins.values())
    if not answered:
        return []
    gap = sum(
        abs(sum(o.confidences[0] for o in group) - sum(o.top1 for o in group))
        for group in bins.values()
    )
    return [
        f"Expected calibration error of the top findings (10 bins): {gap / answered:.3f} "
        "(0 when each stated confidence is the share of such findings that are right)."
    ]


FIRST_SIGHT = ROOT / "bench" / "data" / "first_sight.yaml"
"""Each later batch of dev texts as ``explain`` first answered it, before any rule was
written or tuned on it: the honest estimate of how rules do on texts nobody here wrote."""


def first_sight_section() -> list[str]:
    """The first-sight record as a Markdown table, one row per batch."""
    record = yaml.safe_load(FIRST_SIGHT.read_text(encoding="utf-8"))
    lines = [
        "#### First sight: later dev batches as first answered",
        "",
        record["about"].strip(),
        "",
        "| batch | collected | texts | top-1 right at first sight | 'no loading error found' "
        "at first sight |",
        "| --- | --- | --- | --- | --- |",
    ]
    for batch in record["batches"]:
        texts = len(batch["texts"])
        right = sum(1 for text in batch["texts"].values() if text)
        absent = batch.get("no_error_at_first_sight")
        said = "not recorded" if absent is None else percent(len(absent), texts)
        lines.append(
            f"| {batch['name']} | {batch['collected']} | {texts} | {percent(right, texts)} "
            f"| {said} |"
        )
    return [*lines, "", *first_sight_calibration(record["batches"]), ""]


AUDITS = {
    "dev": ROOT / "bench" / "data" / "dev_misses_audit.tsv",
    "heldback": ROOT / "bench" / "data" / "heldback_misses_audit.tsv",
}
"""Each part's texts missed at :data:`AUDIT_COMMIT`, judged on what the text alone carries."""
AUDIT_COMMIT = "fe221e8"
"""The commit whose misses the audits judged."""
VERDICTS = {
    "D": "the text carries the settled cause",
    "P": "the settled cause is one of two or three the text allows",
    "N": "the settled cause lies outside the text",
    "L": "the label looks doubtful",
}


def audit_section(outcomes: list[Outcome]) -> list[str]:
    """The audited misses of each part by verdict, and how many of each are now right."""
    lines = [
        f"#### How far the text goes: the texts missed at {AUDIT_COMMIT}, audited",
        "",
        "Each text missed was judged by a reader shown the pasted text, its settled cause "
        "and the answer given: would an expert seeing only the text name the settled cause "
        "first? The readers knew the settled cause, so 'the text carries it' is generous. "
        "The dev readers wrote their reasons; the held-back reader was not the rules' writer "
        "and recorded verdicts only. Data: "
        + ", ".join(f"`{path.relative_to(ROOT)}`" for path in AUDITS.values())
        + ".",
        "",
        "| verdict | " + " | ".join(f"{part} texts | {part} right now" for part in AUDITS) + " |",
        "| --- |" + " --- | --- |" * len(AUDITS),
    ]
    verdicts = {part: _audited(path) for part, path in AUDITS.items()}
    right_now = {o.case.ident for o in outcomes if o.top1}
    for verdict, meaning in VERDICTS.items():
        cells = []
        for part in AUDITS:
            idents = [ident for ident, said in verdicts[part].items() if said == verdict]
            cells.append(f"{len(idents)} | {len(right_now.intersection(idents))}")
        lines.append(f"| {verdict}: {meaning} | " + " | ".join(cells) + " |")
    lines.append("")
    for part in AUDITS:
        scored = [o for o in outcomes if o.case.split == part]
        right = sum(o.top1 for o in scored)
        carried = [i for i, said in verdicts[part].items() if said == "D" and i not in right_now]
        lines.append(
            f"- {part}: every 'D' text answered right would bring top-1 from "
            f"{percent(right, len(scored))} to {percent(right + len(carried), len(scored))}."
        )
    return [*lines, ""]


def _audited(path: Path) -> dict[str, str]:
    """Each audited text's verdict, from a tab-separated file (``#`` lines are comments)."""
    rows = [
        line.split("\t")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "ident\t"))
    ]
    return {row[0]: row[1] for row in rows}


def first_sight_calibration(batches: list[dict[str, Any]]) -> list[str]:
    """How often the top findings were right at first sight, by the confidence stated then
    (the batches that kept it): calibration measured on texts no rule had seen."""
    kept = [batch for batch in batches if "top_confidence_at_first_sight" in batch]
    stated = [
        (confidence, batch["texts"][ident])
        for batch in kept
        for ident, confidence in batch["top_confidence_at_first_sight"].items()
    ]
    lines = [
        f"Calibration at first sight (batches {kept[0]['name'].split(':')[0]}-"
        f"{kept[-1]['name'].split(':')[0]}, {len(stated)} texts with a finding):",
        "",
        "| confidence | top findings right | their mean confidence |",
        "| --- | --- | --- |",
    ]
    for low, high, label in BANDS:
        band = [(confidence, right) for confidence, right in stated if low <= confidence < high]
        mean = sum(confidence for confidence, _ in band) / len(band) if band else 0.0
        lines.append(
            f"| {label} | {percent(sum(right for _, right in band), len(band))} | {mean:.2f} |"
        )
    return lines


def bad_inputs(folder: Path) -> list[str]:
    """Binary data, a 100 MB log and a 1-million-line log, each in a fresh process."""
    binary = folder / "binary.bin"
    binary.write_bytes(os.urandom(8_000_000))
    big = folder / "big.log"
    line = "2024-01-01 00:00:00 INFO step 1234 loss 0.1234 lr 1e-4 grad_norm 0.5 tokens 4096\n"
    # Written in 1 MB pieces: the measuring parent stays small, and a child's peak RSS
    # counts the parent's pages at fork.
    piece = line * (1_000_000 // len(line))
    with big.open("w") as out:
        for _ in range(100_000_000 // len(piece)):
            out.write(piece)
    many = folder / "many.log"
    many.write_text("x\n" * 1_000_000)
    lines = [
        "| input | result | time | peak memory |",
        "| --- | --- | --- | --- |",
    ]
    for label, path in (
        ("8 MB of random bytes", binary),
        ("100 MB log, no loading error", big),
        ("1,000,000-line log", many),
    ):
        result = measure(
            label,
            f"""
            try:
                weightfit.explain(open({str(path)!r}, 'rb').read())
                result = 'report'
            except NoLoadingErrorFound:
                result = 'no loading error found'
            """,
            setup="import weightfit\nfrom weightfit.errors import NoLoadingErrorFound",
        )
        within = result.seconds <= BUDGET_SECONDS and result.peak_rss <= BUDGET_BYTES
        lines.append(
            f"| {label} | {result.result} | {human_seconds(result.seconds)} | "
            f"{human_mb(result.peak_rss)}{'' if within else ' (over budget)'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--show-wrong", action="store_true", help="list the dev texts missed")
    parser.add_argument("--skip-bad-inputs", action="store_true")
    parser.add_argument(
        "--calibrate", action="store_true", help="measure each rule on dev, write calibration.yaml"
    )
    args = parser.parse_args()

    record_rules()
    cases = load_corpus()
    if args.calibrate:
        dev = [run_case(case) for case in cases if case.split == "dev"]
        print("wrote", write_calibration(dev))
        return
    outcomes = [run_case(case) for case in cases]
    section = [
        BEGIN,
        "### explain on real pasted errors (`bench/explain_real.py`)",
        "",
        f"Machine: {machine()}. Corpus: `tests/data/errors-real/`, {len(cases)} texts copied "
        "verbatim from public threads, split by repository; the held-back part is never "
        "read while writing rules.",
        "",
    ]
    for part in PARTS:
        section += part_section(part, [o for o in outcomes if o.case.split == part])
    section += first_sight_section()
    section += audit_section(outcomes)
    if not args.skip_bad_inputs:
        with tempfile.TemporaryDirectory() as folder:
            section += ["#### Bad input (budget 5 s, 200 MB each)", "", *bad_inputs(Path(folder))]
    section.append(END)
    text = "\n".join(section)
    print(text)
    if args.show_wrong:
        for outcome in outcomes:
            if outcome.case.split == "dev" and not outcome.top1:
                print(
                    f"WRONG {outcome.case.ident}: settled {sorted(outcome.case.right)}, got "
                    f"{outcome.categories[:3]}{' NO-ERROR' if outcome.no_error else ''}"
                    f"{' CRASH ' + outcome.crashed if outcome.crashed else ''}"
                )
    if not args.no_write:
        _measure.replace_section(text)


if __name__ == "__main__":
    main()
