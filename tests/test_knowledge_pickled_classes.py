"""The table of classes YOLO codebases pickle (``knowledge/pickled_classes.yaml``)."""

from __future__ import annotations

from weightfit.knowledge import pickled_classes


def names(codebases: list[pickled_classes.Codebase]) -> list[str]:
    return [codebase.name for codebase in codebases]


def test_every_row_cites_the_commit_its_classes_were_read_at() -> None:
    for codebase in pickled_classes.codebases():
        assert "github.com" in codebase.source and "commit" in codebase.source
        assert codebase.modules["models.common"]


def test_which_codebases_define_a_layer() -> None:
    common = pickled_classes.pickling("models.common")
    assert names(common) == ["YOLOv5", "YOLOv7", "YOLOv9"]
    assert [c.name for c in common if c.defines("models.common", "MP")] == ["YOLOv7", "YOLOv9"]
    assert [c.name for c in common if c.defines("models.common", "C3")] == ["YOLOv5"]
    assert pickled_classes.pickling("ultralytics.nn.modules.block") == []


def test_a_checkout_is_named_by_the_path_part_nearest_its_file() -> None:
    checkout = pickled_classes.checkout_of(
        r"D:\projects\Yolov5_StrongSORT_OSNet\yolov5\models\common.py"
    )
    assert checkout is not None and checkout.name == "YOLOv5"
    nested = pickled_classes.checkout_of("/src/yolov7-main/third_party/yolov9/models/common.py")
    assert nested is not None and nested.name == "YOLOv9"
    assert pickled_classes.checkout_of("/home/me/detector/models/common.py") is None
