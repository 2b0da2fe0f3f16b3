"""Render a manifest for ``weightfit inspect``: a terminal summary, or JSON.

The JSON shape is published in ``inspect.schema.json`` (version
``SCHEMA_VERSION``); fields are only ever added, never renamed or removed,
without a version bump.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from weightfit import security
from weightfit.manifest import (
    Manifest,
    TensorColumns,
    TensorSpec,
    TensorTable,
    human_bytes,
    human_count,
)
from weightfit.report import counted, sanitize_name
from weightfit.tree import TreeNode, build_tree, filter_names, limit_depth

SCHEMA_VERSION = 1
"""Version of the JSON shape ``manifest_to_dict`` returns."""

SCHEMA_PATH = Path(__file__).with_name("inspect.schema.json")
"""The published JSON Schema of that shape."""

MAX_CHILDREN = 40
"""Children shown per tree node before the rest are summarised in one line."""

MAX_ROWS = 400
"""Rows of the module tree drawn in all (a folded model has a few dozen)."""

MAX_VALUE_CHARS = 80
"""Longest metadata or extras value shown in the terminal (JSON has all of it)."""

_FOLDER_EXTRAS = ("weight_sets", "components", "file_format")
_VERDICT_STYLE = {"safe": "green", "benign": "green", "unknown": "yellow", "dangerous": "bold red"}


def manifest_to_dict(
    manifest: Manifest,
    *,
    pattern: str | None = None,
    depth: int | None = None,
    allowed: Collection[str] = (),
) -> dict[str, Any]:
    """Turn a manifest into the plain data ``weightfit inspect --json`` prints.

    Args:
        manifest: The manifest to describe.
        pattern: Keep only tensors whose full name matches this glob, in
            ``tensors`` and ``tree`` (the totals stay those of the whole manifest).
        depth: Cut the module tree below this many levels (``None``: whole tree).
        allowed: ``module.name`` of unknown globals accepted (``--allow-global``).

    Returns:
        A JSON-ready dict following ``report/inspect.schema.json``.

    Example:
        >>> data = manifest_to_dict(weightfit.read("model.safetensors"))  # doctest: +SKIP
        >>> data["tensor_count"], data["bytes_by_dtype"]  # doctest: +SKIP
        (291, {'BF16': 2471645184})

    """
    names = filter_names(manifest.tensors, pattern)
    tree = limit_depth(build_tree(manifest, pattern=pattern), depth)
    return {
        **_head(manifest, pattern, allowed),
        "tensors": [_tensor_to_dict(manifest.tensors[name]) for name in names],
        "tree": tree.to_dict(),
    }


def write_manifest_json(
    out: TextIO,
    manifest: Manifest,
    *,
    pattern: str | None = None,
    depth: int | None = None,
    allowed: Collection[str] = (),
) -> None:
    """Write what :func:`manifest_to_dict` returns as JSON, streamed piece by piece.

    The tensor list and the tree are written one entry at a time (each tensor on
    one line), so a million-tensor manifest never becomes one string in memory.
    ``json.loads`` of the output equals :func:`manifest_to_dict` of the same arguments.
    """
    out.write("{")
    for key, value in _head(manifest, pattern, allowed).items():
        text = json.dumps(value, indent=2, default=str).replace("\n", "\n  ")
        out.write(f"\n  {json.dumps(key)}: {text},")
    out.write('\n  "tensors": [')
    tensors = manifest.tensors
    columns = tensors.columns if isinstance(tensors, TensorTable) and pattern is None else None
    if columns is not None:
        _write_columns(out, columns)
        count = len(columns)
    else:
        specs = (
            list(tensors.values())
            if pattern is None
            else [tensors[name] for name in filter_names(tensors, pattern)]
        )
        line = _tensor_lines()
        for start in range(0, len(specs), _BATCH):
            lines = ",\n    ".join(map(line, specs[start : start + _BATCH]))
            out.write(("\n    " if not start else ",\n    ") + lines)
        count = len(specs)
    out.write("\n  ]," if count else "],")
    out.write('\n  "tree": ')
    _write_node(out, limit_depth(build_tree(manifest, pattern=pattern), depth), "  ")
    out.write("\n}\n")


_COMPACT = json.JSONEncoder(separators=(", ", ": "), default=str).encode
"""One value as single-line JSON (the C encoder: no indent)."""
_BATCH = 4096
"""Tensors written per ``write`` call."""
_QUOTE = json.encoder.encode_basestring_ascii
"""A string as JSON text, as ``json.dumps`` (``ensure_ascii``) writes it."""


def _tensor_json(spec: TensorSpec) -> str:
    """``_COMPACT(_tensor_to_dict(spec))``, written directly (a million tensors)."""
    loc = spec.location
    location = (
        "null"
        if loc is None
        else f'{{"file": {_QUOTE(loc.file)}, "offset": {loc.offset}, "length": {loc.length}}}'
    )
    stride = "null" if spec.stride is None else f"[{', '.join(map(str, spec.stride))}]"
    storage = "null" if spec.storage is None else _QUOTE(spec.storage)
    buffer = "null" if spec.is_buffer is None else "true" if spec.is_buffer else "false"
    return (
        f'{{"name": {_QUOTE(spec.name)}, "shape": [{", ".join(map(str, spec.shape))}], '
        f'"dtype": {_QUOTE(spec.dtype)}, "location": {location}, "stride": {stride}, '
        f'"storage": {storage}, "is_buffer": {buffer}}}'
    )


def _write_columns(out: TextIO, columns: TensorColumns) -> None:
    """Write the lines of :func:`_tensor_lines` for tensors kept as columns, a batch at a time.

    Each line is joined in C from five pieces: a fixed start, the name, the text
    of its kind and file up to the offset (made once per kind), the offset, and
    the rest with the length (made once per kind).
    """
    file = _file_text(columns.file)
    heads = [f", {_kind_text(shape, dtype)}{file}" for shape, dtype in columns.kinds]
    tails = [f', "length": {size}{_PLAIN_TAIL}' for size in columns.sizes]
    names, offsets = iter(columns.names), columns.offsets()
    head_ids, tail_ids = iter(columns.kind_ids), iter(columns.kind_ids)
    for start in range(0, len(columns), _BATCH):
        pieces = zip(
            repeat(',\n    {"name": '),
            map(_QUOTE, islice(names, _BATCH)),
            map(heads.__getitem__, islice(head_ids, _BATCH)),
            map(str, islice(offsets, _BATCH)),
            map(tails.__getitem__, islice(tail_ids, _BATCH)),
        )
        text = "".join(chain.from_iterable(pieces))
        out.write(text if start else text[1:])  # no comma before the first line


def _kind_text(shape: tuple[int, ...], dtype: str) -> str:
    """The shape and dtype fields of a tensor line, with the separator after them."""
    return f'"shape": [{", ".join(map(str, shape))}], "dtype": {_QUOTE(dtype)}, '


def _file_text(file: str) -> str:
    """The start of a tensor line's location, up to its offset."""
    return f'"location": {{"file": {_QUOTE(file)}, "offset": '


