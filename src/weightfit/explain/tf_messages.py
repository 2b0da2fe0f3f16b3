"""Loading messages of TensorFlow 1.x and Keras, read into PyTorch's layout.

- TensorFlow's ``Saver.restore``: ``Assign requires shapes of both tensors to match.
  lhs shape= [1024,10] rhs shape= [1024,1000]`` (``lhs``: the graph's variable, ``rhs``:
  the checkpoint's value), its variable named in the node that follows
  (``_class=["loc:@logits/weights"]``);
- Keras 2's ``load_weights``: ``weight <tf.Variable 'embedding_4/embeddings:0' ...> has
  shape (209, 100), but the saved weight has shape (465, 100)``;
- Keras 2's ``load_weights(..., skip_mismatch=True)``: ``Skipping loading of weights for
  layer classification_submodel due to mismatch in shape ((3, 3, 256, 630) vs (720, 256, 3,
  3))`` (the layer's, then the file's);
- TensorFlow 1 code feeding a variable's initializer the saved value: ``Cannot feed value
  of shape (32,) for Tensor 'layer_6/bias/Initializer/zeros:0', which has shape '(29,)'``
  (the file's, then the graph's);
- tensorpack's ``SessionInit``: ``Trying to load an array of shape (81,) into variable
  'cascade_rcnn_stage1/outputs/class/b' whose shape is (3,)`` (the file's, then the graph's);
- Keras' ``set_weights`` / ``load_weights``: ``Layer weight shape (3, 3, 1, 32) not
  compatible with provided weight shape (3, 3, 3, 32)`` (the layer's, then the file's);
- TensorFlow 2's variable assignment, as Keras' ``load_weights`` fills each variable:
  ``Cannot assign value to variable ' dense/kernel:0': Shape mismatch.The variable shape
  (3, 4), and the assigned value shape (5, 4) are incompatible`` (2.4 on, named), and
  before 2.4 ``Shapes (150, 384) and (151, 384) are incompatible`` (the variable's, then
  the value's: ``self._shape.assert_is_compatible_with(value.shape)``), read only beside
  code loading weights or between two convolution kernels (the same words come from a
  loss given the wrong labels).

TensorFlow 1.x's ``Dimension 0 in both shapes must be equal ... for 'Assign' ... with input
shapes: [3,3,1,32], [32,3,3,3]`` is left to the generic extractor, as written: the file's
value may be in another layout (a Theano-ordered HDF5 file is ``OIHW``), so no order is
assumed. One case is read: the variable a convolution kernel (``HWIO``) and the value in
PyTorch's order (``OIHW``, its window last) with the same input channels, so that only
the outputs differ (``[1,1,1024,18]`` against ``[255,1024,1,1]``: a head of 18 outputs
given one of 255).

Keras 2's ``load_weights`` (``keras/engine/saving.py`` 2.2.4, ``tf.keras``'s
``hdf5_format.py`` 2.2 to 2.13) turns a convolution's saved kernel that does not fit its
layer with ``np.transpose(kernel, (3, 2, 0, 1))`` before comparing, taking it for a
Theano-ordered file, and prints that: a saved ``HWIO`` kernel ``(3, 3, 256, 720)`` is shown
as ``(720, 256, 3, 3)``, already PyTorch's order. A printed 4-D saved shape that ends with
the layer's kernel size and starts otherwise is read as such.

TensorFlow stores kernels input-first (``HWIO`` convolutions, ``[in, out]`` dense
kernels) where PyTorch stores them output-first; the shapes are turned into PyTorch's
layout (``OIHW``, ``[out, in]``) so the same rules read rows and input channels (an
embedding table is ``[vocabulary, width]`` in both and stays), and the names into dotted
paths (``logits/weights`` → ``logits.weights``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._facts import UNNAMED, UNNAMED_KERAS, UNNAMED_TF
from weightfit.explain._text import Section

NUMBERS = r"([\d,\s]*)"
TF_ASSIGN = re.compile(
    r"Assign\s+requires\s+shapes\s+of\s+both\s+tensors\s+to\s+match\.\s+lhs\s+shape=\s*\["
    + NUMBERS
    + r"\]\s+rhs\s+shape=\s*\["
    + NUMBERS
    + r"\]"
)
TF_VARIABLE = re.compile(r"loc:@([\w/\-.]+)")
"""The variable a TensorFlow node assigns to, printed after the error."""
KERAS_LAYER = re.compile(
    r"Layer\s+weight\s+shape\s+\(" + NUMBERS + r"\)\s+not\s+compatible\s+with\s+provided\s+"
    r"weight\s+shape\s+\(" + NUMBERS + r"\)"
)
KERAS_NAMED = re.compile(
    r"weight\s+<tf\.Variable\s+'([^']+)'\s+shape=\("
    + NUMBERS
    + r"\)[^>]*>\s+has\s+shape\s+\("
    + NUMBERS
    + r"\),\s+but\s+the\s+saved\s+weight\s+has\s+shape\s+\("
    + NUMBERS
    + r"\)"
)
"""Keras 2's ``load_weights``: ``Layer #1 (named "embedding"), weight <tf.Variable
'embedding_4/embeddings:0' shape=(209, 100) ...> has shape (209, 100), but the saved weight
has shape (465, 100)`` (the layer's, then the file's)."""
KERAS_SKIPPED = re.compile(
    r"Skipping\s+loading\s+of\s+weights\s+for\s+layer\s+([\w/\-.]+)\s+due\s+to\s+mismatch\s+"
    r"in\s+shape\s+\(?\(" + NUMBERS + r"\)\s+vs\.?\s+\(" + NUMBERS + r"\)"
)
"""Keras 2's ``load_weights(skip_mismatch=True)`` warning: the layer's shape, then the file's."""
TF_VARIABLE_SHAPES = re.compile(
    r"Cannot\s+assign\s+(?:value\s+)?to\s+variable\s*'?\s*([\w/\-.:]*)'?"
    r"(?::\s*Shape\s+mismatch\.\s*The|\s+due\s+to)\s+variable\s+shape\s+\("
    + NUMBERS
    + r"\),?\s+and\s+(?:the\s+assigned\s+)?value\s+shape\s+\("
    + NUMBERS
    + r"\)\s+are\s+incompatible"
)
ARRAY_INTO_VARIABLE = re.compile(
    r"Trying\s+to\s+load\s+an\s+array\s+of\s+shape\s+\(" + NUMBERS + r"\)\s+into\s+variable\s+"
    r"'([\w/\-.:]+)'\s+whose\s+shape\s+is\s+\(" + NUMBERS + r"\)"
)
"""tensorpack's restore: the saved array's shape, the graph variable, its shape."""
FED_VARIABLE = re.compile(
    r"Cannot\s+feed\s+value\s+of\s+shape\s+\(" + NUMBERS + r"\)\s+for\s+Tensor\s+'([\w/\-.]+?)"
    r"/(?:Initializer|Assign|read)\b[\w/]*(?::\d+)?',?\s+which\s+has\s+shape\s+'?\("
    + NUMBERS
    + r"\)"
)
"""TensorFlow 1 code restoring a variable by feeding its initializer (or assign op) the saved
value: the saved value's shape, the variable, the graph's shape. Feeds of other tensors
(a model's input placeholder) are no load."""
TF_ASSIGN_DIMENSION = re.compile(
    r"in\s+both\s+shapes\s+must\s+be\s+equal[^\n]{0,40}?(?:Shapes\s+are|with\s+input\s+shapes:)\s*"
    r"\[" + NUMBERS + r"\],?\s+(?:and\s+)?\[" + NUMBERS + r"\]"
)
"""TensorFlow 1.x assigning a saved value to a variable: the variable's shape, the value's."""
TF_SHAPES = re.compile(
    r"Shapes\s+\(" + NUMBERS + r"\)\s+and\s+\(" + NUMBERS + r"\)\s+are\s+incompatible"
)
FILLING_VARIABLES = re.compile(r"load_weights|set_weights|batch_set_value|\.assign\(|restore")
"""Code filling variables from saved values: what makes ``Shapes ... are incompatible`` a load's."""
NAME_WINDOW = 600
"""Characters after an ``Assign`` error searched for the variable it names."""
EMBEDDING = re.compile(r"embed", re.IGNORECASE)
"""Embedding tables: ``[vocabulary, width]`` in TensorFlow as in PyTorch, never transposed."""


