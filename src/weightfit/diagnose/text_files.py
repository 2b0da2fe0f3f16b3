"""What a text says of a weight file's own format and its version.

Broken or foreign files are :mod:`.text_broken`'s.

- ``newer_format``: a reader meeting a file written by another version of its format
  (PyTorch's zip format, a TensorRT engine, an ONNX IR version, a GGML container, Keras 3 on
  a SavedModel, a Python 2 pickle …) → ``version``; version 1 of an operator TensorFlow
  Lite has had from its first release is no newer model but one the app's op resolver never
  registered → ``unknown``;
- ``caffe_blobs``: a Caffe layer built with another number of parameter blobs than the file's
  (``wrong_variant``);
- ``kaldi_tokens``: Kaldi's reader meeting another tag than its layout's next one: another
  kind of model (``unrelated``) or a component of another release (``version``);
- ``zip_read_as_pickle``: PyTorch's zip format read by a ``torch.load`` older than 1.6
  (``A load persistent id instruction was encountered``) → ``version``;
- ``round_trip``: code reading back bytes it serialized a line before and failing: no file,
  release or model between the two, the library's own serialization (``unknown``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted


def newer_format(ctx: Context) -> None:
    """Report a checkpoint written by another version of its format than the reader knows."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.newer_format or ctx.findings:
        return
    if facts.other_format or DAMAGED_VERSION.search(facts.broken_file):
        return  # the "version" read is no version (another file's bytes): broken_file's
    if any(int(n) >= IMPLAUSIBLE_VERSION for n in re.findall(r"\d+", facts.newer_format)):
        return  # bytes of some other file read as a version: no release wrote that
    first_op = TFLITE_FIRST_VERSION.search(facts.newer_format)
    if first_op is not None and first_op.group(1) in TFLITE_FIRST_BUILTINS:
        ctx.add(_unregistered_op(first_op.group(1)))
        return
    why, since, fix = FORMAT_VERSIONS[facts.newer_reader]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=f"the reader cannot take the file's format version ({facts.newer_format}): "
            + why,
            evidence={"said": facts.newer_format, "format_since": since},
            confidence=0.6,
            fix_note=fix,
        )
    )


def kaldi_tokens(ctx: Context) -> None:
    """Report a Kaldi model file whose tags are not the ones the reader expects next.

    Kaldi writes each object as tagged fields. A tag that opens an object (``<Nnet3>``,
    ``<TransitionModel>``) met by another object's (a GMM's ``<DIMENSION>``) is another kind
    of model (``unrelated``: a GMM where a neural network is read); a field of a component
    (``<BlockDim>``, ``<MaxChangePerSample>``) met by another field is the component's layout
    of another Kaldi release (``version``).
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.kaldi_token is None or ctx.findings:
        return
    expected, got = facts.kaldi_token
    other_model = KALDI_OBJECT_TAG.fullmatch(expected) is not None
    ctx.add(
        Finding(
            category="unrelated" if other_model else "version",
            severity="error",
            message=(
                f"the Kaldi reader expected <{expected}> and found <{got}>: "
                + (
                    f"the file is another kind of model than the {expected} the program reads"
                    if other_model
                    else "a component written with other fields, by another Kaldi release "
                    "than the reader's"
                )
            ),
            evidence={"expected": expected, "got": got},
            confidence=0.55,
            fix_note=(
                "give the program the model type it reads (an nnet3 model, not a GMM's)"
                if other_model
                else "read the model with the Kaldi release that trained it (or rebuild the "
                "reader's Kaldi at that release or later)"
            ),
        )
    )


def caffe_blobs(ctx: Context) -> None:
    """Report a Caffe layer the prototxt builds with another number of parameter blobs.

    A convolution with ``bias_term`` holds two blobs, without it one; a layer type with
    learned parameters against one without holds some against none. The net's definition
    configures the layer otherwise than the network that wrote the caffemodel.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.caffe_blobs is None or ctx.findings:
        return
    layer, net, file = facts.caffe_blobs
    bias = {net, file} == {1, 2}
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"layer {layer} holds {counted(net, 'parameter blob')} in the net and {file} "
                "in the "
                "caffemodel: the prototxt configures it otherwise than the network that wrote "
                "the file" + (" (a bias term on one side only: bias_term)" if bias else "")
            ),
            evidence={"layer": layer, "net_blobs": net, "file_blobs": file},
            confidence=0.45,
            fix_note=(
                f"configure {layer} in the prototxt as the caffemodel's network has it "
                "(bias_term, layer type), or use the prototxt released with the weights"
            ),
        )
    )


