"""What the tolerant extractor reads from real pastes, one test per mechanism.

Every text is a verbatim paste from a public thread (``tests/data/errors-real/<id>.txt``,
its source URL and settled cause in ``<id>.yaml``); only ``split: dev`` texts are used.
Each test asserts what was *read* (names, shapes, sides, facts), and where the reading
settles the cause, the top finding.
"""

from __future__ import annotations

from pathlib import Path

import yaml

import weightfit
from weightfit.explain import sections
from weightfit.explain._text import clean
from weightfit.explain.extract import facts, normalise

CORPUS = Path(__file__).parent / "data" / "errors-real"


def dev_text(ident: str) -> str:
    meta = yaml.safe_load((CORPUS / f"{ident}.yaml").read_text(encoding="utf-8"))
    assert meta["split"] == "dev", "these tests read only the dev part"
    return (CORPUS / f"{ident}.txt").read_text(encoding="utf-8")


def read(text: str) -> tuple[dict[str, object], list[str], list[str]]:
    """Mismatched, missing and unexpected names over every section of a text."""
    found = sections(text)
    mismatched = {n: v for s in found for n, v in s.mismatched.items()}
    return (
        mismatched,
        [n for s in found for n in s.missing],
        [n for s in found for n in s.unexpected],
    )


def text_facts(text: str):  # type: ignore[no-untyped-def]
    return facts(normalise(clean(text)))


def test_a_pytorch_0_3_stated_key_is_a_key_even_without_a_dot() -> None:
    """``KeyError: 'unexpected key "acc" in state_dict'``: the sentence names a key."""
    text = dev_text("bearpaw__pytorch-classification__11")
    _, missing, unexpected = read(text)
    assert unexpected == ["acc"] and not missing
    assert text_facts(text).key_errors == []  # a sentence, not a key the loader looked up
    assert weightfit.explain(text).findings[0].category == "unexpected"


def test_a_hand_typed_size_with_swapped_closers_and_a_spaced_check_point() -> None:
    """``torch.Size([1,1,192)] from check point``: both shapes read, on their sides."""
    text = dev_text("FlyEgle__MAE-pytorch__7")
    mismatched, _, _ = read(text)
    assert mismatched == {"cls_token": ((1, 1, 192), (1, 1, 768))}
    assert weightfit.explain(text).findings[0].category == "wrong_variant"


def test_markdown_emphasis_around_names_and_prose_cues_for_the_checkpoint_side() -> None:
    """``saved under the name: _a.b.norm.1.bias_`` … ``missing: _a.b.norm1.bias_``."""
    _, missing, unexpected = read(dev_text("zoogzog__chexnet__11"))
    assert missing == ["module.densenet121.features.denseblock1.denselayer1.norm1.bias"]
    assert unexpected == ["module.densenet121.features.denseblock1.denselayer1.norm.1.bias"]


def test_a_keyerror_is_a_container_key_only_when_the_weights_are_read_by_it() -> None:
    """``obj_factory(checkpoint['arch'])``: a setting beside the weights, not their container;
    ``load_state_dict(torch.load(p)['g_running'])`` and ``torch.load(p)[key]`` are."""
    assert text_facts(dev_text("YuvalNirkin__fsgan__159")).container_key == ""
    assert weightfit.explain(dev_text("YuvalNirkin__fsgan__159")).findings[0].category != ("prefix")
    for ident, key in (
        ("rosinality__style-based-gan-pytorch__109", "g_running"),
        ("rosinality__style-based-gan-pytorch__103", "generator"),
        ("XPixelGroup__BasicSR__253", "params"),
    ):
        assert text_facts(dev_text(ident)).container_key == key
