"""A bound on what a YAML file's aliases expand to, for every YAML file weightfit reads.

``yaml.safe_load`` builds nothing but plain values, yet aliases nested a few levels
deep ("billion laughs") share one object many times: loading is quick, printing,
hashing or walking the result expands it to 10⁹ values and more. Plans and
``--config`` files are checked here, once loaded, before anything walks them.
"""

from __future__ import annotations

MAX_YAML_VALUES = 2_000_000
"""Most values (scalars and containers, YAML aliases counted at each use) a YAML file may hold.

A plan traced for a 256-expert, 61-layer MoE model holds about 10⁵; a model
config a few hundred.
"""


def expansion_problem(data: object, what: str) -> str | None:
    """Why ``data`` (loaded from YAML) is refused, or ``None`` when it is within bounds.

    Args:
        data: What ``yaml.safe_load`` returned.
        what: What the file is (``"plan"``, ``"config"``), for the message.
    """
    size = _expanded_size(data)
    if size is None:
        return f"a YAML alias holds its own anchor: the {what} never ends"
    if size > MAX_YAML_VALUES:
        return (
            f"holds {size:,} values once its YAML aliases are expanded "
            f"(at most {MAX_YAML_VALUES:,})"
        )
    return None


def _expanded_size(data: object) -> int | None:
    """Count the values ``data`` holds with every shared container counted at each use.

    Linear in the loaded objects, not in their expansion: each container's size
    is computed once (keyed by identity) and reused where an alias shares it. A
    container that holds itself (``&a [*a]``) never ends: ``None``.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[object, bool]] = [(data, False)]
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, (dict, list)) or id(node) in sizes:
            continue
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        if children_done:
            open_.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            continue
        if id(node) in open_:
            return None
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if isinstance(child, (dict, list)))
    return sizes.get(id(data), 1)
