"""Capture what one PEFT version writes for each case of ``tests/peft_matrix.py``.

Run once per PEFT version, in a throwaway virtual environment that has that
PEFT (and a transformers of its time) installed, from the repository root::

    python3 -m venv /tmp/peft062 && /tmp/peft062/bin/pip install torch==2.13.0 \\
        "numpy<2" peft==0.6.2 transformers==4.35.2 accelerate==0.24.1
    PYTHONPATH=tests /tmp/peft062/bin/python tests/data/peft/capture.py

It builds every case with that PEFT (tiny models, one training step) and keeps
only what the adapter folder says about itself: the safetensors header (names,
dtypes, shapes, ``__metadata__``) in ``<version>/<case>.json`` with the library
versions, and ``adapter_config.json`` in ``<version>/<case>.config.json`` (the
temporary folder in ``base_model_name_or_path`` written as ``<tmp>``, so a
capture run again changes nothing).
Cases the version cannot build are listed in ``<version>/unsupported.json``.
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def safetensors_header(path: Path) -> dict[str, object]:
    """The JSON header of a safetensors file (read as bytes: no tensor is loaded)."""
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, object] = json.loads(handle.read(size))
    return header


def main() -> None:
    import peft
    import torch
    import transformers

    import peft_matrix

    versions = {
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    out = HERE / peft.__version__
    out.mkdir(parents=True, exist_ok=True)
    unsupported: dict[str, str] = {}
    for name, build in peft_matrix.CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                built = build(Path(tmp))
            except peft_matrix.Unsupported as reason:
                unsupported[name] = str(reason)
                continue
            except (TypeError, ValueError, ImportError, AttributeError) as error:
                unsupported[name] = f"{type(error).__name__}: {error}"
                continue
            weights = built.adapter / "adapter_model.safetensors"
            header = safetensors_header(weights)
            metadata = header.pop("__metadata__", None)
            tensors = {
                key: {"dtype": value["dtype"], "shape": value["shape"]}  # type: ignore[index]
                for key, value in sorted(header.items())
            }
            record = {
                "case": name,
                "versions": versions,
                "model_class": built.model_class,
                "rows": built.rows,
                "metadata": metadata,
                "files": sorted(p.name for p in built.adapter.iterdir()),
                "tensors": tensors,
            }
            (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
            config = (built.adapter / "adapter_config.json").read_text()
            (out / f"{name}.config.json").write_text(config.replace(tmp, "<tmp>"))
    (out / "unsupported.json").write_text(
        json.dumps({"versions": versions, "cases": unsupported}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
