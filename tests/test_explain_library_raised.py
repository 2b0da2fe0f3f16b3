"""``explain`` on errors the real libraries raise, as people paste them.

Each test makes torch or PEFT raise its own exception on a small real model, pastes it as a
traceback's last line would read (``Type: message``), and checks what ``explain`` reads.
"""

from __future__ import annotations

import pytest
import torch

import weightfit


def pasted(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}\n"


def raised(action: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_a_config_argument_the_class_does_not_take_was_written_by_newer_code() -> None:
    error = raised(lambda: torch.nn.Linear(2, 2, rope_scaling={"type": "linear"}))
    top = weightfit.explain(pasted(error)).findings[0]
    assert (top.category, top.evidence["argument"]) == ("version", "rope_scaling")


def test_a_parameter_left_on_the_meta_device_received_no_value() -> None:
    error = raised(lambda: torch.empty(2, device="meta").cpu())
    top = weightfit.explain(pasted(error)).findings[0]
    assert top.category == "tied_weights"
    assert top.confidence < 0.5  # most often the tied head, not always


def test_an_adapter_for_modules_the_base_model_lacks_is_for_another_architecture() -> None:
    peft = pytest.importorskip("peft")
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    config = peft.LoraConfig(target_modules=["q_proj", "v_proj"])
    error = raised(lambda: peft.get_peft_model(model, config))
    top = weightfit.explain(pasted(error)).findings[0]
    assert top.category == "lora_mismatch"
    assert "q_proj" in top.evidence["targets"]


def test_a_zip_member_the_reader_cannot_read_is_a_broken_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(64)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = bytes(64)  # damage the archive mid-way
    path.write_bytes(bytes(data))
    error = raised(lambda: torch.load(path, weights_only=True))
    top = weightfit.explain(pasted(error)).findings[0]
    assert top.category == "partitioned"