def parse(text: str) -> list[Section]:
    """Find every TensorFlow restore and Keras weight-shape message."""
    sections = []
    for match in TF_ASSIGN.finditer(text):
        named = TF_VARIABLE.search(text, match.end(), match.end() + NAME_WINDOW)
        name = named.group(1).replace("/", ".") if named else UNNAMED_TF
        model, checkpoint = _numbers(match.group(1)), _numbers(match.group(2))
        sections.append(_section("tensorflow", match.start(), name, checkpoint, model))
    for match in KERAS_NAMED.finditer(text):
        name = match.group(1).split(":")[0].replace("/", ".")
        model, checkpoint = _numbers(match.group(3)), _numbers(match.group(4))
        sections.append(_keras_loaded(match.start(), name, checkpoint, model))
    for match in KERAS_SKIPPED.finditer(text):
        model, checkpoint = _numbers(match.group(2)), _numbers(match.group(3))
        # The warning names the layer; its one vector is the bias, the rest the kernel.
        leaf = "bias" if len(model) == 1 else "kernel"
        name = f"{match.group(1).replace('/', '.')}.{leaf}"
        sections.append(_keras_loaded(match.start(), name, checkpoint, model))
    for match in KERAS_LAYER.finditer(text):
        model, checkpoint = _numbers(match.group(1)), _numbers(match.group(2))
        sections.append(_section("keras", match.start(), UNNAMED_KERAS, checkpoint, model))
    for match in TF_VARIABLE_SHAPES.finditer(text):
        name = match.group(1).split(":")[0].replace("/", ".")
        model, checkpoint = _numbers(match.group(2)), _numbers(match.group(3))
        if name:
            sections.append(_section("tensorflow", match.start(), name, checkpoint, model))
        else:
            sections.append(_unnamed(match.start(), checkpoint, model))
    for match in FED_VARIABLE.finditer(text):
        name = match.group(2).replace("/", ".")
        checkpoint, model = _numbers(match.group(1)), _numbers(match.group(3))
        sections.append(_section("tensorflow", match.start(), name, checkpoint, model))
    for match in ARRAY_INTO_VARIABLE.finditer(text):
        name = match.group(2).split(":")[0].replace("/", ".")
        checkpoint, model = _numbers(match.group(1)), _numbers(match.group(3))
        sections.append(_section("tensorflow", match.start(), name, checkpoint, model))
    for match in TF_ASSIGN_DIMENSION.finditer(text):
        model, checkpoint = _numbers(match.group(1)), _numbers(match.group(2))
        if _conv_kernel(model) and checkpoint[2:] == model[:2] and checkpoint[1:2] == model[2:3]:
            sections.append(
                _section(
                    "tensorflow",
                    match.start(),
                    UNNAMED_TF,
                    checkpoint,
                    model,
                    saved_in_torch_layout=True,
                )
            )
    filling = FILLING_VARIABLES.search(text) is not None
    for match in TF_SHAPES.finditer(text):
        model, checkpoint = _numbers(match.group(1)), _numbers(match.group(2))
        if filling or (_conv_kernel(model) and _conv_kernel(checkpoint)):
            sections.append(_unnamed(match.start(), checkpoint, model))
    return sections


