"""A weight file a text says is broken or of another kind (``broken_file``).

Not whole (an LFS pointer, a page saved in its place, a cut download → ``partitioned``),
or another kind of file (another format's magic, a pickle where a reader takes its own
format → ``unrelated``; a file the text calls the project's old one of that other format
→ ``version``). Each way a reader says so is one :class:`Break`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.diagnose.text_messages import called_older, other_format_finding
from weightfit.findings import Finding


def broken_file(ctx: Context) -> None:
    """Report a checkpoint file that is not whole (an LFS pointer, an HTML page, a cut file)."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.broken_file or ctx.findings:
        return
    said = facts.broken_file
    if TF_PIECE.search(facts.text) and re.search(r"magic", said, re.I):
        return  # a piece of a TensorFlow checkpoint read whole: the files' reading
    chunk = DCP_CHUNK.search(facts.text)
    if chunk is not None:
        ctx.add(_dcp_chunk(said, chunk.group(0)))
        return
    if facts.other_format:
        older = called_older(facts.text, facts.other_format)
        ctx.add(other_format_finding(said, facts.other_format, older=older))
        return
    if TORCHSCRIPT_ONLY.search(said):
        ctx.add(_plain_checkpoint_for_torchscript(said))
        return
    known = next((b for b in BREAKS if b.seen(said)), CUT_SHORT)
    if SSTABLE.search(facts.text) and BOOKKEEPING.search(facts.text) is None:
        known = CUT_TABLE
    state = "not in the format the reader expects" if known.foreign else "not whole"
    ctx.add(
        Finding(
            category="unrelated" if known.foreign else "partitioned",
            severity="error",
            message=f"the checkpoint file is {state} ({said}): {known.cause}",
            evidence={"error": said, "likely_cause": known.cause},
            confidence=known.confidence,
            fix_note="download the file again and compare its size with the source's",
        )
    )


DCP_CHUNK = re.compile(r"\b__\d+_\d+\.distcp\b")
"""A chunk file of a ``torch.distributed.checkpoint`` folder (``__<rank>_<n>.distcp``)."""


def _dcp_chunk(said: str, chunk: str) -> Finding:
    """``partitioned``: one ``.distcp`` chunk file read as a whole checkpoint.

    ``dcp.save`` writes each rank's tensor chunks into its ``.distcp`` file as ``torch.save``
    archives end to end, and their places into ``.metadata``: no reader of one file (a zip
    whose directory is that of its last chunk) sees a checkpoint in it.
    """
    return Finding(
        category="partitioned",
        severity="error",
        message=(
            f"the file read is {chunk}, one chunk file of a torch.distributed.checkpoint "
            "folder: one rank's pieces of tensors, which only the folder's .metadata places, "
            "not a checkpoint of its own"
        ),
        evidence={"error": said, "file": chunk},
        confidence=0.7,
        fix_note=(
            "load the folder with torch.distributed.checkpoint.load, or consolidate it into "
            "one file: python -m torch.distributed.checkpoint.format_utils dcp_to_torch "
            "DIR OUT.pt"
        ),
    )


@dataclass(frozen=True)
class Break:
    """One way a reader's words say a weights file is broken or foreign."""

    seen: Callable[[str], bool]
    foreign: bool
    """Another kind of file altogether (``unrelated``), not a download that never brought
    the file (a pointer, a page saved in its place, a cut or damaged file: ``partitioned``)."""
    cause: str
    confidence: float


def _pointer(said: str) -> bool:
    lowered = said.lower()
    return any(m in said for m in ("'v'", "'vers'", "'srev'")) or any(
        m in lowered for m in ("headertoolarge", "git-lfs", "git lfs")
    )


def _other_magic(said: str) -> bool:
    """Whether a reader met another format's first bytes.

    A magic or identifier check, an unpickler's control byte, a glog check on a header field.
    """
    return (
        re.search(r"magic|identifier", said, re.I) is not None
        or _binary_load_key(said)
        or said.lower().startswith("check failed")
    )