KALDI_OBJECT_TAG = re.compile(r"Nnet\d?|AmNnet\w*|TransitionModel|Topology|DiagGmm|FullGmm")
"""Tags that open a whole Kaldi model or network, not a field of one of its components."""


TFLITE_FIRST_VERSION = re.compile(r"builtin\s+opcode\s+'(\w+)'\s+version\s+'1'")
"""TensorFlow Lite's op resolver lacking version 1, the first, of a builtin operator."""
TFLITE_FIRST_BUILTINS = frozenset(
    # BuiltinOperator values 0-28 of tensorflow/lite/schema/schema.fbs, the operators of the
    # first TensorFlow Lite releases (TensorFlow 1.5+): every runtime since has a version 1
    # kernel for each, so one missing is not registered, never newer than the runtime.
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EMBEDDING_LOOKUP",
        "FULLY_CONNECTED",
        "HASHTABLE_LOOKUP",
        "L2_NORMALIZATION",
        "L2_POOL_2D",
        "LOCAL_RESPONSE_NORMALIZATION",
        "LOGISTIC",
        "LSH_PROJECTION",
        "LSTM",
        "MAX_POOL_2D",
        "MUL",
        "RELU",
        "RELU_N1_TO_1",
        "RELU6",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RNN",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SVDF",
        "TANH",
    }
)


def _unregistered_op(op: str) -> Finding:
    """``unknown``: a first-release TensorFlow Lite operator the op resolver never registered.

    The message asks whether the model is newer than the runtime, but version 1 of an
    operator every release implements is older than any runtime: the application's resolver
    (TensorFlow Lite Micro's ``MicroMutableOpResolver``, a selective build) was not given it.
    """
    return Finding(
        category="unknown",
        severity="error",
        message=(
            f"TensorFlow Lite found no kernel for {op} version 1, the first version of an "
            "operator every TensorFlow Lite release implements: the model is not newer than "
            "the runtime, the op resolver the application builds does not register the "
            "operator (TensorFlow Lite Micro's MicroMutableOpResolver, a selective build)"
        ),
        evidence={"operator": op, "version": 1},
        confidence=0.45,
        fix_note=(
            f"register {op} in the op resolver (MicroMutableOpResolver: its Add call, and a "
            "template count that covers every op the model uses), or build with all builtin ops"
        ),
    )


IMPLAUSIBLE_VERSION = 1_000_000
"""A format version no format reaches: a header number this large is other bytes."""
DAMAGED_VERSION = re.compile(r"\bread as a number\b|\bgot\s+0\.0\.0\b")
"""What the statements say of a header number whose bytes are another file's (text, a
pickle, a zip archive), or of a version of zeros: a "version" that is no version."""