KERNEL_SIZES = range(1, 8)
"""Window sizes of convolutions (1x1 to 7x7)."""


def _conv_kernel(shape: tuple[int, ...]) -> bool:
    """Whether a shape is a TensorFlow convolution kernel: a square window, then channels.

    Only a variable has such a shape: a batch of images is ``(n, h, w, c)`` with a window
    of pixels far larger, and labels or logits have fewer axes.
    """
    return len(shape) == 4 and shape[0] == shape[1] and shape[0] in KERNEL_SIZES


def _unnamed(start: int, checkpoint: tuple[int, ...], model: tuple[int, ...]) -> Section:
    """A variable the message does not name, its shapes as printed.

    A matrix is a kernel (``[in, out]``) or a table (``[rows, width]``) alike: no layout to
    turn to. Four axes are a convolution's kernel (``HWIO``), turned to PyTorch's order.
    """
    section = Section(model="", origin="tensorflow", start=start)
    if len(checkpoint) == len(model) == 4:
        checkpoint, model = torch_layout(checkpoint), torch_layout(model)
    section.mismatched[UNNAMED] = (checkpoint, model)
    return section


def _keras_loaded(
    start: int, name: str, checkpoint: tuple[int, ...], model: tuple[int, ...]
) -> Section:
    """A weight Keras' ``load_weights`` compared after its own conversion of the saved value.

    A 4-D saved shape ending with the layer's kernel size and starting otherwise is the
    convolution kernel Keras transposed by ``(3, 2, 0, 1)``: it is in PyTorch's order.
    """
    if len(model) == len(checkpoint) == 4 and checkpoint[2:] == model[:2] != checkpoint[:2]:
        return _section("keras", start, name, checkpoint, model, saved_in_torch_layout=True)
    return _section("keras", start, name, checkpoint, model)


def _section(
    origin: str,
    start: int,
    name: str,
    checkpoint: tuple[int, ...],
    model: tuple[int, ...],
    *,
    saved_in_torch_layout: bool = False,
) -> Section:
    section = Section(model="", origin=origin, start=start)
    if EMBEDDING.search(name):
        section.mismatched[name] = (checkpoint, model)  # [vocabulary, width] in both
    else:
        saved = checkpoint if saved_in_torch_layout else torch_layout(checkpoint)
        section.mismatched[name] = (saved, torch_layout(model))
    section.hints.append(
        "shapes are shown in PyTorch's layout (TensorFlow kernels are input-first: HWIO, [in, out])"
    )
    return section


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def torch_layout(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A TensorFlow kernel's shape in PyTorch's order: output axis first, then input, then space.

    ``(h, w, in, out)`` → ``(out, in, h, w)``; ``(w, in, out)`` → ``(out, in, w)``;
    ``(in, out)`` → ``(out, in)``; vectors stay.
    """
    if len(shape) < 2:
        return shape
    return (shape[-1], shape[-2], *shape[:-2])