_PLAIN_TAIL = '}, "stride": null, "storage": null, "is_buffer": null}'
"""The end of a tensor line with a location and no stride, storage or buffer flag."""


def _tensor_lines() -> Callable[[TensorSpec], str]:
    """:func:`_tensor_json`, faster: the text shared by a kind of tensor or a file is made once.

    A million tensors have a few shapes and dtypes and a few files; only the
    name and the byte range are new on each line.
    """
    kinds: dict[tuple[tuple[int, ...], str], str] = {}
    files: dict[str, str] = {}
    quote = _QUOTE

    def line(spec: TensorSpec) -> str:
        loc = spec.location
        if loc is None or spec.stride is not None or spec.storage is not None:
            return _tensor_json(spec)
        if spec.is_buffer is not None:
            return _tensor_json(spec)
        kind = kinds.get((spec.shape, spec.dtype))
        if kind is None:
            kind = kinds[spec.shape, spec.dtype] = _kind_text(spec.shape, spec.dtype)
        file = files.get(loc.file)
        if file is None:
            file = files[loc.file] = _file_text(loc.file)
        return (
            f'{{"name": {quote(spec.name)}, {kind}{file}{loc.offset}, "length": {loc.length}'
            + _PLAIN_TAIL
        )

    return line


def _write_node(out: TextIO, node: TreeNode, indent: str) -> None:
    """Write one tree node: its own fields on one line, then its children, streamed."""
    text = _COMPACT({**node.to_dict_shallow(), "children": []})
    if not node.children:
        out.write(text)
        return
    out.write(text[: -len("]}")])
    inner = indent + "  "
    for i, child in enumerate(node.children):
        out.write(("," if i else "") + "\n" + inner)
        _write_node(out, child, inner)
    out.write(f"\n{indent}]}}")


def _head(manifest: Manifest, pattern: str | None, allowed: Collection[str]) -> dict[str, Any]:
    """Every field of the JSON but the tensor list and the tree."""
    params, by_dtype = manifest.totals()  # one pass for the counts, bytes and their split
    return {
        "schema_version": SCHEMA_VERSION,
        "source": manifest.source,
        "format": manifest.format,
        "files": list(manifest.files),
        "tensor_count": len(manifest),
        "params": params,
        "bytes": sum(by_dtype.values()),
        "bytes_by_dtype": by_dtype,
        "container": manifest.container,
        "container_reason": manifest.container_reason,
        "containers": [
            {"key": c.key, "tensors": c.tensors, "params": c.params} for c in manifest.containers
        ],
        "security": manifest.security,
        "globals": [
            {
                "module": g.module,
                "name": g.name,
                "verdict": g.verdict,
                "accepted": security.accepted(g, allowed),
                "about": security.describe(g.module, g.name),
            }
            for g in security.by_concern(manifest.globals, allowed)
        ],
        "extras": manifest.extras,
        "metadata": manifest.metadata,
        "config": manifest.config,
        "notes": list(manifest.notes),
        "filter": pattern,
    }