BREAKS = (
    Break(
        _pointer,
        False,
        "a Git LFS pointer file (the weights were never downloaded: git lfs pull)",
        0.75,
    ),
    Break(
        lambda said: said.lower().startswith("model format error"),
        False,
        "a text model file whose content is not what its parser expects at that point: "
        "altered in transit (line endings converted between systems, an edit) or cut",
        0.5,
    ),
    Break(
        lambda said: "wire type" in said,
        True,
        "a file that does not parse as the protocol buffer the reader takes (another format "
        "under the name it expects: a frozen graph, a checkpoint, an archive)",
        0.5,
    ),
    Break(
        lambda said: "fi->Read(" in said,
        False,
        "MXNet's reader ran out of the file before its arrays' data: a cut download or copy",
        0.6,
    ),
    Break(
        lambda said: said.endswith("as a pickle"),
        False,
        "a file named as a NumPy archive that is neither an .npz archive nor an .npy array: "
        "a Git LFS pointer, a page or a cut download saved in its place",
        0.5,
    ),
    Break(
        lambda said: "ParseFromArray" in said,
        False,
        "the tokenizer's SentencePiece model file does not parse: a Git LFS pointer, a page "
        "or a cut download saved as tokenizer.model",
        0.5,
    ),
    Break(
        lambda said: "'<" in said,
        False,
        "an HTML page saved under the checkpoint's name (a login or error page)",
        0.75,
    ),
    Break(
        lambda said: "inside a torch.save zip archive" in said,
        True,
        "a torch.save checkpoint (a zip archive holding a pickle) given to a reader of text "
        "files (a tokenizer's vocabulary, a config): the weights file where the model's "
        "folder or its text files belong",
        0.5,
    ),
    Break(
        lambda said: "pickle's first bytes" in said or "zip archive's first bytes" in said,
        True,
        "a pickled object (a training checkpoint written with pickle, torch.save or "
        "paddle.save) where the reader takes its own binary format: another file than the "
        "one it reads (an exported or converted model)",
        0.5,
    ),
    Break(
        lambda said: "persistent id" in said,
        True,
        "a file written by torch.save (its tensors stored apart, as persistent ids) read "
        "by a plain unpickler that takes another kind of file (a network pickle, a pickled "
        "object of another codebase)",
        0.5,
    ),
    Break(
        lambda said: "not in a subdirectory" in said,
        True,
        "a zip archive of another kind (an application's own archive, such as a "
        "stable-baselines3 model zip) given to torch.load, whose archives keep every file "
        "under one folder",
        0.55,
    ),
    Break(
        lambda said: "Failed precondition" in said,
        True,
        "a path that holds no TensorFlow checkpoint: TensorFlow could not open it as a "
        "checkpoint at all (a folder, or a file of another kind, such as results or a model "
        "in another format, where the checkpoint's prefix belongs)",
        0.45,
    ),
    Break(
        lambda said: "vertex size" in said,
        True,
        "a PLY file whose vertices hold other properties than the reader's layout (a "
        "point cloud or mesh where a trained Gaussian-splat file is read)",
        0.5,
    ),
    Break(
        lambda said: "0.0.0" in said,
        False,
        "a header whose version reads as zeros, which no release writes: the file's "
        "bytes were changed (written or copied in text mode, cut short)",
        0.65,
    ),
    Break(
        lambda said: "TorchScript archive" in said,
        True,
        "a TorchScript archive (an export, torch.jit.save) where the loader reads its own "
        "checkpoint: the exported file, not the trained weights",
        0.6,
    ),
    Break(
        lambda said: "should be stored in" in said,
        False,
        "an ONNX model whose weights live in an external data file beside it, and that file "
        "is not where the model names it (never downloaded, or left behind when copying)",
        0.6,
    ),
    Break(
        lambda said: said.lower() == "invalid load key",
        False,
        "a file that is no pickle at all where one was expected (a Git LFS pointer, a page "
        "saved under its name, a damaged download): the unpickler's first byte is no opcode",
        0.5,
    ),
    Break(
        lambda said: said.endswith("with size 0"),
        False,
        "an empty file (a download that failed or never ran): the first read, of the "
        "file's fixed-size header, returned no values at all",
        0.5,
    ),
    Break(
        lambda said: said.endswith("Invalid argument"),
        False,
        "torch's zip reader was sent to an offset the file does not have: the archive's "
        "directory names bytes past the end of a damaged or incomplete download",
        0.55,
    ),
    Break(
        lambda said: said.endswith("EOFError"),
        False,
        "an empty file (or one cut short): the unpickler found not even the first record",
        0.6,
    ),
    Break(
        _other_magic,
        True,
        "a file that does not open with its format's magic bytes: another kind of file "
        "under this name (another format or model's file, or a page a download saved)",
        0.5,
    ),
)
"""What each reading of a broken file says, first match wins."""
CUT_SHORT = Break(
    lambda said: True, False, "an interrupted download or copy: the file ends early", 0.65
)
"""Any other break: the file ends early."""


