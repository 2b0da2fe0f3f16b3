r"""Export a renames-only plan as the ``key_mapping`` transformers' ``from_pretrained`` takes.

transformers 5 turns each ``key_mapping`` entry into a ``WeightRenaming``
(``get_model_conversion_mapping``) and applies them to every checkpoint key in
order, each to the result of the one before (``apply_renamings``): the regex is
searched in the key and the matched text replaced, once, by the replacement,
where only ``\1`` refers to a group. A plan's renames run in order too, so each
becomes one anchored entry and the chain gives the same names. ``drop`` ops
need no entry: ``from_pretrained`` leaves keys the model does not have.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from weightfit.errors import UsageError
from weightfit.plan import Plan

_PLACEHOLDER = re.compile(r"\\\{([ijk])\\\}")


def key_mapping(plan: Plan) -> dict[str, str]:
    r"""Return ``{regex: replacement}`` for ``from_pretrained(key_mapping=...)``.

    Raises:
        UsageError: the plan has ops other than ``rename`` and ``drop``, or a
            rename transformers cannot express (a regex with named groups or
            more than one group, a template with more than one index).

    Example:
        >>> plan = Plan([Op("rename", {"strip": "module.", "add": ""})])  # doctest: +SKIP
        >>> key_mapping(plan)  # doctest: +SKIP
        {'^module\\.': ''}

    """
    mapping: dict[str, str] = {}
    for index, op in enumerate(plan.ops):
        if op.kind == "drop":
            continue
        if op.kind != "rename":
            raise UsageError(
                f"op #{index} is {op.kind}: only a plan of renames exports as a key_mapping "
                "(from_pretrained cannot split, concatenate or reshape)"
            )
        pattern, replacement = _entry(index, op.args)
        if pattern in mapping:
            raise UsageError(
                f"op #{index} renames {pattern!r} a second time; a mapping holds it once"
            )
        mapping[pattern] = replacement
    return mapping


def _entry(index: int, args: dict[str, object]) -> tuple[str, str]:
    if "strip" in args or "add" in args:
        return "^" + re.escape(str(args.get("strip", ""))), str(args.get("add", ""))
    if "pattern" in args:
        pattern, replacement = str(args["pattern"]), str(args.get("replacement", ""))
        compiled = re.compile(pattern)
        if compiled.groupindex or compiled.groups > 1 or re.search(r"\\[02-9g]", replacement):
            raise UsageError(
                f"op #{index}: transformers' key_mapping allows one group (\\1); "
                f"{pattern!r} → {replacement!r} does not fit"
            )
        return f"^(?:{pattern})$" if compiled.groups == 0 else f"^{pattern}$", replacement
    source, target = str(args["from"]), str(args["to"])
    regex, count = _PLACEHOLDER.subn(r"([0-9]+)", re.escape(source))
    if count == 0:
        return f"^{regex}$", target
    if count > 1:
        raise UsageError(f"op #{index}: {source!r} has {count} indices; key_mapping allows one")
    slot = _PLACEHOLDER.search(re.escape(source))
    assert slot is not None
    return f"^{regex}$", target.replace("{" + slot[1] + "}", r"\1")


def write_json(mapping: dict[str, str], path: Path) -> None:
    """Write ``mapping`` as JSON to ``path`` atomically."""
    from weightfit.atomic import write_text

    write_text(path, json.dumps(mapping, indent=2) + "\n")
