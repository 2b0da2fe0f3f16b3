"""A weights file's first bytes as a reader printed them: a magic number, an opcode, text.

A reader that refuses a file often prints what it found where its format's magic should be:
a number (``magic 67676a74``), a pickle opcode (``Unsupported operand 80``), a decoded
character. Spelled as bytes, those are another format's signature (a ggml container, a zip
archive, a text file, a pickle), which says what the file really is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from weightfit.diagnose._facts import DEFAULT_CHANGED

MAGIC_CHARACTERS = re.compile(r"invalid\s+magic\s+characters:?\s+'([^'\n]{4})'")
"""A reader printing the four bytes it found where its magic belongs (ggml's
``invalid magic characters: 'vers', expected 'GGUF'``): a container's tag, or text."""


HEADER_NUMBER = re.compile(
    r"(?:version|magic|header(?:\s+size|\s+length)?)\D{0,40}?\bv?(\d{8,10})\b", re.I
)
"""A large number a reader took from a file's first bytes (a version, a magic, a length)."""


MAGIC = re.compile(
    r"magic\b[\s\S]{0,60}?\b(?:0x)?([0-9a-fA-F]{8})\b"
    r"(?:[\s\S]{0,30}?\b(?:want|expected?)\b\s*(?:0x)?([0-9a-fA-F]{8})\b)?",
    re.I,
)
"""A magic number a reader printed in hex, and the one it wanted when it says so."""

MAGIC_REFUSED = re.compile(
    r"\bInvalidMagic\b|\b(?:invalid|bad|unknown)\s+(?:file\s+)?magic\b", re.I
)
"""A reader refusing a file's magic without printing it (llama-rs' ``InvalidMagic``)."""

GGML_FILE = re.compile(
    r"(?<![\w.\-])[\w.\-]{0,200}?(?:ggml|ggjt|ggmf|[-_.][qQ][2-8]_(?:[01]|[kK]))[\w.\-]{0,200}?"
    r"\.bin\b|(?<![\w.\-])[\w.\-]{1,200}\.gguf\b"
)
"""A GGML-family model file: a ``.gguf``, or a ``.bin`` named for GGML or a GGML quantization
type (``vicuna-13b-q4_0.bin``)."""

GGML_CONTAINERS = ("ggml", "ggmf", "ggjt", "GGUF")
"""GGML's file containers in the order they came: unversioned, versioned, mmap-able (2023),
GGUF (August 2023)."""


def ggml_containers(text: str) -> str:
    """The GGML container a reader found (and wanted), from the magic numbers it printed.

    A magic is four ASCII letters read as an integer: ``0x67676d66`` is ``ggmf``,
    ``46554747`` (little-endian) is ``GGUF``. A reader that refuses a GGML model file's magic
    without printing it met a container of another release too.
    """
    spelled = MAGIC_CHARACTERS.search(text)
    if spelled is not None:
        got = next((t for t in GGML_CONTAINERS if t in {spelled[1], spelled[1][::-1]}), "")
        return f"the file is a {got} container" if got else ""  # text: a pointer or a page
    match = MAGIC.search(text)
    if match is None and MAGIC_REFUSED.search(text) and (named := GGML_FILE.search(text)):
        return f"the reader refuses the container magic of {named.group(0)}, a GGML model file"
    if match is None or "==" in match.group(0):
        return ""  # an assertion's magic is the one the reader wants, not the file's
    got, want = (_magic_tag(number) if number else "" for number in match.groups())
    if got not in GGML_CONTAINERS:
        return ""
    if want not in GGML_CONTAINERS or want == got:
        return f"the file is a {got} container"
    order = "newer" if GGML_CONTAINERS.index(got) > GGML_CONTAINERS.index(want) else "older"
    return f"the file is a {got} container, {order} than the {want} the reader takes"


def _magic_tag(number: str) -> str:
    """The GGML container a hex magic number spells, in either byte order, or ``""``."""
    spelled = {word.decode("latin-1") for word in _spellings(int(number, 16))}
    return next((tag for tag in GGML_CONTAINERS if tag in spelled), "")


def _spellings(number: int) -> tuple[bytes, bytes]:
    """The four bytes of a 32-bit number a reader took from a file, in both byte orders."""
    return number.to_bytes(4, "little"), number.to_bytes(4, "big")


UNSUPPORTED_OPCODE = re.compile(r"Unsupported\s+operand\s+(\d+)")
"""The weights-only unpickler meeting a byte that is no opcode it reads."""