def render_manifest(
    console: Console,
    manifest: Manifest,
    *,
    pattern: str | None = None,
    depth: int | None = None,
    allowed: Collection[str] = (),
) -> None:
    """Draw the terminal report of ``weightfit inspect`` on ``console``.

    Args:
        console: Where to draw (fixed width and no colour in tests).
        manifest: The manifest to describe.
        pattern: Show only tensors whose full name matches this glob in the tree.
        depth: Cut the module tree below this many levels.
        allowed: ``module.name`` of unknown globals accepted (``--allow-global``).

    """
    params, by_dtype = manifest.totals()  # one pass over a million tensors, not three
    console.print(_headline(manifest, params, sum(by_dtype.values())))
    console.print(_summary(manifest, by_dtype))
    if manifest.extras.get("weight_sets"):
        console.print("[bold]weight sets[/bold]")
        console.print(_weight_sets(manifest.extras["weight_sets"]))
    if manifest.extras.get("components"):
        console.print("[bold]components[/bold]")
        console.print(_components(manifest.extras["components"]))
    if manifest.containers:
        console.print("[bold]state dicts[/bold]")
        console.print(_containers(manifest))
    if manifest.globals:
        console.print("[bold]opaque globals[/bold] (named by the pickle, never imported)")
        console.print(_globals(manifest, allowed))
        refused = [g for g in manifest.globals if not security.accepted(g, allowed)]
        if refused:
            console.print(
                f"[yellow]{len(refused)} global(s) neither allowlisted nor known benign[/]: "
                "exit 1 (accept one with --allow-global MOD.NAME)"
            )
    tree = limit_depth(build_tree(manifest, pattern=pattern), depth)
    matching = f" matching {sanitize_name(pattern)}" if pattern else ""
    console.print(f"[bold]modules[/bold]{matching}")
    console.print(_tree_table(tree))


def _tensor_to_dict(spec: TensorSpec) -> dict[str, Any]:
    location = spec.location
    return {
        "name": spec.name,
        "shape": list(spec.shape),
        "dtype": spec.dtype,
        "location": None
        if location is None
        else {"file": location.file, "offset": location.offset, "length": location.length},
        "stride": None if spec.stride is None else list(spec.stride),
        "storage": spec.storage,
        "is_buffer": spec.is_buffer,
    }


def _headline(manifest: Manifest, params: int, total_bytes: int) -> str:
    return (
        f"[bold]{sanitize_name(manifest.source)}[/bold]\n{sanitize_name(manifest.format)} · "
        f"{counted(len(manifest), 'tensor')} · {human_count(params)} params · "
        f"{human_bytes(total_bytes)}"
    )


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _summary(manifest: Manifest, dtypes: dict[str, int]) -> Table:
    """Lay out the key facts, one per row: files, dtypes, container, security, notes ..."""
    grid = _grid()
    files = [_relative(f, manifest.source) for f in manifest.files or [manifest.source]]
    shown = ", ".join(sanitize_name(f) for f in files[:3])
    grid.add_row("files", shown + (f" … (+{len(files) - 3} more)" if len(files) > 3 else ""))
    if "file_format" in manifest.extras:
        grid.add_row("weights", sanitize_name(str(manifest.extras["file_format"])))
    grid.add_row(
        "dtypes", " · ".join(f"{sanitize_name(d)} {human_bytes(b)}" for d, b in dtypes.items())
    )
    if manifest.container is not None:
        reason = (
            f" ({sanitize_name(manifest.container_reason)})" if manifest.container_reason else ""
        )
        grid.add_row("container", f"{sanitize_name(manifest.container) or '<top level>'}{reason}")
    if manifest.security is not None:
        opaque = f", {counted(len(manifest.globals), 'opaque global')}" if manifest.globals else ""
        grid.add_row("security", _verdict(manifest.security) + opaque)
    if manifest.config is not None:
        grid.add_row("config", _config_line(manifest.config))
    for key, value in manifest.extras.items():
        if key not in _FOLDER_EXTRAS:
            grid.add_row(f"· {sanitize_name(key)}", _short(value))
    for key, value in manifest.metadata.items():
        grid.add_row(f"meta {sanitize_name(key)}", _short(value))
    for note in manifest.notes:
        grid.add_row("note", sanitize_name(note))
    return grid


