"""``version`` findings from the provenance stamp ``weightfit apply`` writes (``check`` profile).

A checkpoint written by ``weightfit apply`` carries a stamp in its
``__metadata__`` (:mod:`weightfit.provenance`): the target class, the sha256 of
its config and the library versions present when it was written. A stamp made
for another target or config, or before a known layout change of a library now
installed, adds a ``version`` finding.
"""

from __future__ import annotations

import json
from importlib import metadata

from weightfit import knowledge, provenance
from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.manifest import Manifest


def stamp(ctx: Context) -> None:
    """The rule: the checkpoint's stamp against this target."""
    for finding in provenance_findings(ctx.source, ctx.target):
        ctx.add(finding)


def provenance_findings(source: Manifest, target: Manifest) -> list[Finding]:
    """``version`` findings from a ``weightfit apply`` stamp that does not fit ``target``.

    The stamp records the target class, the sha256 of its config and the library
    versions present when the checkpoint was written; a checkpoint made for
    another class or config, or before a known layout change of a library now
    installed, is flagged.
    """
    stamp = provenance.stamped(source)
    if not stamp:
        return []
    findings: list[Finding] = []
    made_for = stamp.get(provenance.TARGET_CLASS)
    target_class = target.extras.get("target_class")
    if made_for and target_class and made_for != target_class:
        findings.append(
            Finding(
                category="version",
                severity="warning",
                message=f"checkpoint was converted by weightfit for {made_for}, not {target_class}",
                evidence={"stamp_target_class": made_for, "target_class": target_class},
                confidence=1.0,
                fix_note="convert the original checkpoint again against this target",
            )
        )
    made_config = stamp.get(provenance.TARGET_CONFIG_SHA256)
    config_hash = target.extras.get("config_hash")
    if made_config and config_hash and made_config != config_hash:
        findings.append(
            Finding(
                category="version",
                severity="warning",
                message=(
                    f"checkpoint was converted for another configuration of the model "
                    f"(config sha256 {made_config[:12]}…, this target {config_hash[:12]}…)"
                ),
                evidence={"stamp_config_sha256": made_config, "target_config_sha256": config_hash},
                confidence=0.9,
                fix_note="compare the config the checkpoint was converted for with this one",
            )
        )
    findings.extend(_library_changes(stamp.get(provenance.LIBRARIES_KEY), source))
    return findings


def _library_changes(recorded: str | None, source: Manifest) -> list[Finding]:
    """Flag known layout changes between the stamped and installed library versions.

    Only changes that touch a tensor of the checkpoint count.
    """
    if not recorded:
        return []
    try:
        then = json.loads(recorded)
    except json.JSONDecodeError:
        return []
    if not isinstance(then, dict):
        return []
    findings = []
    for library, old in then.items():
        new = _installed_version(str(library))
        if new is None or not isinstance(old, str) or new == old:
            continue
        for change in knowledge.version_changes_between(str(library), old, new):
            touched = [name for name in source.tensors if change.matches(name)]
            if not touched:
                continue
            findings.append(
                Finding(
                    category="version",
                    severity="info" if change.benign else "warning",
                    message=(
                        f"checkpoint was written under {library} {old}, {new} is installed; "
                        f"{change.summary}"
                    ),
                    params=touched,
                    evidence={
                        "library": library,
                        "stamped": old,
                        "installed": new,
                        "change": change.description,
                        "source": change.source,
                    },
                    confidence=0.8,
                    fix_note=change.fix_note,
                )
            )
    return findings


def _installed_version(library: str) -> str | None:
    """Return the installed version of a distribution, read from metadata (never imported)."""
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return None