TEXT_FILE_STARTS = {
    ord("<"): "an HTML page",
    ord("v"): "a Git LFS pointer ('version ...')",
    ord("P"): "a zip archive ('PK\\x03\\x04', a torch.save file) cut inside its signature",
}
"""First bytes of the files saved under a checkpoint's name: text, or a torch.save zip cut
so short that torch.load no longer sees a zip and unpickles it (no pickle torch writes holds
``P``, protocol 0's persistent id)."""


def text_read_as_opcode(text: str) -> str:
    """An unpickler's unsupported operand that is the first byte of a text file.

    ``Unsupported operand 60`` is ``'<'``: the file is a page, as ``invalid load key, '<'``
    says in the pickle module's words. A ``'v'`` refused under PyTorch 2.6's new default is
    no pointer's: threads settle those as the default change (the file loads with
    ``weights_only=False``), so the pointer reading is left out there.
    """
    default_changed = DEFAULT_CHANGED.search(text) is not None
    for match in UNSUPPORTED_OPCODE.finditer(text):
        byte = int(match.group(1))
        if byte == ord("v") and default_changed:
            continue
        if byte in TEXT_FILE_STARTS:
            return f"{match.group(0)}: the byte '{chr(byte)}', which opens {TEXT_FILE_STARTS[byte]}"
    return ""


def text_read_as_number(text: str) -> str:
    """A header number whose bytes are letters: the file is text (a Git LFS pointer, a page).

    A reader that takes a version or a length from the first bytes of ``version
    https://git-lfs...`` reports 1936876918 (``vers``, little-endian).
    """
    for number, word in _header_words(text):
        if all(b < 128 and (chr(b).isalpha() or chr(b) in " <>!/") for b in word):
            return f"{number} is the text '{word.decode('ascii')}' read as a number"
    return ""


def pickle_read_as_number(text: str) -> str:
    r"""A header number whose bytes open a Python pickle: the file is a pickled object.

    Paddle's tensor reader taking a version from a ``.pdparams`` training checkpoint
    reports 1904018048: ``\x80\x02}q``, pickle protocol 2's PROTO opcode and a dict.
    """
    for number, word in _header_words(text):
        if word[0] == 0x80 and 2 <= word[1] <= 5:
            return (
                f"{number} is a Python pickle's first bytes (protocol {word[1]}) read as a number"
            )
    return ""


PICKLE_DECODED = re.compile(r"can't\s+decode\s+byte\s+0x80\s+in\s+position\s+(0|64)\b")
"""A text reader failing on byte 0x80, a pickle's PROTO opcode, where a pickle starts: a
file's first byte, or byte 64 of a ``torch.save`` zip archive, whose writer aligns each
record's data to 64 bytes (``kFieldAlignment``), so its first, ``data.pkl``, starts there."""


def pickle_read_as_text(text: str) -> str:
    """A text (or text-format) reader failing on a file's first byte 0x80: the file is a pickle.

    gensim's ``load_word2vec_format`` given a model gensim pickled (``'utf-8' codec can't
    decode byte 0x80 in position 0``), a tokenizer given a ``torch.save`` file (``… in position
    64``): the file is another format than the reader takes.
    """
    decoded = PICKLE_DECODED.search(text)
    if decoded is None:
        return ""
    if decoded.group(1) == "64":
        return (
            "byte 0x80 at position 64 is the pickle inside a torch.save zip archive (its first "
            "record's data, aligned to 64 bytes) read as text"
        )
    return (
        "byte 0x80 at position 0 is a Python pickle's first bytes (its PROTO opcode) read as text"
    )


def zip_read_as_number(text: str) -> str:
    r"""A header number whose bytes open a zip archive: ``PK\x03\x04``, a ``torch.save`` file.

    A reader of its own binary format taking a version from a PyTorch checkpoint reports
    67324752 (CTranslate2's ``binary version v67324752``).
    """
    for number, word in _header_words(text):
        if word == b"PK\x03\x04":
            return f"{number} is a zip archive's first bytes (a torch.save file) read as a number"
    return ""


def _header_words(text: str) -> Iterator[tuple[int, bytes]]:
    """Each 32-bit header number a reader printed, with its four bytes in either order."""
    for match in HEADER_NUMBER.finditer(text):
        number = int(match.group(1))
        if number < 1 << 32:
            for word in _spellings(number):
                yield number, word
