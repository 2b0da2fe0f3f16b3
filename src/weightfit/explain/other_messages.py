"""Loading messages of diffusers, PEFT, accelerate, safetensors, PaddlePaddle and Caffe.

- diffusers: ``Cannot load X from Y because NAME expected shape torch.Size([..]),
  but got torch.Size([..])``, ``... because the following keys are missing: a, b``,
  and the variant warning ``A mixture of bf16 and non-bf16 filenames will be
  loaded`` (its v4-style warnings are read by the transformers parser);
- PEFT: ``Found missing adapter keys while loading the checkpoint: [...]`` and
  ``... led to unexpected keys not found in the model: [...]``;
- accelerate: ``Trying to set a tensor of shape torch.Size([..]) in "NAME" (which
  has shape torch.Size([..])), this looks incorrect``;
- safetensors: ``Some tensors share memory`` (tied weights on save) and
  ``Error while deserializing header: ...`` (a file that is not, or no longer,
  safetensors);
- PaddlePaddle's model zoos (PaddleOCR, PaddleDetection ...): ``The shape of model params
  X [a, b] not matched with loaded params X [c, d] !``, and Paddle Fluid's ``the Program
  requires a parameter with the shape of ((a, b)), while the loaded parameter (namely [ X ])
  has a shape of ((c, d))``, its static graph's ``Variable Shape not match, Variable [ X ] need
  tensor with shape (a, b) but load set tensor with shape (c, d)``, Linear weights (stored
  ``[in, out]``) turned to PyTorch's layout;
- Caffe: ``Cannot copy param 0 weights from layer 'L'; shape mismatch. Source param shape
  is a b c d (n); target param shape is ...``, the saved net's blob first (blob 0 is the
  layer's weight, 1 its bias);
- Flax: ``ScopeParamShapeError`` between a parameter it was given and the one its initializer
  makes, in the wording of each release (0.6: ``Inconsistent shapes between value and
  initializer for parameter "kernel" in "/Dense_0": (3, 4), (5, 4)``; 0.7 to 0.11:
  ``Initializer expected to generate shape A but got shape B instead for parameter ...``,
  the given one first; 0.12: ``... the given initializer is expected to generate shape B,
  but the existing parameter it received has shape A``);
- TensorRT, building a network from a weights file (tensorrtx and its kin): ``L: count of
  N weights in kernel, but kernel dimensions (h,w) with C input channels, K output
  channels and G groups were specified``: the file's kernel, N values, read back to a shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from weightfit.diagnose.text_messages import SharedTensors, UnreadableHeader, VariantMix
from weightfit.explain._text import SIZE, Section, names_in, shape
from weightfit.explain.statements.files import NEWER_DTYPE, file_of_other_format
from weightfit.explain.statements.loaders import lora_leftovers

DIFFUSERS_SHAPE = re.compile(
    r"Cannot\s+load\s+(\S*)\s*(?:from\s+(\S+)\s+)?because\s+(\S+)\s+expected\s+shape\s+"
    + SIZE
    + r",?\s+but\s+got\s+"
    + SIZE
)
DIFFUSERS_MISSING = re.compile(
    r"Cannot\s+load\s+(\S*)\s*(?:from\s+(\S+)\s+)?because\s+the\s+following\s+keys\s+are\s+"
    r"missing:\s*(.*?)(?:\.\s+Please|\Z)",
    re.S,
)
VARIANT_MIX = re.compile(
    r"A\s+mixture\s+of\s+(\w+)\s+and\s+non-\1\s+filenames\s+will\s+be\s+loaded"
)
VARIANT_LIST = re.compile(r"Loaded\s+(non-)?(\w+)\s+filenames:\s*\[([^\]]*)\]?")
PEFT_MISSING = re.compile(r"Found\s+missing\s+adapter\s+keys\s+while\s+loading\s+the\s+checkpoint:")
PEFT_UNEXPECTED = re.compile(r"led\s+to\s+unexpected\s+keys\s+not\s+found\s+in\s+the\s+model:")
GLUON_EXTRA = re.compile(
    r"Parameter\s+'([^'\s]+)'\s+loaded\s+from\s+file:?\s*'?[^\s']+'?\s+is\s+not\s+present\s+in\s+"
    r"ParameterDict"
)
"""MXNet Gluon refusing a file's parameter its network does not have (``Parameter 'data'
loaded from file:x.params is not present in ParameterDict, choices are: ...``)."""
ACCELERATE = re.compile(
    r"Trying\s+to\s+set\s+a\s+tensor\s+of\s+shape\s+"
    + SIZE
    + r"\s+in\s+\"([^\"]+)\"\s+\(which\s+has\s+shape\s+"
    + SIZE
)
SHARED = re.compile(r"Some\s+tensors\s+share\s+memory.*?:\s*\[(.*?)\]\s*\.?", re.S)
HEADER = re.compile(
    r"Error\s+while\s+deserializing\s+header:\s*([^\n]+)|"
    # MLX's own safetensors reader: ``[load_safetensors] Invalid json header length``.
    r"\[load_safetensors\]\s+(Invalid\s+json\s+header\s+length)"
)
CAFFE_SHAPE = re.compile(
    r"Cannot\s+copy\s+param\s+(\d+)\s+weights\s+from\s+layer\s+'([^']+)';\s+shape\s+mismatch\.\s+"
    r"Source\s+param\s+shape\s+is\s+([\d\s]+?)\s*\(\d+\);\s+target\s+param\s+shape\s+is\s+"
    r"([\d\s]+?)\s*\(\d+\)"
)
MARIAN_SHAPE = re.compile(
    r"Requested\s+shape\s+shape=([\dx]+)\s+size=\d+\s+\(\d+B\)\s+for\s+existing\s+parameter\s+"
    r"'([^']+)'\s+does\s+not\s+match\s+original\s+shape\s+shape=([\dx]+)"
)
"""Marian's ``ExpressionGraph::param`` meeting a parameter loaded from the model file (the
original shape) that the graph it builds requests at another shape."""
CAFFE_BLOBS = ("weight", "bias")
"""What Caffe's blobs 0 and 1 of a layer hold."""
PADDLE_SHAPE = re.compile(
    r"shape\s+of\s+model\s+params\s+(\S+)\s+\[([\d,\s]*)\]\s+not\s+matched\s+with\s+"
    r"loaded\s+params\s+\S+\s+\[([\d,\s]*)\]"
)
PADDLE_VARIABLE = re.compile(
    r"Variable\s+\[\s*(\S+?)\s*\]\s+need\s+tensor\s+with\s+shape\s+\(([\d,\s]*)\)\s+but\s+"
    r"load\s+set\s+tensor\s+with\s+shape\s+\(([\d,\s]*)\)"
)
PADDLE_RECEIVES = re.compile(
    r"(\S+?)\s+receives\s+a\s+shape\s+\[([\d,\s]*)\],\s+but\s+the\s+expected\s+shape\s+is\s+"
    r"\[([\d,\s]*)\]"
)
"""Paddle 2's ``set_state_dict`` skipping a parameter: the loaded shape first, then the model's."""
PADDLE_PROGRAM = re.compile(
    r"Program\s+requires\s+a\s+parameter\s+with\s+(?:the|a)\s+shape\s+of\s+\(\(([\dL,\s]*)\)\),?"
    r"\s+while\s+the\s+loaded\s+parameter\s+\(namely\s+\[\s*(\S+?)\s*\]\)\s+has\s+a\s+shape\s+of"
    r"\s+\(\(([\dL,\s]*)\)\)"
)


