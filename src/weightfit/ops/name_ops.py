"""The name-level plan ops: ``rename``, ``drop``, ``select`` and ``reinit`` (no values change)."""

from __future__ import annotations

import re

from weightfit.ops.context import OpContext

_PLACEHOLDER = re.compile(r"\\\{([ijk])\\\}")


def rename(ctx: OpContext) -> None:
    """Rename by a prefix to strip and add, a regex and its replacement, or a template."""
    args = ctx.op.args
    names = list(ctx.state.recipes)
    if "strip" in args or "add" in args:
        strip, add = ctx.arg("strip", str, ""), ctx.arg("add", str, "")
        mapping = {n: add + n[len(strip) :] for n in names if n.startswith(strip)}
        if not mapping:
            raise ctx.fail(f"no tensor name starts with {strip!r}")
    elif "pattern" in args:
        pattern, replacement = ctx.regex("pattern"), ctx.arg("replacement", str)
        mapping = {}
        for name in names:
            match = pattern.fullmatch(name)
            if match:
                try:
                    mapping[name] = match.expand(replacement)
                except (re.error, IndexError) as error:
                    raise ctx.fail(f"bad replacement {replacement!r} ({error})") from error
        if not mapping:
            raise ctx.fail(f"pattern {pattern.pattern!r} matches no tensor")
    else:
        source, target = ctx.arg("from", str), ctx.arg("to", str)
        mapping = _template_mapping(ctx, source, target, names)
    ctx.rename_all(mapping)


def _template_mapping(ctx: OpContext, source: str, target: str, names: list[str]) -> dict[str, str]:
    """``from``/``to`` names, where ``{i}``, ``{j}``, ``{k}`` stand for layer indices."""
    regex, count = _PLACEHOLDER.subn(lambda m: f"(?P<{m[1]}>[0-9]+)", re.escape(source))
    if count == 0:
        ctx.recipe(source)
        return {source: target}
    pattern = re.compile(regex)
    mapping = {}
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            try:
                mapping[name] = target.format(**match.groupdict())
            except (KeyError, IndexError, ValueError) as error:
                raise ctx.fail(f"'to' template {target!r} does not fit ({error})") from error
    if not mapping:
        raise ctx.fail(f"template {source!r} matches no tensor")
    return mapping


def drop(ctx: OpContext) -> None:
    """Leave the tensors the op's ``name`` or ``pattern`` selects out of the output."""
    for name in ctx.matching():
        del ctx.state.recipes[name]


def select(ctx: OpContext) -> None:
    """Keep only the tensors under ``prefix``, without it."""
    prefix = ctx.arg("prefix", str)
    kept = {n: r for n, r in ctx.state.recipes.items() if n.startswith(prefix) and n != prefix}
    if not kept:
        raise ctx.fail(f"no tensor name starts with {prefix!r}")
    ctx.state.recipes = kept
    ctx.rename_all({name: name[len(prefix) :] for name in kept})


def reinit(ctx: OpContext) -> None:
    """Leave tensors to the model's own initialisation, listed as parameters to train."""
    names = [ctx.arg("name", str)] if "name" in ctx.op.args else ctx.matching()
    for name in names:
        ctx.state.recipes.pop(name, None)
        if name not in ctx.state.reinit:
            ctx.state.reinit.append(name)