def _relative(file: str, source: str) -> str:
    """Name a file relative to the folder it was read from, when it is inside it."""
    path, folder = Path(file), Path(source)
    return str(path.relative_to(folder)) if path.is_relative_to(folder) and path != folder else file


def _config_line(config: dict[str, Any]) -> str:
    """Name the model a config describes: class, type, base model."""
    facts = []
    for key in (
        "_class_name",
        "architectures",
        "model_type",
        "peft_type",
        "base_model_name_or_path",
    ):
        value = config.get(key)
        if value:
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            facts.append(f"{key}={sanitize_name(text)}")
    return " ".join(facts) or f"{len(config)} keys"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return sanitize_name(text)


def _weight_sets(sets: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("", "prefix", "variant", "format", "layout", "files", "bytes"):
        table.add_column(column, justify="right" if column in ("files", "bytes") else "left")
    for s in sets:
        table.add_row(
            "→" if s.get("chosen") else "",
            sanitize_name(s["prefix"]),
            sanitize_name(s["variant"] or "-"),
            s["format"],
            s["layout"],
            str(len(s["files"])) + (" + index" if s["index"] else ""),
            human_bytes(s["total_bytes"]),
        )
    return table


def _components(components: dict[str, dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("component", "class", "tensors", "params"):
        table.add_column(column, justify="right" if column in ("tensors", "params") else "left")
    for name, entry in components.items():
        cls = "/".join(str(x) for x in (entry.get("library"), entry.get("class")) if x)
        has = entry.get("weights")
        table.add_row(
            sanitize_name(name),
            sanitize_name(cls),
            str(entry.get("tensors", "-")) if has else "no weights",
            human_count(entry["params"]) if has and "params" in entry else "",
        )
    return table


def _containers(manifest: Manifest) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("", "key", "tensors", "params"):
        table.add_column(column, justify="right" if column in ("tensors", "params") else "left")
    for c in manifest.containers:
        table.add_row(
            "→" if c.key == manifest.container else "",
            sanitize_name(c.key) or "<top level>",
            str(c.tensors),
            human_count(c.params),
        )
    return table


def _globals(manifest: Manifest, allowed: Collection[str]) -> Table:
    """Globals not accepted first, each with its verdict and what is known of it."""
    table = Table(box=None, pad_edge=False)
    table.add_column("global", overflow="fold")
    table.add_column("verdict")
    table.add_column("what is known", overflow="fold")
    for g in security.by_concern(manifest.globals, allowed):
        verdict = _verdict(g.verdict)
        if g.verdict == "unknown" and security.accepted(g, allowed):
            verdict += " (allowed)"
        table.add_row(
            sanitize_name(f"{g.module}.{g.name}"),
            verdict,
            sanitize_name(security.describe(g.module, g.name)),
        )
    return table


def _verdict(verdict: str) -> str:
    style = _VERDICT_STYLE.get(verdict)
    return f"[{style}]{verdict}[/]" if style else sanitize_name(verdict)


def _tree_table(root: TreeNode) -> Table:
    """Lay out the module tree as an indented table: name, copies, params, shape, dtype.

    At most :data:`MAX_CHILDREN` children per node and :data:`MAX_ROWS` rows in
    all: a tree that does not fold (a million distinct names) is summarised,
    each level's remaining children in one "… N more" line.
    """
    table = Table(box=None, pad_edge=False)
    table.add_column("name", overflow="fold")
    table.add_column("×", justify="right")
    table.add_column("params", justify="right")
    table.add_column("shape")
    table.add_column("dtype")
    _tree_rows(table, root.children, 0, [MAX_ROWS])
    if not root.children:
        table.add_row("(no tensors)", "", "", "", "")
    return table


def _tree_rows(table: Table, nodes: list[TreeNode], level: int, budget: list[int]) -> None:
    """Add nodes and their children; a collapsed node's children count one copy.

    ``budget`` holds the rows still allowed; when it runs out, the nodes not
    drawn at this level are summarised in one line.
    """
    shown = min(len(nodes), MAX_CHILDREN)
    for i, node in enumerate(nodes[:shown]):
        if budget[0] <= 0:
            shown = i
            break
        budget[0] -= 1
        spec = node.tensor
        shape = dtype = ""
        if spec is not None:
            shape = "×".join(str(s) for s in spec.shape) or "scalar"
            dtype = sanitize_name(spec.dtype)
        table.add_row(
            "  " * level + sanitize_name(node.name),
            f"×{node.count}" if node.count > 1 else "",
            human_count(node.params),
            shape,
            dtype,
        )
        _tree_rows(table, node.children, level + 1, budget)
    hidden = nodes[shown:]
    if hidden:
        params = sum(child.params for child in hidden)
        table.add_row("  " * level + f"… {len(hidden)} more", "", human_count(params), "", "")