def _tuple(group: str) -> str:
    """A printed tuple of sizes, captured under ``group``."""
    return rf"\((?P<{group}>[\d,\s]*)\)"


FLAX_SHAPES = re.compile(
    r"Inconsistent\s+shapes\s+between\s+value\s+and\s+initializer\s+for\s+parameter\s+"
    r"\"(?P<param0>\w+)\"\s+in\s+\"(?P<scope0>[^\"]*)\":\s+"
    + _tuple("given0")
    + r",\s+"
    + _tuple("init0")
    + r"|Initializer\s+expected\s+to\s+generate\s+shape\s+"
    + _tuple("given1")
    + r"\s+but\s+got\s+shape\s+"
    + _tuple("init1")
    + r"\s+instead\s+for\s+parameter\s+\"(?P<param1>\w+)\"\s+in\s+\"(?P<scope1>[^\"]*)\"|"
    r"For\s+parameter\s+\"(?P<param2>\w+)\"\s+in\s+\"(?P<scope2>[^\"]*)\",\s+the\s+given\s+"
    r"initializer\s+is\s+expected\s+to\s+generate\s+shape\s+"
    + _tuple("init2")
    + r",\s+but\s+the\s+existing\s+parameter\s+it\s+received\s+has\s+shape\s+"
    + _tuple("given2")
)
"""Flax's ``ScopeParamShapeError``; its ``given`` shape is the parameter handed to the module
(restored from a checkpoint), its ``init`` shape the one the module builds."""
TENSORRT_KERNEL = re.compile(
    r"(?:\(Unnamed\s+Layer\*\s*(\d+)\)\s*\[\w+\]|([\w.\-]+)):\s+count\s+of\s+(\d+)\s+weights\s+"
    r"in\s+kernel,\s+but\s+kernel\s+dimensions\s+\((\d+),\s*(\d+)\)\s+with\s+(\d+)\s+input\s+"
    r"channels,\s+(\d+)\s+output\s+channels\s+and\s+(\d+)\s+groups"
)
HEADER_CAUSES = {
    "header too large": "the file is not safetensors: a Git LFS pointer, an HTML error page "
    "or a pickle saved under a .safetensors name",
    "HeaderTooLarge": "the file is not safetensors: a Git LFS pointer, an HTML error page "
    "or a pickle saved under a .safetensors name",
    "incomplete metadata": "the file is truncated: an interrupted download or copy",
    "Invalid json header length": "the file is not safetensors: its first bytes give no "
    "header length a safetensors file has (a Git LFS pointer, a page, another format)",
    "MetadataIncompleteBuffer": "the file is truncated: an interrupted download or copy",
}