SSTABLE = re.compile(r"not\s+an\s+sstable")
"""TensorFlow reading a checkpoint's index table, whose magic number ends the file."""
BOOKKEEPING = re.compile(r"[/\\]checkpoint(?=[:\s'\"`]|$)", re.M)
"""The ``checkpoint`` text file a TensorFlow save keeps beside its pieces: no table at all."""
CUT_TABLE = Break(
    lambda said: True,
    False,
    "a TensorFlow checkpoint index cut short: a table's magic number sits in its last bytes, "
    "so a partly downloaded index fails on it",
    0.5,
)
"""An index table that fails its magic number, named as no other file: cut short."""


TF_PIECE = re.compile(r"\.data-\d{5}-of-\d{5}\b|\.ckpt[\w\-]*\.index\b")
"""A piece of a TensorFlow checkpoint, which readers take by its prefix: its magic is no
checkpoint table's, yet the file is whole."""
BINARY_LOAD_KEY = re.compile(r"invalid\s+load\s+key,\s*'\\x(?:0[0-8bcdef]|1[0-9a-f])'")
"""An unpickler's first byte that is a control character: a binary file of another format
(a TensorFlow checkpoint's ``\x00``, gzip's ``\x1f``), never text nor a pickle cut short."""
PRINTABLE_LOAD_KEY = re.compile(r"invalid\s+load\s+key,\s*'[!-;=-OQ-uw-~]'")
"""An unpickler's first byte that is a printable character no pickle opens with, nor a page
(``<``), a Git LFS pointer (``v``) or a zip archive read by an old reader (``P``): a file of
another kind (HDF5 data, a text file) given as the checkpoint."""


def _binary_load_key(said: str) -> bool:
    """Whether an unpickler refused a first byte no pickle, zip, page nor pointer begins with."""
    return BINARY_LOAD_KEY.search(said) is not None or PRINTABLE_LOAD_KEY.search(said) is not None


TORCHSCRIPT_ONLY = re.compile(r"\bconstants\.pkl\b")
"""A member only TorchScript archives hold: a reader missing it was given a torch.save file."""


def _plain_checkpoint_for_torchscript(said: str) -> Finding:
    """``unrelated``: a ``torch.save`` checkpoint given to a TorchScript loader."""
    return Finding(
        category="unrelated",
        severity="error",
        message=(
            f"the archive has no constants.pkl ({said}), which every TorchScript archive "
            "holds: the file is a checkpoint written by torch.save, given to a TorchScript "
            "loader (torch.jit.load, libtorch, DJL) that runs traced or scripted models only"
        ),
        evidence={"error": said, "wanted": "TorchScript archive"},
        confidence=0.6,
        fix_note=(
            "export the model first (torch.jit.trace or torch.jit.script, then .save), or "
            "load the checkpoint with torch.load into the model's Python class"
        ),
    )