FORMAT_VERSIONS = {
    "torch": (
        "torch.save has written a zip archive since PyTorch 1.6, which older versions take "
        "for a TorchScript file",
        "torch 1.6",
        "upgrade PyTorch to 1.6 or later, or re-save the checkpoint with "
        "torch.save(..., _use_new_zipfile_serialization=False) from a newer PyTorch",
    ),
    "torch_format": (
        "the file was written by a newer PyTorch, in a zip format version the installed one "
        "cannot read",
        "the PyTorch release that saved the file",
        "upgrade PyTorch to the release that saved the file (or re-save it from that release "
        "with a weights-only state_dict)",
    ),
    "torch_weights_only": (
        "PyTorch 2.6 made weights_only=True the default of torch.load, which refuses "
        "TorchScript archives: the code loaded this file before the default changed",
        "torch 2.6",
        "load a TorchScript file with torch.jit.load, or pass weights_only=False only for a "
        "file you trust",
    ),
    "torch_required": (
        "transformers reads pickled (.bin) checkpoints only with PyTorch 2.6 or later, since "
        "a vulnerability of torch.load even with weights_only=True (CVE-2025-32434)",
        "torch 2.6",
        "upgrade PyTorch to 2.6 or later, or load the model's safetensors weights "
        "(use_safetensors=True) where the repository has them",
    ),
    "tensorrt": (
        "a serialized TensorRT engine runs only on the TensorRT release (and GPU) that built it",
        "the TensorRT release that built the engine",
        "rebuild the engine from the ONNX model with the installed TensorRT (trtexec "
        "--onnx=MODEL.onnx --saveEngine=MODEL.plan)",
    ),
    "onnx": (
        "the model was exported with a newer ONNX IR version than the installed runtime reads",
        "the exporting onnx version",
        "upgrade onnxruntime, or export again with an older opset / IR version",
    ),
    "op_version": (
        "the model uses operator versions the installed runtime does not implement: a "
        "converter newer than the runtime (ONNX opsets, TensorFlow Lite builtin versions), or "
        "an ONNX opset older than 7, the oldest ONNX Runtime runs",
        "the converter or exporter that wrote the model",
        "upgrade the runtime to at least the converter's release; for an old ONNX opset "
        "convert the model (onnx.version_converter.convert_version) or export it again",
    ),
    "symbol": (
        "the network's symbol file (-symbol.json) holds fields or operator parameters this "
        "MXNet release does not read: another release wrote it",
        "the MXNet release that exported the symbol",
        "install the MXNet release the model was exported with (or a newer one for a newer "
        "file), or export the symbol again with the installed release",
    ),
    "built_for": (
        "the model package declares the library release it was trained and saved with, and "
        "the installed release is another",
        "the library release the package names",
        "install the model package's release for the installed library (or the library "
        "release the package names), or retrain or convert the model with the installed one",
    ),
    "codebase": (
        "the loader says an older generation of its codebase saved the file: that "
        "generation's pickled classes and layout are not the ones this release reads",
        "the codebase generation the loader names",
        "run the file with the codebase that trained it, or train (or export) it again with "
        "the loader's release",
    ),
    "future": (
        "the file is in a newer version of its format than the installed runtime parses",
        "a newer release of the runtime",
        "use the runtime release the model was converted for (or convert the model again "
        "with the installed release's converter)",
    ),
    "asserted": (
        "the reader checks the version field of the object it unpickles and the file holds "
        "another: it was saved by another release of the code",
        "another release of the code that saved the file",
        "load it with the code release that saved it, or convert it with that release's "
        "upgrade script",
    ),
    "pickled_release": (
        "the file holds objects pickled whole by another release of their library (or of "
        "Python): an object keeps the layout its class had when it was saved",
        "the library release that pickled the file",
        "load it with the release that saved it and save it again in the library's own "
        "portable format (XGBoost's Booster.save_model, scikit-learn's skops), or retrain "
        "with the installed release",
    ),
    "runtimes": (
        "the Edge TPU's custom op (libedgetpu) reads tensors through the interface of another "
        "TensorFlow Lite release than the installed runtime (tflite_runtime): the two are of "
        "releases that do not go together",
        "the TensorFlow Lite release libedgetpu was built against",
        "install the tflite_runtime release that matches the installed libedgetpu (Coral's "
        "packages name it), or the libedgetpu release of the installed runtime",
    ),
    "upgrade": (
        "the library's own upgrade of older saves cannot carry the file to its release's "
        "format: another release wrote it (one past every version the upgrade knows, when it "
        "counts versions without end)",
        "another release of the library that saved the file",
        "load it with the library release that saved it (the release its model files or "
        "requirements name), or retrain or export it again with the installed release",
    ),
    "storage_spec": (
        "the restoring library asks its storage driver for another encoding (compressor, "
        "chunking, dtype) than the one stored with the arrays: the checkpointing release that "
        "saved them wrote other metadata",
        "the checkpointing library release that saved the arrays",
        "restore with the checkpointing library release that saved the checkpoint (for orbax, "
        "the orbax-checkpoint and tensorstore versions of the training run), then save again "
        "with the installed one",
    ),
    "config_value": (
        "the saved config holds a value the installed library's config class does not list "
        "among its allowed ones: a newer release, which added the value, wrote the config",
        "the library release that wrote the config",
        "upgrade the library to the release that wrote the config (the model card's or "
        "config's own version field names it)",
    ),
    "stated": (
        "the runtime refuses the version of the file's format: files are read by the runtime "
        "release their converter matches, and the converter that wrote this one was another",
        "the converter release that wrote the file",
        "convert the model again with the converter release that matches the runtime (or run "
        "the runtime release the model was converted for)",
    ),
    "older": (
        "the reader says the file is in an older version of its format than it reads: the "
        "tool that wrote (converted) it was an older release",
        "an older release of the converter that wrote the file",
        "convert (or export) the model again with the converter of the reader's release",
    ),
    "python2": (
        "the file is a pickle Python 2 wrote: its byte strings (NumPy arrays, storage names) "
        "do not decode as text in Python 3",
        "Python 2",
        "save its weights again from Python 2 as a state_dict or safetensors; only for a file "
        "from a source you trust, unpickle it once in Python 3 with encoding='latin1' and save "
        "the weights again (unpickling runs the file's code)",
    ),
    "python3": (
        "Python 2 cannot unpickle the file: Python 3 wrote it (a newer pickle protocol, a "
        "PyTorch release after Python 2's last)",
        "Python 3",
        "run the code under Python 3 with a PyTorch release of the checkpoint's time",
    ),
    "ggml_container": (
        "GGML's file container changed from ggml to ggmf, ggjt (2023) and GGUF (August "
        "2023), and a reader takes only the containers of its own release",
        "the release of the reader that wrote the file's container",
        "convert the file with the reader's release (llama.cpp's convert or migrate "
        "scripts), or use a reader release that takes its container",
    ),
}
"""Per reader: why another format version fails, which release wrote it, and the fix."""