def parse(text: str) -> list[Section]:
    """Find every diffusers, PEFT, accelerate, MXNet Gluon and safetensors loading message."""
    return [
        *_diffusers(text),
        *_lora_leftovers(text),
        *_variant_mix(text),
        *_peft(text),
        *_accelerate(text),
        *_gluon_extra(text),
        *_safetensors(text),
        *_shape_lines(text, PADDLE_SHAPE, "paddle", _paddle_shapes),
        *_shape_lines(text, PADDLE_PROGRAM, "paddle", _paddle_program_shapes),
        *_shape_lines(text, PADDLE_VARIABLE, "paddle", _paddle_shapes),
        *_shape_lines(text, PADDLE_RECEIVES, "paddle", _paddle_received_shapes),
        *_shape_lines(text, CAFFE_SHAPE, "caffe", _caffe_shapes),
        *_shape_lines(text, TENSORRT_KERNEL, "tensorrt", _tensorrt_shapes),
        *_shape_lines(text, FLAX_SHAPES, "flax", _flax_shapes),
        *_shape_lines(text, MARIAN_SHAPE, "marian", _marian_shapes),
    ]


def _diffusers(text: str) -> list[Section]:
    sections = []
    for match in DIFFUSERS_SHAPE.finditer(text):
        section = Section(
            model=match.group(1),
            origin="diffusers",
            start=match.start(),
            checkpoint=match.group(2) or "",
        )
        section.mismatched[match.group(3)] = (shape(match.group(5)), shape(match.group(4)))
        section.hints.append(
            "diffusers stops at the first mismatch: see every one with "
            "from_pretrained(..., low_cpu_mem_usage=False, ignore_mismatched_sizes=True), "
            "or run weightfit check on the checkpoint against the model's config.json"
        )
        sections.append(section)
    for match in DIFFUSERS_MISSING.finditer(text):
        section = Section(
            model=match.group(1),
            origin="diffusers",
            start=match.start(),
            checkpoint=match.group(2) or "",
        )
        section.missing, section.truncated = names_in(match.group(3))
        sections.append(section)
    return sections


