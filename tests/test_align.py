"""Alignment: exact names, the global prefix, templated renames, fused groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from weightfit.align import align, fill, template
from weightfit.align.prefix import best_prefix
from weightfit.alignment import FusedGroup, PrefixTransform
from weightfit.manifest import Manifest, TensorSpec, from_shapes


def manifest_of(module: nn.Module, *, prefix: str = "") -> Manifest:
    """A manifest of a real module's state dict (names and shapes as torch writes them)."""
    tensors = {
        prefix + name: TensorSpec(prefix + name, tuple(t.shape), "F32")
        for name, t in module.state_dict().items()
    }
    return Manifest(tensors=tensors, source="<module>", format="module")


class Block(nn.Module):
    def __init__(self, width: int, fused: bool) -> None:
        super().__init__()
        if fused:
            self.qkv = nn.Linear(width, 3 * width)
        else:
            self.q = nn.Linear(width, width)
            self.k = nn.Linear(width, width)
            self.v = nn.Linear(width, width)
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)


class Net(nn.Module):
    def __init__(self, width: int = 8, depth: int = 3, fused: bool = True) -> None:
        super().__init__()
        self.embed = nn.Linear(4, width)
        self.blocks = nn.ModuleList(Block(width, fused) for _ in range(depth))
        self.head = nn.Linear(width, 10)


def test_template_folds_layer_indices() -> None:
    assert template("blocks.17.attn.qkv.weight") == ("blocks.{i}.attn.qkv.weight", (17,))
    assert template("down.1.res.0.conv.weight") == ("down.{i}.res.{j}.conv.weight", (1, 0))
    assert template("head.weight") == ("head.weight", ())
    # Leading zeros and digits inside a word are not layer indices.
    assert template("layer.01.fc2.weight") == ("layer.01.fc2.weight", ())
    assert fill("down.{i}.res.{j}.w", (3, 1)) == "down.3.res.1.w"


def test_exact_names_pair_even_when_shapes_differ() -> None:
    source = from_shapes({"embed.weight": (32001, 8), "norm.weight": (8,)})
    target = from_shapes({"embed.weight": (32000, 8), "norm.weight": (8,)})
    alignment = align(source, target)
    assert [(p.source, p.via) for p in alignment.pairs] == [
        ("embed.weight", "exact"),
        ("norm.weight", "exact"),
    ]
    assert [p.source for p in alignment.shape_mismatches()] == ["embed.weight"]
    assert alignment.prefix is None
    assert alignment.missing == alignment.unexpected == []


def test_ddp_module_prefix_is_one_transform() -> None:
    net = Net()
    alignment = align(manifest_of(nn.ModuleDict({"module": net})), manifest_of(net))
    assert alignment.prefix == PrefixTransform(strip="module.", add="")
    assert {p.via for p in alignment.pairs} == {"prefix"}
    assert len(alignment.pairs) == len(net.state_dict())
    assert alignment.missing == alignment.unexpected == []


def test_torch_compile_prefix_from_a_real_compiled_module() -> None:
    net = Net()
    compiled = torch.compile(net)
    source = manifest_of(compiled)
    assert next(iter(source.tensors)).startswith("_orig_mod.")
    alignment = align(source, manifest_of(net))
    assert alignment.prefix == PrefixTransform(strip="_orig_mod.", add="")
    assert not alignment.missing and not alignment.unexpected


def test_prefix_added_and_replaced() -> None:
    net = Net()
    added = align(manifest_of(net), manifest_of(net, prefix="model."))
    assert added.prefix == PrefixTransform(strip="", add="model.")
    replaced = align(
        manifest_of(net, prefix="base_model.model."),
        manifest_of(net, prefix="model.diffusion_model."),
    )
    assert replaced.prefix == PrefixTransform(
        strip="base_model.model.", add="model.diffusion_model."
    )
    assert len(replaced.pairs) == len(net.state_dict())


def test_a_top_module_renamed_takes_its_contents_along() -> None:
    # BERT's masked-LM head against the classifier's pooler: their ``dense`` layers share a
    # tail, the ``LayerNorm`` beside one has no counterpart. No module was renamed.
    mlm = [f"cls.predictions.transform.{m}.{p}" for m in ("dense", "LayerNorm") for p in "wb"]
    pooler = ["bert.pooler.dense.w", "bert.pooler.dense.b", "classifier.w", "classifier.b"]
    assert best_prefix(mlm, pooler) is None
    # The whole module moved: a rename, though only two of its names are listed.
    assert best_prefix(mlm[:2], pooler) == PrefixTransform(
        strip="cls.predictions.transform.", add="bert.pooler."
    )


