"""The diagnosis rule registry declares each rule once, and everything agrees with it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from weightfit import diagnose
from weightfit.diagnose import rivals
from weightfit.diagnose.registry import PROFILES, REGISTRY, Rule, _check, categories, rules
from weightfit.explain import resemblance
from weightfit.findings import CATEGORIES
from weightfit.report.check import SCHEMA_PATH

PACKAGE = Path(diagnose.__file__).resolve().parents[1]
DOCS = PACKAGE.parents[1] / "docs"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _finding_calls() -> dict[str, list[ast.Call]]:
    """Every ``Finding(...)`` call in the package, by module."""
    found: dict[str, list[ast.Call]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name == "Finding":
                    found.setdefault(_module_name(path), []).append(node)
    return found


def test_findings_are_made_only_by_registered_rules() -> None:
    # Rival causes and resemblance are named after ranking, beside or before a report's top
    # finding: the makers that read a ranked report rather than a rule context.
    registered = {rule.module for rule in REGISTRY} | {rivals.__name__, resemblance.__name__}
    makers = set(_finding_calls())
    assert makers, "the AST walk found no Finding( at all"
    assert makers <= registered, f"Finding( outside a registered rule module: {makers - registered}"


def test_a_module_emits_only_the_categories_its_rules_declare() -> None:
    declared: dict[str, set[str]] = {}
    for rule in REGISTRY:
        declared.setdefault(rule.module, set()).update(rule.emits)
    for module, calls in _finding_calls().items():
        for call in calls:
            for keyword in call.keywords:
                if keyword.arg == "category" and isinstance(keyword.value, ast.Constant):
                    assert keyword.value.value in declared[module], (module, keyword.value.value)


def test_category_literal_is_the_registry_categories() -> None:
    assert set(CATEGORIES) == set(categories())
    assert len(CATEGORIES) == len(set(CATEGORIES))


def test_schema_enum_is_the_registry_categories() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(schema["$defs"]["finding"]["properties"]["category"]["enum"]) == set(categories())


def test_docs_list_the_registry_categories() -> None:
    text = (DOCS / "json-schema.md").read_text(encoding="utf-8")
    paragraph = re.search(r"^Categories: (.*?)\n\n", text, re.S | re.M)
    assert paragraph is not None
    listed = set(re.findall(r"`([a-z_]+)`", paragraph.group(1)))
    assert listed == set(categories())


def test_rules_is_the_check_profile_in_order() -> None:
    assert tuple(rule.run for rule in rules("check")) == diagnose.RULES
    assert [r.name for r in rules("check")][-3:] == ["missing", "unexpected", "provenance"]


def test_the_adapter_profile_leaves_out_the_whole_model_rules() -> None:
    names = [rule.name for rule in rules("adapter")]
    assert names == [
        "lora_mismatch",
        "other_peft_types",
        "vocab_resize",
        "num_classes",
        "unexplained_shapes",
        "unexpected",
        "adapter_vocab",
        "untied_heads",
        "older_layout",
        "older_experts",
    ]


def test_the_text_profile_runs_guessed_renames_first_and_no_provenance() -> None:
    names = [rule.name for rule in rules("text")]
    assert names[0] == "guessed_renames"
    assert "provenance" not in names and "adapter_vocab" not in names


def test_every_rule_has_a_profile_and_every_profile_a_rule() -> None:
    assert all(rule.profiles <= set(PROFILES) and rule.profiles for rule in REGISTRY)
    assert all(rules(profile) for profile in PROFILES)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="no diagnosis profile"):
        rules("nope")  # type: ignore[arg-type]


def test_order_and_names_are_checked() -> None:
    first = REGISTRY[1]
    with pytest.raises(ValueError, match="must run after"):
        _check((Rule("early", first.run, (), after=("late",)), Rule("late", first.run, ())))
    with pytest.raises(ValueError, match="declared twice"):
        _check((first, first))