def _lora_leftovers(text: str) -> list[Section]:
    sections = []
    for match in lora_leftovers(text):
        section = Section(model="", origin="diffusers", start=match.start())
        section.unexpected, section.truncated = names_in(match.group("names"))
        sections.append(section)
    return sections


Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def _shape_lines(
    text: str,
    pattern: re.Pattern[str],
    origin: str,
    read: Callable[[re.Match[str]], tuple[str, Shapes]],
) -> list[Section]:
    """One section of a framework's one-line shape warnings, each read to (name, shapes)."""
    matches = list(pattern.finditer(text))
    if not matches:
        return []
    section = Section(model="", origin=origin, start=matches[0].start())
    for match in matches:
        name, shapes = read(match)
        section.mismatched[name] = shapes
    return [section]


def _paddle_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """Paddle names the model's shape first, then the loaded one.

    Paddle stores a Linear weight input axis first (``[in, out]``), an embedding as PyTorch
    does (``[rows, width]``): a matrix that is no embedding is turned to PyTorch's layout.
    """
    name, model, loaded = match.group(1), shape(match.group(2)), shape(match.group(3))
    return name, _paddle_layout(name, loaded, model)


def _paddle_received_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """Paddle 2 names the loaded shape first, then the model's (``receives ... expected``)."""
    name, loaded, model = match.group(1), shape(match.group(2)), shape(match.group(3))
    return name, _paddle_layout(name, loaded, model)


def _paddle_program_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """Paddle Fluid's ``load_vars`` names the program's shape first, then the loaded one.

    Under Python 2 its sizes print as longs (``(4096L, 1133L)``).
    """
    model = tuple(int(d) for d in re.findall(r"\d+", match.group(1)))
    loaded = tuple(int(d) for d in re.findall(r"\d+", match.group(3)))
    return match.group(2), _paddle_layout(match.group(2), loaded, model)


def _paddle_layout(name: str, loaded: tuple[int, ...], model: tuple[int, ...]) -> Shapes:
    """A Paddle matrix that is no embedding turned from ``[in, out]`` to PyTorch's layout."""
    if len(model) == len(loaded) == 2 and "emb" not in name.lower():
        return loaded[::-1], model[::-1]
    return loaded, model


def _caffe_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """Caffe names a layer and a blob index: blob 0 is its weight, 1 its bias."""
    blob, layer = int(match.group(1)), match.group(2)
    leaf = CAFFE_BLOBS[blob] if blob < len(CAFFE_BLOBS) else f"blob{blob}"
    return f"{layer}.{leaf}", (shape(match.group(3)), shape(match.group(4)))


def _marian_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """Marian's ``F0::decoder_cell2_W``: the file's shape is the original, the graph's requested."""
    requested, name, original = match.groups()
    dims = (tuple(int(d) for d in original.split("x")), tuple(int(d) for d in requested.split("x")))
    return name.replace("::", "."), dims