def test_prefix_leaves_colliding_names_alone() -> None:
    source = from_shapes({"module.a.w": (2,), "module.b.w": (3,), "a.w": (2,)})
    target = from_shapes({"a.w": (2,), "b.w": (3,)})
    alignment = align(source, target)
    assert {(p.source, p.target, p.via) for p in alignment.pairs} == {
        ("a.w", "a.w", "exact"),
        ("module.b.w", "b.w", "prefix"),
    }
    assert alignment.unexpected == ["module.a.w"]


def test_templated_rename_rules_over_layer_indices() -> None:
    width, depth = 8, 4
    source, target = {}, {}
    for i in range(depth):
        for kind, shape in (("weight", (width, width)), ("bias", (width,))):
            source[f"blocks.{i}.attn.proj.{kind}"] = shape
            target[f"transformer_blocks.{i}.attn.to_out.0.{kind}"] = shape
            source[f"blocks.{i}.attn.q.{kind}"] = shape
            target[f"transformer_blocks.{i}.attn.to_q.{kind}"] = shape
        source[f"blocks.{i}.norm1.weight"] = (width,)
        target[f"transformer_blocks.{i}.norm1.weight"] = (width,)
    alignment = align(from_shapes(source), from_shapes(target))
    assert alignment.prefix == PrefixTransform(strip="blocks.", add="transformer_blocks.")
    rules = {(r.source, r.target): r for r in alignment.renames}
    # q and to_q fold to the same words: a rename by names.
    assert set(rules) == {("transformer_blocks.{i}.attn.q", "transformer_blocks.{i}.attn.to_q")}
    assert all(rule.count == 2 * depth for rule in rules.values())
    assert all(0.6 <= rule.score <= 1 for rule in rules.values())
    assert not alignment.missing and not alignment.unexpected
    # proj and to_out.0 share no word, and q has the same shape: the structural
    # matcher decides (the last same-shape tensor of the block), as an inference.
    pairs = {p.source: (p.target, p.via) for p in alignment.pairs}
    assert pairs["blocks.2.attn.proj.bias"] == (
        "transformer_blocks.2.attn.to_out.0.bias",
        "structure",
    )
    assert {i.kind for i in alignment.inferred} == {"rename"}
    assert all(0 < i.score < 1 and i.evidence for i in alignment.inferred)


def test_rename_uses_tokens_not_order_among_equal_shapes() -> None:
    # Three same-shape projections per layer, listed in another order on each side.
    source, target = {}, {}
    for i in range(3):
        for name in ("query", "key", "value"):
            source[f"layers.{i}.attention.{name}.weight"] = (8, 8)
        for name in ("v_proj", "q_proj", "k_proj"):
            target[f"layers.{i}.self_attn.{name}.weight"] = (8, 8)
    pairs = {p.source: p.target for p in align(from_shapes(source), from_shapes(target)).pairs}
    assert pairs["layers.1.attention.query.weight"] == "layers.1.self_attn.q_proj.weight"
    assert pairs["layers.1.attention.key.weight"] == "layers.1.self_attn.k_proj.weight"
    assert pairs["layers.1.attention.value.weight"] == "layers.1.self_attn.v_proj.weight"


def test_unrelated_leftovers_of_other_shapes_stay_unmatched() -> None:
    source = from_shapes({"a.weight": (3, 4), "ema_decay": (1,)})
    target = from_shapes({"b.weight": (5, 4), "classifier.bias": (7,)})
    alignment = align(source, target)
    assert alignment.pairs == []
    assert alignment.unexpected == ["a.weight", "ema_decay"]
    assert alignment.missing == ["b.weight", "classifier.bias"]


def test_lone_scalars_of_unrelated_names_are_not_renamed() -> None:
    alignment = align(from_shapes({"ema_decay": ()}), from_shapes({"logit_scale": ()}))
    assert alignment.pairs == []
    # A distinctive shape, unique on both sides, is enough.
    alignment = align(
        from_shapes({"fc.weight": (1000, 768)}), from_shapes({"classifier.weight": (1000, 768)})
    )
    assert [(p.source, p.target, p.via) for p in alignment.pairs] == [
        ("fc.weight", "classifier.weight", "rename")
    ]


