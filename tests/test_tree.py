"""Module trees with collapsed repeated layers, and templated names."""

from __future__ import annotations

import torch

from weightfit.manifest import TensorSpec, from_shapes
from weightfit.tree import build_tree, collapse_names, filter_names, format_numbers, limit_depth


def meta_state_dict(module: torch.nn.Module) -> dict[str, TensorSpec]:
    return {
        name: TensorSpec(name, tuple(t.shape), str(t.dtype).removeprefix("torch."))
        for name, t in module.state_dict().items()
    }


def outline(node, level: int = 0) -> list[str]:
    lines = [f"{'  ' * level}{node.name} x{node.count} {node.params}"]
    for child in node.children:
        lines += outline(child, level + 1)
    return lines


def test_repeated_blocks_collapse_into_one_node() -> None:
    with torch.device("meta"):
        model = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16),
            num_layers=6,
            enable_nested_tensor=False,
        )
    specs = meta_state_dict(model)
    root = build_tree(specs)
    (layers,) = root.children
    assert layers.name == "layers.{0..5}"
    assert layers.path == "layers.{0..5}"
    assert layers.count == 6
    assert layers.params == sum(p.numel() for p in model.parameters())
    assert layers.params_each * 6 == layers.params
    assert root.params == layers.params and root.tensors == len(specs)
    assert [c.name for c in layers.children][:2] == ["self_attn", "linear1"]


def test_a_different_block_breaks_the_run() -> None:
    shapes = {f"blocks.{i}.w": (4, 4) for i in range(5)}
    shapes["blocks.2.w"] = (4, 8)
    shapes["blocks.10.w"] = (4, 4)
    root = build_tree(from_shapes(shapes))
    (blocks,) = root.children
    # 10 is not consecutive with 4, so it stays apart; numeric order, not text order.
    assert outline(blocks) == [
        "blocks x1 112",
        "  {0..1}.w x2 32",
        "  2.w x1 32",
        "  {3..4}.w x2 32",
        "  10.w x1 16",
    ]


def test_numbered_children_keep_their_place_among_named_ones() -> None:
    shapes = {"head.w": (2,), "layers.1.w": (3,), "layers.0.w": (3,), "layers.norm": (3,)}
    root = build_tree(from_shapes(shapes), join_chains=False)
    head, layers = root.children
    assert head.name == "head"
    assert [c.name for c in layers.children] == ["{0..1}", "norm"]


def test_nested_collapse_joins_into_one_chain_with_multiplied_count() -> None:
    shapes = {f"down.{i}.res.{j}.conv.w": (2, 2) for i in range(3) for j in range(2)}
    root = build_tree(from_shapes(shapes))
    assert outline(root) == [
        " x1 24",
        "  down.{0..2}.res.{0..1}.conv.w x6 24",
    ]


def test_a_name_that_is_both_tensor_and_module() -> None:
    root = build_tree(from_shapes({"a": (2,), "a.b": (3,)}))
    (a,) = root.children
    assert a.tensor is not None and a.params == 5 and a.tensors == 2


def test_filter_and_depth() -> None:
    shapes = {f"model.layers.{i}.attn.q.weight": (4, 4) for i in range(3)}
    shapes["model.embed.weight"] = (10, 4)
    root = build_tree(from_shapes(shapes), pattern="*.attn.*")
    assert root.tensors == 3
    assert filter_names(shapes, "*embed*") == ["model.embed.weight"]
    cut = limit_depth(build_tree(from_shapes(shapes)), 1)
    (model,) = cut.children
    assert model.name == "model" and model.children == [] and model.params == 88


def test_to_dict_carries_shapes_of_leaves() -> None:
    root = build_tree(from_shapes({"w": (2, 3)}, dtype="BF16"))
    assert root.to_dict() == {
        "name": "",
        "path": "",
        "params": 6,
        "tensors": 1,
        "count": 1,
        "children": [
            {
                "name": "w",
                "path": "w",
                "params": 6,
                "tensors": 1,
                "count": 1,
                "shape": [2, 3],
                "dtype": "BF16",
                "children": [],
            }
        ],
    }


def test_collapse_names_templates() -> None:
    names = [f"blocks.{i}.attn.qkv.weight" for i in range(28)] + ["final.weight"]
    groups = collapse_names(names)
    assert [str(g) for g in groups] == ["blocks.{0..27}.attn.qkv.weight ×28", "final.weight"]
    assert groups[0].names == tuple(names[:28])


def test_collapse_names_with_two_numbered_segments_and_gaps() -> None:
    names = [f"down.{i}.res.{j}.w" for i in range(2) for j in range(2)]
    names += ["down.2.res.0.w", "x.1", "x.3", "x.4", "x.y"]
    assert [str(g) for g in collapse_names(names)] == [
        "down.{0..1}.res.{0..1}.w ×4",
        "down.2.res.0.w",
        "x.{1,3..4} ×3",
        "x.y",
    ]


def test_collapse_names_keeps_input_order_and_every_name_once() -> None:
    names = ["z.0", "a.5", "z.1", "a.6"]
    groups = collapse_names(names)
    assert [g.template for g in groups] == ["z.{0..1}", "a.{5..6}"]
    assert sorted(n for g in groups for n in g.names) == sorted(names)


def test_format_numbers() -> None:
    assert format_numbers([3]) == "3"
    assert format_numbers([2, 0, 1]) == "{0..2}"
    assert format_numbers([0, 1, 2, 3, 5, 7, 8]) == "{0..3,5,7..8}"