def round_trip(ctx: Context) -> None:
    """Report a failed read of bytes the same code serialized just before: no file's cause.

    The bytes never left the process: no other release wrote them, no download cut them,
    no other model's file stands in for them. A reader failing on its own writer's output
    is the library's fault, which no checkpoint change settles.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not facts.round_trip:
        return
    ctx.add(
        Finding(
            category="unknown",
            severity="error",
            message=(
                f"the code reads back ({facts.round_trip}) bytes it serialized itself just "
                "before, and the read fails: no file, release or model comes between, so the "
                "cause is the library's own serialization, not a checkpoint"
            ),
            evidence={"round_trip": facts.round_trip},
            confidence=0.3,
            fix_note=(
                "report it to the library with the round trip as the reproduction; a file "
                "saved the same way will fail the same way"
            ),
        )
    )


def zip_read_as_pickle(ctx: Context) -> None:
    """Report PyTorch's zip format read by an older ``torch.load`` (a pickle's ``P`` opcode).

    Since PyTorch 1.6 ``torch.save`` writes a zip archive, whose first byte ``P`` (of
    ``PK``, the zip signature) is pickle's persistent-id opcode. A ``torch.load`` older than the
    zip reader unpickles the archive's first bytes for its magic number without a
    ``persistent_load``, and fails with ``A load persistent id instruction was encountered``.
    A text naming a plain unpickler (``pickle.load``, ``joblib``) or another framework's
    loader (``paddle.load``), or whose traceback shows no frame of PyTorch's, is
    ``broken_file``'s: a file given to a reader of other files (gensim's ``unpickle`` given
    a zip archive).
    """
    facts = whole_text_facts(ctx)
    if facts is None or "persistent id" not in facts.broken_file or ctx.findings:
        return
    if OTHER_UNPICKLER.search(facts.text) or (
        TRACEBACK_FRAME.search(facts.text) and not TORCH_READER.search(facts.text)
    ):
        return  # a reader that takes another kind of pickle: broken_file's
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"an unpickler met a persistent id with no persistent_load ({facts.broken_file})"
                " and the text names no reader but PyTorch's: the file is a zip archive, "
                "PyTorch's format since 1.6, whose first byte P is pickle's persistent-id "
                "opcode to a torch.load older than the zip reader"
            ),
            evidence={"error": facts.broken_file, "format_since": "torch 1.6"},
            confidence=0.45,
            fix_note=(
                "print torch.__version__: below 1.6, upgrade PyTorch, or re-save the checkpoint "
                "with torch.save(..., _use_new_zipfile_serialization=False) from a newer "
                "PyTorch; if the code reads the file with pickle.load, read it with torch.load"
            ),
        )
    )


TRACEBACK_FRAME = re.compile(r'^\s*File "[^"]+", line \d+', re.M)
"""A frame of a Python traceback: the text shows which code read the file."""
TORCH_READER = re.compile(r"\btorch\.load\(|torch[/\\]serialization\.py|\btorch\.hub\b")
"""PyTorch's own reader, called or in a frame."""
OTHER_UNPICKLER = re.compile(
    r"(?<![A-Za-z])_?pickle\.loads?\(|\bunpickle\(|\bUnpickler\("  # trusted: a pattern, no call
    r"|\b(?:joblib|dill|cloudpickle|paddle|pandas|numpy)\b"  # trusted: a pattern, no call
    r"|\bnp\.load\(|\bread_pickle\(",
    re.I,
)
"""A reader that unpickles other files than ``torch.save``'s: a persistent id it meets is a
torch file given in the place of its own, not PyTorch's zip format read by an old PyTorch."""