def test_weight_is_never_renamed_into_bias() -> None:
    alignment = align(from_shapes({"fc.weight": (8,)}), from_shapes({"fc2.bias": (8,)}))
    assert alignment.pairs == []


def test_fused_qkv_from_separate_parts_in_real_modules() -> None:
    alignment = align(manifest_of(Net(fused=False)), manifest_of(Net(fused=True)))
    assert len(alignment.fused) == 6  # weight and bias of 3 blocks
    group = alignment.fused[0]
    assert group == FusedGroup(
        ("blocks.0.q.weight", "blocks.0.k.weight", "blocks.0.v.weight"),
        "blocks.0.qkv.weight",
        "source",
    )
    assert not alignment.missing and not alignment.unexpected


def test_fused_checkpoint_against_separate_model() -> None:
    alignment = align(manifest_of(Net(fused=True)), manifest_of(Net(fused=False)))
    assert {g.parts_side for g in alignment.fused} == {"target"}
    assert alignment.fused[1].parts == ("blocks.0.q.bias", "blocks.0.k.bias", "blocks.0.v.bias")
    assert not alignment.missing and not alignment.unexpected


def test_kv_and_gate_up_fusion_need_sizes_that_add_up() -> None:
    source = from_shapes(
        {
            "l.0.attn.k_proj.weight": (4, 8),
            "l.0.attn.v_proj.weight": (4, 8),
            "l.0.mlp.gate_proj.weight": (16, 8),
            "l.0.mlp.up_proj.weight": (16, 8),
        }
    )
    target = from_shapes(
        {"l.0.attn.kv_proj.weight": (8, 8), "l.0.mlp.gate_up_proj.weight": (30, 8)}
    )
    alignment = align(source, target)
    assert [g.fused for g in alignment.fused] == ["l.0.attn.kv_proj.weight"]
    assert alignment.missing == ["l.0.mlp.gate_up_proj.weight"]


def test_align_two_60k_manifests_with_renames() -> None:
    """Every pair and the 30 templated renames of a 60,000-tensor model (bench/check.py
    times it; a timed assertion would fail on a busy machine, not on slow code)."""
    source, target = {}, {}
    for i in range(1000):
        for kind in "qkv":
            source[f"module.layers.{i}.attn.{kind}.weight"] = (64, 64)
            target[f"layers.{i}.attn.to_{kind}.weight"] = (64, 64)
            source[f"module.layers.{i}.attn.{kind}.bias"] = (64,)
            target[f"layers.{i}.attn.to_{kind}.bias"] = (64,)
        for j in range(27):
            source[f"module.layers.{i}.mlp.fc{j}.weight"] = (64, j + 1)
            target[f"layers.{i}.mlp.fc{j}.weight"] = (64, j + 1)
            source[f"module.layers.{i}.blk{j}.proj.weight"] = (j + 1, 64)
            target[f"layers.{i}.blk{j}.to_out.0.weight"] = (j + 1, 64)
    left, right = from_shapes(source), from_shapes(target)
    assert len(left) == len(right) == 60_000
    alignment = align(left, right)
    assert len(alignment.pairs) == 60_000
    assert len(alignment.renames) == 30


@pytest.mark.parametrize("wrapper", ["module.", "_orig_mod.", "base_model.model.", "model."])
def test_wrapper_prefix_found_when_renames_hide_every_tail(wrapper: str) -> None:
    source = {f"{wrapper}blocks.{i}.attn.proj.weight": (8, 8) for i in range(4)}
    target = {f"transformer_blocks.{i}.attn.to_out.0.weight": (8, 8) for i in range(4)}
    alignment = align(from_shapes(source), from_shapes(target))
    assert alignment.prefix == PrefixTransform(strip=wrapper, add="")
    # A square matrix under other words: structure maps it (as an inference).
    assert {(i.sources[0], i.targets[0]) for i in alignment.inferred} == {
        (f"{wrapper}blocks.{i}.attn.proj.weight", f"transformer_blocks.{i}.attn.to_out.0.weight")
        for i in range(4)
    }