def _tensorrt_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """TensorRT counts the file's kernel values: the axis they fill whole is the one that differs.

    ``count of 5184 weights`` for a ``(6,6)`` kernel of 3 inputs and 32 outputs is 48
    outputs in the file (yolov5m's first convolution where yolov5s's was built); a count
    that fills no whole number of outputs fills the inputs.
    """
    unnamed, named, count, height, width, inputs, outputs, groups = match.groups()
    n, h, w, c, k, g = (int(v) for v in (count, height, width, inputs, outputs, groups))
    per_group = max(c // max(g, 1), 1)
    model = (k, per_group, h, w)
    loaded: tuple[int, ...]
    if n % (per_group * h * w) == 0:
        loaded = (n // (per_group * h * w), per_group, h, w)
    elif n % (k * h * w) == 0:
        loaded = (k, n // (k * h * w), h, w)
    else:
        loaded = (n,)
    name = named or f"layer{unnamed}"
    return f"{name}.weight", (loaded, model)


def _flax_shapes(match: re.Match[str]) -> tuple[str, Shapes]:
    """A Flax parameter: the given (restored) shape, the one its module builds, as printed.

    Flax's ``Dense`` kernels are ``[in, out]``; the shapes stay as printed, since a
    parameter of another rank (a replicated state's leading device axis) has no one layout.
    """
    i = next(k for k in range(3) if match[f"param{k}"])
    scope = match[f"scope{i}"].strip("/").replace("/", ".")
    name = f"{scope}.{match[f'param{i}']}" if scope else match[f"param{i}"]
    given = tuple(int(d) for d in re.findall(r"\d+", match[f"given{i}"]))
    init = tuple(int(d) for d in re.findall(r"\d+", match[f"init{i}"]))
    return name, (given, init)


def _variant_mix(text: str) -> list[Section]:
    match = VARIANT_MIX.search(text)
    if match is None:
        return []
    variant = match.group(1)
    files: dict[str, list[str]] = {"variant": [], "non_variant": []}
    for listed in VARIANT_LIST.finditer(text, match.end()):
        names = [n.strip().strip("'\"") for n in listed.group(3).split(",") if n.strip()]
        files["non_variant" if listed.group(1) else "variant"] += names
    section = Section(model="", origin="diffusers", start=match.start())
    section.facts.append(VariantMix(variant, files["variant"], files["non_variant"]))
    section.hints.append(
        "see which files each diffusers version reads, and what the extra copy costs: "
        "weightfit lint MODEL_FOLDER"
    )
    return [section]


def _peft(text: str) -> list[Section]:
    sections = []
    for pattern, side in ((PEFT_MISSING, "missing"), (PEFT_UNEXPECTED, "unexpected")):
        for match in pattern.finditer(text):
            listed = re.match(r"\s*\[(.*?)\]", text[match.end() :], re.S)
            if listed is None:
                continue
            section = Section(model="PeftModel", origin="peft", start=match.start())
            names, section.truncated = names_in(listed.group(1))
            setattr(section, side, names)
            sections.append(section)
    return sections


def _gluon_extra(text: str) -> list[Section]:
    sections = []
    for match in GLUON_EXTRA.finditer(text):
        section = Section(model="", origin="mxnet", start=match.start())
        section.unexpected = [match.group(1)]
        sections.append(section)
    return sections


def _accelerate(text: str) -> list[Section]:
    sections = []
    for match in ACCELERATE.finditer(text):
        section = Section(model="", origin="accelerate", start=match.start())
        section.mismatched[match.group(2)] = (shape(match.group(1)), shape(match.group(3)))
        section.hints.append(
            "accelerate names only the parameter, not its module: "
            "run weightfit check CKPT --against TARGET to see every tensor that differs"
        )
        sections.append(section)
    return sections


def _safetensors(text: str) -> list[Section]:
    sections = []
    shared = SHARED.search(text)
    if shared is not None:
        groups = [
            sorted(re.findall(r"['\"]([^'\"]+)['\"]", group))
            for group in re.findall(r"\{([^}]*)\}", shared.group(1))
        ]
        section = Section(model="", origin="safetensors", start=shared.start())
        section.facts.append(SharedTensors(groups))
        sections.append(section)
    for match in HEADER.finditer(text):
        reason = (match.group(1) or match.group(2)).strip()
        if NEWER_DTYPE.search(reason):
            continue  # a whole header, a dtype newer than its reader: NEWER_FORMAT's reading
        cause = next((c for key, c in HEADER_CAUSES.items() if key in reason), "")
        section = Section(model="", origin="safetensors", start=match.start())
        section.facts.append(UnreadableHeader(reason, cause, file_of_other_format(text, reason)))
        section.hints.append("see what the file really is: weightfit inspect FILE")
        sections.append(section)
    return sections
