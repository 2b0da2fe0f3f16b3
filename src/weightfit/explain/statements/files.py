"""What a reader said of the weights file's own format: newer, broken, of another kind."""

from __future__ import annotations

import re

from weightfit.diagnose.text_kinds import lightgbm_release
from weightfit.explain.statements.magic import (
    MAGIC_CHARACTERS,
    ggml_containers,
    pickle_read_as_number,
    pickle_read_as_text,
    text_read_as_number,
    text_read_as_opcode,
    zip_read_as_number,
)
from weightfit.explain.statements.phrases import PICKLED_FILE, UNPICKLING
from weightfit.explain.statements.record import Facts

NEWER_DTYPE = re.compile(r"unknown\s+variant\s+`[A-Z][A-Z0-9_]*`")
"""A safetensors header naming a storage dtype the reader's release does not have
(``F8_E8M0``); an empty name is damage."""

TRACEBACK_LINES = r"(?:\n[ \t]+[^\n]*){0,12}?\n"
"""The indented lines (inner frames, code, carets) of one traceback, up to its error line."""

FRAME = re.compile(r"^\s*(?:File\s+\"[^\n]*\",\s+line\s+\d+|[~^]+\s*$)", re.M)
"""A traceback's frame or caret line: a quote across one keeps the caller's line and the error."""

BROKEN_FILE = re.compile(
    # The unpickler's byte may be left out when the message is quoted in prose.
    r"(?i:invalid\s+load\s+key)(?:[,:]\s*'[^']*'|(?![\w,:]))|failed\s+finding\s+central\s+directory|"
    r"PytorchStreamReader\s+failed\s+(?:reading|locating)[^\n]*|Ran\s+out\s+of\s+input|"
    # torch.load's first record (``magic_number``) read from an empty file: a bare EOFError,
    # straight after the line or after the unpickler's own frames (torch 2.x's weights-only one).
    r"magic_number\s*=\s*pickle_module\.load\([^\n]*\)" + TRACEBACK_LINES + r"\s*EOFError\b|"
    # torch's zip reader (PyTorchFileReader) refused an offset its file cannot have: the
    # archive's directory names bytes past a cut or damaged file's end.
    r"PyTorchFileReader\([^\n]*" + TRACEBACK_LINES + r"\s*(?:\w+\.)*\w*Error:\s*\[Errno\s+22\]\s*"
    r"Invalid\s+argument\b|"
    # MXNet's reader running out of an NDArray file's data.
    r"Check\s+failed:\s+fi->Read\(\w+\)[^\n]*|"
    # Older libtorch's archive reader missing a record (``file not found: archive/constants.pkl``).
    r"inline_container\.cc:\d+\]\s*\.?\s*file\s+not\s+found:\s*\S+|"
    r"archive\s+is\s+corrupted|"
    # A loader naming a TorchScript export where its checkpoint belongs (Ultralytics).
    r"is\s+a\s+TorchScript\s+archive,\s+not\s+an?\s+[\w\s]{0,40}?checkpoint|"
    # ONNX Runtime reading an initializer past the end of the model's external data file.
    r"given\s+file_length:\s*\d+\s+are\s+out\s+of\s+bounds|"
    # The onnx checker finding no external data file where the model says its tensors are.
    r"should\s+be\s+stored\s+in\s+\S+,\s+but\s+it\s+(?:is\s+not\s+regular\s+file|doesn't\s+exist)|"
    # safetensors reading fewer bytes of a tensor than its header promises.
    r"pread\s+failed\s+for\s+tensor\s+\S+|Could\s+not\s+read\s+tensor\s+\S+\s+from\s+file|"
    # llama.cpp counting fewer tensors across a model's files than its metadata promises.
    r"corrupted\s+model:\s*\d+\s+tensors\s+expected\s+but\s+\d+\s+found|"
    # TensorFlow's checkpoint reader given a path that is no checkpoint (a folder, a file of
    # another kind): ``Failed precondition: PATH: perhaps your file is in a different ...``.
    r"Failed\s+precondition:[^\n]{0,300}?perhaps\s+your\s+file\s+is\s+in\s+a\s+different\s+file\s+format|"
    r"unexpected\s+EOF|file\s+(?:is\s+)?truncated|(?i:truncated\s+file)\b|not\s+a\s+zip\s+file|\bshort\s+read\b|"
    r"storage\s+has\s+wrong\s+(?:byte\s+)?size|Invalid\s+magic\s+number;\s+corrupt\s+file|"
    r"(?i:MetadataIncompleteBuffer|HeaderTooLarge|HeaderTooSmall|InvalidHeader(?:Start|"
    r"Deserialization|Length)?|InvalidOffset)|"
    r"(?i:header|file)\s+is\s+(?:empty|malformed|corrupt(?:ed)?|damaged)|"
    r"invalid\s+shape,\s+data\s+type,\s+or\s+offset\s+for\s+tensor|"
    r"(?i:Protobuf\s+parsing\s+failed)|invalid\s+wire\s+type\s+\d+(?:\s+at\s+offset\s+\d+)?|INVALID_PROTOBUF|Unable\s+to\s+parse\s+proto|"
    r"DecodeError:\s+Error\s+parsing\s+message|"
    r"not\s+a\s+valid\s+(?:[\w.-]+\s+){0,4}flatbuffer|unable\s+to\s+deserialize\s+object|"
    r"ReadError:\s+not\s+a\s+gzip\s+file|"
    r"Unable\s+to\s+load\s+weights\s+from\s+(?:pytorch\s+)?checkpoint\s+file|"
    r"cloned\s+a\s+repository\s+without\s+having\s+git[\s-]lfs\s+installed|"
    # A text model's parser meeting other content than its grammar's next part mid-file
    # (LightGBM's ``Model format error, expect a tree here``: a file altered in transit).
    r"Model\s+format\s+error,\s+expect\s+[^\n]{0,40}?\bhere\b|"
    # SentencePiece failing to parse its model file (a pointer or page saved as tokenizer.model).
    r"model_proto->ParseFromArray|"
    r"(?i:file\s+signature\s+not\s+found)|[Ff]ile\s+(?:[\w.\-]+\s+)?is\s+incomplete|"
    r"pickle\s+data\s+was\s+truncated|persistent\s+id\s+instruction\s+was\s+encountered|"
    r"Failed\s+to\s+parse\s+NetParameter\s+file|"
    r"(?:could\s+not|couldn't|unable\s+to)\s+parse\s+(?:the\s+)?binary\s+model\s+file|"
    r"PLY\s+vertex\s+size\s+mismatch|file\s+in\s+archive\s+is\s+not\s+in\s+a\s+subdirectory|"
    # A header whose version reads as zeros: no release wrote it, the bytes were damaged.
    r"expecting\s+library\s+version\s+[\d.]+\s+got\s+0\.0\.0\b|"
    r"incomplete\s+(?:file|download)|"
    # A reader indexing the fixed-size header it read first (Darknet's ``header[3]``, after
    # ``np.fromfile(f, count=5)``) and finding no values at all: the file is empty.
    r"\bheader\w*\s*\[\s*\d+\s*\][^\n]*\n\s*IndexError:\s*index\s+\d+\s+is\s+out\s+of\s+bounds\s+"
    r"for\s+axis\s+0\s+with\s+size\s+0\b|"
    # huggingface_hub's download size check; ggml's reader finding less data than its header.
    r"Consistency\s+check\s+failed:\s+file\s+should\s+be\s+of\s+size\s+\d+\s+but\s+has\s+size\s+\d+|"
    r"failed\s+to\s+read\s+tensor\s+data|"
    # NumPy finding neither an .npz archive nor an .npy array in a file named one.
    r"Failed\s+to\s+interpret\s+file\s+['\"][^'\"\n]*\.np[yz]['\"]\s+as\s+a\s+pickle|"
    r"unknown\s+format\s+\S+\.(?:safetensors|ckpt|pth?|bin|gguf)\b|"
    + MAGIC_CHARACTERS.pattern
    + r"|invalid\s+(?:file\s+|[A-Z][A-Z0-9]{2,}\s+)?magic\b(?!\s+number)|"
    # llama.cpp finding a tensor's data past the end of the file (a cut or replaced download).
    r"data\s+(?:is\s+)?not\s+within\s+(?:the\s+)?file\s+bounds|"
    # gguf-py's reader: ``GGUF magic invalid`` (its first four bytes are not ``GGUF``).
    r"\b[A-Z][A-Z0-9]+\s+magic\s+invalid\b|"
    r"(?i:(?:SHA\d*|MD5|checksum|hash)\b[^\n]{0,40}(?:does\s+not|doesn't|did\s+not)\s+(?:not\s+)?match|"
    r"(?:checksum|hash)\s+mismatch|invalid\s+hash\s+value)|"
    r"(?:state\s+dict(?:ionary)?|checkpoint|weights?)\s+(?:of\s+the\s+model\s+)?(?:\w+\s+){0,6}"
    r"is\s+corrupted"
)
"""A checkpoint file that is not whole: a Git LFS pointer (``invalid load key, 'v'``, or
transformers saying the repository was cloned without git-lfs), an
HTML page (``'<'``), an interrupted download (no zip central directory, an early EOF, an
empty file, a storage of the wrong size, a C loader's short read, transformers unable to read
a weights file at all, a safetensors file shorter than its header says, a header or offsets that do
not parse, an ONNX protobuf, a TensorFlow Lite flatbuffer, a Core ML document, a Caffe
``NetParameter`` (or a binary model file TensorRT's Caffe parser cannot parse) or a
gzipped archive (NeMo's ``.nemo``) that does not parse, a pickle that
ends early, a ``torch.save`` file read by a plain unpickler (``A load persistent id
instruction was encountered``), a PLY file whose vertices are not a Gaussian splat's, an
HDF5 file without its signature,
a download whose checksum does not match, transformers' ``The state dictionary of the model
you are trying to load is corrupted``);
safetensors' ``HeaderTooLarge`` is a first 8 bytes that are no header length (text: a
pointer, a page)."""

OTHER_FORMAT_FILE = re.compile(
    r"[\w.\-]+\.(?:pth|pt|ckpt|pkl|pickle|tar|bin|gguf|h5|onnx|npz)(?![\w.])", re.I
)
"""A weights file of another format than safetensors. Such a file opened by a safetensors
reader fails on its first eight bytes (a zip's ``PK\\x03\\x04``, a pickle's opcodes) read
as the header's length: "header too large"."""

OTHER_FORMAT_KIND = re.compile(
    r"(?<![\w.])\.(?:pth|pt|ckpt|pkl|pickle|bin|h5|onnx|npz)\b[`'\"]?\s+"
    r"(?:model|file|checkpoint|weight)s?\b",
    re.I,
)
"""A file of another format named by its extension alone (``an old `.pth` model``)."""

MAGIC_CHECK = re.compile(
    r"magic\s*==\s*(?:0x)?[0-9a-fA-F]{8}\b|invalid\s+file\s+header|bad\s+magic\s+number|"
    r"model\s+identifier\s+'[^'\n]*',\s+should\s+be\s+'\w+'|"
    r"Check\s+failed:\s+\w*version\w*\s*==\s*\d+U?\s*\((?:[1-9]\d{3,})\s+vs\.?\s+\d+\)",
    re.I,
)
"""A reader checking a file's first bytes against its own format's magic number, and failing
(TensorFlow's ``not an sstable (bad magic number)``, TensorFlow Lite's ``Model provided has
model identifier ' .pb', should be 'TFL3'``);
or a glog check finding a version field of thousands (``version == 0U (22045 vs. 0)``):
bytes of another kind of file where the format's version stands."""

HDF5_FILE = re.compile(r"[\w.\-]+\.(?:h5|hdf5)(?![\w.])", re.I)
"""Keras' HDF5 weights: no magic number of a GGML model, a TensorFlow checkpoint's table or a
TensorFlow Lite model either."""

MEDIA_AS_WEIGHTS = re.compile(
    r"--?\w*(?:model|ckpt|checkpoint|weights?|pretrained|resume)\w*(?:\s+|\s*=\s*)['\"]?"
    r"([^\s'\"]+\.(?:png|jpe?g|gif|bmp|webp|tiff?|mp4|avi|mov|mkv|wav|mp3|flac))(?![\w.])",
    re.I,
)
"""A weights option of a command given an image, a video or a sound (``--model_path
assets/m1.png``): the input meant for another option, in the weights' place."""


def file_of_other_format(text: str, said: str) -> str:
    """The file of another format a reader was given, if the text says so.

    Any reader failing on a file's first bytes, when a weights option of the command was
    given an image, a video or a sound (:data:`MEDIA_AS_WEIGHTS`).

    A safetensors reader that found the header's length too large, the text naming no
    safetensors file but one weights file of another format; or a reader checking its
    format's magic number (a GGML reader's ``header.magic == 0x67676d66``) given the one
    PyTorch pickle or HDF5 file the text names.
    """
    media = MEDIA_AS_WEIGHTS.search(text)
    if media is not None and said:
        return media.group(1)
    if re.search(r"too\s*large", said, re.I) and not re.search(r"\.safetensors\b", text, re.I):
        named = {m.group(0) for m in OTHER_FORMAT_FILE.finditer(text)}
        if not named:
            named = {m.group(0).split()[0].strip("`'\"") for m in OTHER_FORMAT_KIND.finditer(text)}
    elif MAGIC_CHECK.search(said):
        named = {m.group(0) for m in (*PICKLED_FILE.finditer(text), *HDF5_FILE.finditer(text))}
    else:
        return ""
    return named.pop() if len(named) == 1 else ""


NEWER_FORMAT = re.compile(
    r"(?P<torch>is\s+a\s+zip\s+archive\s*\(did\s+you\s+mean\s+to\s+use\s+torch\.jit|"
    r"\.(?:pth?|pt|ckpt|bin|tar)\s+is\s+a\s+zip\s+archive\b|"
    r"Only\s+one\s+file\s*\(not\s+dir\)\s+is\s+allowed\s+in\s+the\s+zipfile)|"
    r"(?P<torch_format>PyTorch\s+file\s+with\s+version\s+\d+,\s+but\s+the\s+maximum\s+supported"
    r"\s+version\s+for\s+reading\s+is\s+\d+|"
    # An older reader looking for the archive's version record where newer PyTorch no
    # longer writes it (``.data/version``).
    r"(?:file\s+not\s+found|failed\s+locating\s+file):?\s+[\w.\-]+/version\b)|"
    r"(?P<torch_weights_only>Cannot\s+use\s+`*weights_only=True`*\s+with\s+TorchScript\s+archives)|"
    # transformers reading pickled (.bin) weights only under PyTorch 2.6 or later.
    r"(?P<torch_required>we\s+now\s+require\s+users\s+to\s+upgrade\s+torch\s+to\s+at\s+least\s+"
    r"v?[\d.]+)|"
    r"(?P<tensorrt>Version\s+tag\s+does\s+not\s+match|engine\s+plan\s+file\s+is\s+not\s+"
    r"compatible\s+with\s+this\s+version|expected\s+size\s+of\s+serialized\s+engine|"
    r"Magic\s+tag\s+does\s+not\s+match|magicTag\w*\s*==\s*[\w:]*MAGIC_TAG|"
    r"engine\s+plan\s+file\s+is\s+generated\s+on\s+an\s+incompatible\s+device)|"
    r"(?P<onnx>Unsupported\s+model\s+IR\s+version[^\n]{0,60})|"
    # A runtime meeting operator versions it does not implement: ONNX Runtime past its
    # release's opset, or older than opset 7, the oldest it runs (``Could not find an
    # implementation for the node Relu(1)``); TensorFlow Lite's ``Didn't find op for builtin
    # opcode 'MUL' version '5'``.
    r"(?P<op_version>Current\s+official\s+support\s+for\s+domain\s+[\w.]+\s+is\s+till\s+"
    r"opset\s+\d+|"
    r"Could\s+not\s+find\s+an\s+implementation\s+for\s+(?:the\s+)?node\s+\w+\([1-6]\)|"
    r"Didn't\s+find\s+op\s+for\s+builtin\s+opcode\s+'\w+'\s+version\s+'\d+'|"
    r"Op\s+builtin_code\s+out\s+of\s+range:\s+\d+|"
    # Paddle-Lite running a .nb model whose ops its release has no kernel for (the opt tool
    # of another release wrote it).
    r"kernel\s+for\s+'\w+'\s+is\s+not\s+supported\s+by\s+Paddle-Lite|"
    # ncnn meeting a layer type its build does not register.
    r"layer\s+\S+\s+not\s+exists\s+or\s+registered|"
    # TorchScript's reader meeting a type or operator of a newer PyTorch in an archive's code.
    r"Unknown\s+(?:type\s+name|builtin\s+op)\s+'[\w:.]+'(?=[\s\S]{0,400}?Serialized\s+File)|"
    # ONNX Runtime checking a node against its release's operator schema: more inputs, or
    # an attribute, than the operator version it implements takes.
    r"\(\S+\)\s+has\s+(?:input|output)\s+size\s+\d+\s+not\s+in\s+range\s+\[min=\d+,\s*"
    r"max=\d+\]|Unrecognized\s+attribute:\s+\w+\s+for\s+operator\s+\w+)|"
    r"(?P<codebase>(?i:is\s+not\s+forwards?\s+compatible\s+with)\s+\w[\w-]*)|"
    r"(?P<future>cannot\s+parse\s+future\s+versions?[^\n]{0,12}|"
    # A runtime naming the newer release the file needs (Edge TPU's ``Package requires
    # runtime version (14), which is newer than this runtime version (13)``), a parser the
    # newer format version the file has (``ONNX model has a newer ir_version (0.0.6) than
    # this parser was built against (0.0.5)``).
    r"requires\s+(?:runtime|library)\s+version\s+\(?\d+\)?,?\s+which\s+is\s+newer\s+than\s+this"
    r"[^\n]{0,40}|"
    r"has\s+a\s+newer\s+(?:ir_)?version\s+\([^)\n]*\)\s+than\s+this\s+(?:parser|reader|runtime)"
    r"[^\n]{0,40}|"
    # A value of the file that the reader's enumeration lacks (a newer quantization type;
    # llama.cpp's ``has invalid ggml type 39``).
    r"\b\d+\s+is\s+not\s+a\s+valid\s+\w*(?:Type|Format|Kind|Version)\b|"
    r"invalid\s+ggml\s+type\s+\d+|"
    # The onnx checker reading a model of a newer IR version than its release.
    r"ir_version\s+\d+\s+is\s+higher\s+than\s+the\s+checker's|"
    # A storage dtype newer than the reader (safetensors' ``unknown variant `F8_E8M0```,
    # transformers' ``Cannot load safetensors of unknown dtype F8_E8M0``).
    + NEWER_DTYPE.pattern
    + r",\s+expected\s+one\s+of\s+`|"
    r"Cannot\s+load\s+safetensors\s+of\s+unknown\s+dtype\s+\w+|"
    # A reader naming the newest format version it reads (ggml's ``this GGUF file is version
    # 4 but this software only supports up to version 3``).
    r"\bis\s+version\s+\d+\s+but\s+this\s+\w+\s+only\s+supports\s+up\s+to\s+version\s+\d+|"
    r"intended\s+for\s+a\s+newer\s+version\s+of\s+\w+|"
    # A runtime saying a later release wrote the model (CTranslate2's ``the model was
    # generated by a later version of CTranslate2``, ollama's ``may be incompatible with your
    # version of Ollama`` and ``this model is not supported by your version of Ollama``).
    r"model\s+was\s+generated\s+by\s+a\s+later\s+version\s+of\s+\w+|"
    r"(?:incompatible\s+with|not\s+supported\s+by)\s+your\s+version\s+of\s+\w+|"
    # Lightning reading a checkpoint a newer Lightning wrote.
    r"checkpoint\s+was\s+produced\s+with\s+\w+\s+v[\d.]+,\s+which\s+is\s+newer\s+than|"
    # A configuration with fields a newer release added (PEFT's ``saved using a higher
    # version of the library and additional parameters have been introduced since``).
    r"saved\s+(?:using|with)\s+a\s+(?:higher|newer)\s+version\s+of\s+the\s+library|"
    # Hugging Face tokenizers reading a tokenizer.json a newer release wrote; a protobuf
    # message (a model's JSON or text config) with a field the reader's schema lacks.
    r"Message\s+type\s+\"[\w.]+\"\s+has\s+no\s+field\s+named\s+\"\w+\"|"
    # Tesseract's reader finding more components in a traineddata file than it knows.
    r"actual_tessdata_num_entries_\s*<=\s*TESSDATA_NUM_ENTRIES|"
    # Tesseract 3 (its release printed) reading a traineddata file of 4.0 or later: the
    # components it does not know are taken for its text parameter lines, each an
    # ``Incomplete line`` of the file's bytes.
    r"ParamsModel::Incomplete\s+line(?=[\s\S]{0,4000}?\btesseract\s+3\.\d)|"
    r"\btesseract\s+3\.\d+(?:\.\d+)*(?=[\s\S]{0,4000}?ParamsModel::Incomplete\s+line)|"
    r"data\s+did\s+not\s+match\s+any\s+variant\s+of\s+untagged\s+enum\s+\w+|"
    r"did\s+not\s+specify\s+a\s+valid\s+model[\s-]parameter\s+type)|"
    # The Edge TPU's custom op reading tensors through another TensorFlow Lite release's
    # interface than libedgetpu was built against (tflite_runtime and libedgetpu apart).
    r"(?P<runtimes>Unsupported\s+data\s+type\s+in\s+custom\s+op\s+handler)|"
    r"(?P<older>(?i:\b(?:param|params|model|file|format|weights?)\s+(?:is|are)\s+too\s+old\b"
    r"[^\n]{0,40}|(?:format|file)\s+is\s+(?:outdated|obsolete)\b[^\n]{0,40}|"
    r"is\s+stored\s+using\s+TF\s*1\.x\s+format|"
    # PyTorch refusing its own pre-1.6 formats for weights-only and memory-mapped reads.
    r"with\s+files\s+saved\s+in\s+the\s+legacy\s+\.tar\s+format|"
    r"mmap\s+can\s+only\s+be\s+used\s+with\s+files\s+saved\s+with\s+`?torch\.save\([^\n]{0,80}?"
    r"_use_new_zipfile_serialization=True|"
    # A reader dropping an old generation of its format (``GGUFv1 is no longer supported``).
    r"\b[A-Za-z]+v\d+\s+is\s+no\s+longer\s+supported\b|"
    # bitsandbytes reading int8 weights serialized by its releases before 0.43 in a GPU
    # tile layout (``col_turing``, ``col_ampere``) where it now keeps plain rows.
    r"Only\s+'row'\s+weight\s+format\s+is\s+supported,\s+got\s+col_\w+|"
    # spaCy 3 opening a model package of spaCy 2, which has no config.cfg.
    r"\[E053\]\s+Could\s+not\s+read\s+config(?:\.cfg|\s+file)|File\s+format\s+not\s+supported:[^\n]{0,200}?"
    r"only\s+supports|legacy\s+\w+\s+format\s+is\s+not\s+supported))|"
    # Objects pickled whole by another release of their library: scikit-learn naming the
    # release that pickled an estimator beside its own, or refusing its tree nodes' dtype;
    # XGBoost's pickles of an older release; stable-baselines3's saved objects (schedules
    # serialised as code by another Python); NumPy's random-state constructors.
    r"(?P<pickled_release>Trying\s+to\s+unpickle\s+estimator\s+\w+\s+from\s+version\s+[\w.\-]+\s+"
    r"when\s+using\s+version\s+[\w.\-]+|\bInconsistentVersionWarning\b|"
    r"node\s+array\s+from\s+the\s+pickle\s+has\s+an\s+incompatible\s+dtype|"
    r"Check\s+failed:\s+header\s*==\s*serialisation_header_|"
    r"serialized\s+model\s+\([^)\n]*\)\s+generated\s+by\s+older\s+XGBoost|"
    # A function's code object (a schedule, a lambda) serialised under another Python minor
    # release: ``CodeType``'s constructor changed its arguments in 3.8 and 3.11, so an older
    # file passes bytes where an int now goes. The readers named are the ones a text quotes.
    r"(?:cloudpickle|dill|marshal)\.loads?\b"  # trusted: a pattern over pasted text, no call
    r"[\s\S]{0,400}?(?:an\s+integer\s+is\s+required\s+"
    r"\(got\s+type\s+bytes\)|code\(\)\s+argument\s+\d+\s+must\s+be\s+\w+|code\s+expected\s+at\s+"
    r"(?:most|least)\s+\d+\s+arguments|bad\s+marshal\s+data[^\n]{0,30})|"
    r"Could\s+not\s+deserialize\s+object\s+\w+|"
    # stable-baselines3 setting up a loaded agent (``load`` → ``_setup_model``) on a saved
    # schedule that came back neither a number nor a function: the object its release could
    # not restore (another SB3 or Python wrote it), met by ``get_schedule_fn``'s check.
    r"stable_baselines3[\\/][\w\\/]+\.py\"?,\s+line\s+\d+,\s+in\s+load\b(?=[\s\S]{0,2000}?"
    r"\bget_schedule_fn\b[\s\S]{0,300}?assert\s+callable\(\w+\))|"
    r"__\w+_ctor\(\)\s+takes\s+from\s+\d+\s+to\s+\d+\s+positional\s+arguments[^\n]{0,30})|"
    r"(?P<stated>(?i:\b(?:invalid|unsupported|unknown|incompatible)\s+(?:\w+\s+){0,2}"
    r"(?:model|file|format)\s+version\b[^\n]{0,30}|"
    r"\b(?:model|file|format)\s+is\s+of\s+an?\s+(?:unsupported|unknown)\s+version\b|"
    r"Unsupported\s+model\s+binary\s+version[^\n]{0,80}|\bwrong\s+(?:model|file)\s+format\b|"
    r"\bbelongs\s+to\s+a\s+different\s+version\s+of\s+the\s+(?:library|runtime|engine)\b|"
    # XGBoost reading a model file that is not the JSON its release writes.
    r"Check\s+failed:\s+str\[0\]\s*==\s*'\{'[^\n]{0,12}|"
    r"\bis\s+invalid,\s+maybe\s+you\s+should\s+upgrade\s+\w+|"
    # A loader refusing the format version a checkpoint records (DeepSpeed's ``checkpoint
    # version: 3.0 is not supported``, Megatron's ``checkpoint versions do not match``).
    r"\bcheckpoint\s+version\s*:?\s*v?[\d.]+\s+is\s+not\s+supported|"
    r"\bcheckpoint\s+versions\s+do\s+not\s+match\b|"
    r"\b(?:unsupported|invalid|unknown)\s+(?:GGUF|GGML|GGJT|ONNX|checkpoint|pickle)\s+version\b"
    r"[^\n]{0,30}|expected\s+(?:GGUF|GGML|file|format|model)\s+version\s+'?\d+'?,?\s+but\s+got"
    r"[^\n]{0,12}|"
    # A loader naming the file's format version beside its own (metatrain's ``the checkpoint
    # is using version 14, while the current version is 11``).
    r"(?i:\b(?:checkpoint|file|model)\s+(?:is\s+using|uses|has)\s+(?:\w+\s+)?version\s+\d+,?\s+"
    r"(?:while|but|and)\s+(?:the\s+)?current\s+(?:\w+\s+)?version\s+is\s+\d+)))|"
    # A library's own upgrade of older saves refusing the file (Calamari's ``the weights can
    # not be converted yet``, or a refusal naming a version or a retraining), or stepping
    # through version numbers without end: the file's version is one the upgrade never
    # reaches (a newer release wrote it). An export's refusal (``cannot be converted to
    # TorchScript``) is no upgrade.
    r"(?P<upgrade>(?i:\b(?:weights|model|checkpoint)s?\s+can\s*not\s+be\s+(?:converted|upgraded|"
    r"migrated)(?!\s+(?:in)?to\s+(?:TorchScript|ONNX|TensorRT|Core\s*ML|TFLite|TensorFlow\s+Lite)\b)"
    r"(?:\s+yet\b|[^\n.]{0,80}?\b(?:version|retrain\w*)\b)[^\n\"]{0,40})|"
    r"Upgrading\s+(?:\w+\s+)?from\s+version\s+\d+(?=(?:\s*Upgrading\s+(?:\w+\s+)?from\s+version\s+"
    r"\d+){2}[\s\S]*?Upgrading\s+(?:\w+\s+)?from\s+version\s+\d{3,}))|"
    # A storage driver's saved metadata against the spec the restoring release asks for
    # (orbax through TensorStore: ``Error opening "zarr" driver: Expected "compressor" of
    # {"id":"gzip"...} but received: {"id":"zstd"...}``).
    r"(?P<storage_spec>Error\s+opening\s+\"\w+\"\s+driver:\s+Expected\s+\"\w+\"\s+of\s+[^\n]{0,120}?"
    r"\s+but\s+received:?\s*[^\n\[]{0,60})|"
    # A config class's validator refusing a value it does not list (transformers 5's strict
    # dataclass configs: ``The `layer_types` entries must be in (...) but got [...]``).
    r"(?P<config_value>Class\s+validation\s+error\s+for\s+validator\s+'\w+'[\s\S]{0,200}?"
    r"\bmust\s+be\s+(?:in|one\s+of)\b[\s\S]{0,300}?\bbut\s+got\b[^\n]{0,60})|"
    # MXNet reading a network's symbol file (``-symbol.json``) another release wrote: a
    # field its JSON reader does not know, an operator parameter it cannot parse.
    r"(?P<symbol>JSONReader:\s+Unknown\s+field\s+\w+|"
    r"Failed\s+loading\s+Op\s+\w+\s+of\s+type\s+\w+:\s+Invalid\s+Parameter\s+format)|"
    # A model package declaring the library release it was built for (spaCy's ``Model
    # 'en_vectors_web_lg' (2.1.0) requires spaCy v2.1 and is incompatible with the current
    # spaCy version (2.3.5)``).
    r"(?P<built_for>requires\s+[\w\-]+\s+v?[\d.]+[^\n]{0,20}?\s+and\s+is\s+incompatible\s+with\s+"
    r"the\s+current\s+[\w\-]+\s+version[^\n]{0,12}|"
    # Ultralytics naming the release a checkpoint's pickled objects need (``yolo11s.pt
    # requires numpy>=1.26.1, however numpy==1.24.4 is installed``).
    r"requires\s+[\w\-]+>=?[\d.]+,\s+however\s+[\w\-]+==[\d.]+\s+is\s+installed|"
    # spaCy's W095: a model package trained with another spaCy release than the installed one.
    r"was\s+trained\s+with\s+[\w\-]+\s+v?[\d.]+\s+and\s+may\s+not\s+be\s+100%\s+compatible\s+with\s+"
    r"the\s+current\s+version[^\n]{0,20})|"
    # A reader asserting the version field of the object it unpickles.
    r"(?P<asserted>assert\s+\w+\[[\"'](?:format_)?version[\"']\]\s*(?:==|in\b|<=?|>=?)[^\n]{0,20})"
)
"""A reader meeting a file written by another version of its format: PyTorch before 1.6
reading the zip format ``torch.save`` writes since 1.6, or a newer zip format version than
it knows; PyTorch 2.6's weights-only default refusing a TorchScript archive; a TensorRT
engine built by another TensorRT release, an ONNX model of a newer IR version than the
runtime knows, or operator versions a runtime does not implement (an ONNX opset, a
TensorFlow Lite builtin's version); a loader naming the older generation
of its codebase that saved the file
(Ultralytics' ``appears to be an Ultralytics YOLOv5 model ... NOT forwards compatible with
YOLOv8``); a reader calling the file's format too old (ncnn's ``param is too old, please
regenerate``); a runtime naming the file's format version it refuses (RKNN's ``Invalid
RKNN model version 6``), a model package built for another release of its library
(spaCy's ``requires spaCy v2.1 and is incompatible with the current spaCy version``), a
network symbol file with fields or operator parameters MXNet's reader does not know, or
calling it meant for a newer release or a model type it does not know (Core ML's
``intended for a newer version of Xcode``), or whose enumeration lacks one of the file's
values (``17 is not a valid GGMLQuantizationType``), or a ``tokenizer.json`` that matches no
variant of the tokenizers release's model enum, or a protobuf message (Calamari's checkpoint
JSON) with a field the reader's schema lacks, or a Tesseract traineddata holding more
components than the reader knows; PyTorch 1.6's hub
taking its own zip checkpoints for zipped files (``Only one file(not dir) is allowed in the
zipfile``); Keras 3 refusing a legacy SavedModel; a TensorRT plan whose magic tag is
another release's; a reader asserting the version field of the object it unpickles
(``assert state["version"] in [2, 3]``)."""

PYTHON2_STRINGS = re.compile(
    r"UnicodeDecodeError:\s+'(?P<codec>ascii|utf-?8)'\s+codec\s+can't\s+decode\s+byte\s+0x[0-9a-f]{2}"
    r"[^\n]{0,60}",
    re.I,
)
"""Python 3's unpickler decoding the byte strings of a Python 2 pickle: with ASCII, its
default, or UTF-8 when asked."""

PYTHON2_READER = re.compile(
    r"(?:cPickle\.|(?:python2\.\d|Python2\d)[/\\](?:site|dist)-packages[\s\S]{0,3000}?)"
    r"UnpicklingError:(?!\s*invalid\s+load\s+key,\s*'[!-OQ-~]')[^\n]{0,60}"
)
"""Python 2 failing to unpickle a checkpoint (its ``cPickle``, its ``site-packages``): a file
Python 3 wrote, in a pickle protocol or a PyTorch format Python 2's releases never read. A
first byte that is a printable character other than a zip archive's ``P`` is no pickle at
all (a page's ``<``, an HDF5 or text file): the file's own reading says what it is."""


QUANT_DTYPE = re.compile(
    r"(?:unknown|unsupported|unhandled)\s+(?:data\s*type|dtype|tensor\s+type)s?\s*[:=]?\s*"
    r"['\"`]?(U8|I8|U4|I4|F8_E4M3|F8_E5M2|uint8|int8|int4|float8_e4m3fn|float8_e5m2)\b",
    re.I,
)
"""A loader refusing a storage dtype that holds quantized weights (bitsandbytes' U8, int8
weight-only I8, FP8): the file is quantized, the loader expects float weights."""

META_DEVICE = re.compile(
    r"([\w.]+)\s+is\s+on\s+the\s+meta\s+device|Cannot\s+copy\s+out\s+of\s+meta\s+tensor"
)
"""A parameter left on the meta device after loading: no value in the checkpoint for it."""


def read_file_format(found: Facts, text: str) -> None:
    """What a reader said of the file's own format: newer, broken, another kind."""
    newer = NEWER_FORMAT.search(text)
    if newer is not None:
        found.newer_format = " ".join(newer.group(0).split())
        found.newer_reader = str(newer.lastgroup)
    elif lightgbm := lightgbm_release(text):
        found.newer_format, found.newer_reader = lightgbm, "stated"
    elif containers := ggml_containers(text):
        found.newer_format, found.newer_reader = containers, "ggml_container"
    elif (decode := PYTHON2_STRINGS.search(text)) and (
        decode["codec"] == "ascii" or UNPICKLING.search(text)
    ):
        found.newer_format, found.newer_reader = decode.group(0), "python2"
    elif read_by_python2 := PYTHON2_READER.search(text):
        found.newer_format = read_by_python2.group(0).rsplit("\n", 1)[-1]
        found.newer_reader = "python3"
    broken = BROKEN_FILE.search(text) or MAGIC_CHECK.search(text)
    if broken is not None:
        found.broken_file = _quoted(broken.group(0))
    else:
        found.broken_file = (
            text_read_as_opcode(text)
            or text_read_as_number(text)
            or pickle_read_as_number(text)
            or zip_read_as_number(text)
            or ("" if found.newer_reader == "python2" else pickle_read_as_text(text))
        )
    found.other_format = file_of_other_format(text, found.broken_file)
    trip = ROUND_TRIP.search(text)
    if trip is not None and FAILED.search(text[trip.end() :]):
        found.round_trip = trip.group("read")
    storage = QUANT_DTYPE.search(text)
    if storage is not None:
        found.quantization = sorted({*found.quantization, f"{storage.group(1).lower()} storage"})
    meta = META_DEVICE.search(text)
    if meta is not None:
        found.meta_device = meta.group(1) or "a parameter"


def _quoted(said: str) -> str:
    """A reader's words on one line; across traceback frames, the caller's line and the error."""
    if FRAME.search(said):
        lines = said.strip().splitlines()
        said = f"{lines[0]} {lines[-1]}"
    return " ".join(said.split())


ROUND_TRIP = re.compile(
    r"\b(?P<var>\w+)\s*=\s*[^\n;=]{0,80}?\b(?:\w+_)?(?:serialize\w*|dumps|to_bytes)\s*\("
    r"[^\n]*\n[\s\S]{0,600}?(?P<read>[\w:.]*\b(?:\w+_)?(?:deserialize\w*|loads|from_bytes)\w*"
    r"\s*\(\s*&?\s*(?P=var)\b[^\n)]*\))"
)
"""Code serializing an object into a variable and reading that variable back: a round trip
in one process (``serialized = p.serialize_to_vec()`` … ``deserialize_from_slice(&serialized)``,
``data`` pickled with ``dumps`` … unpickled with ``loads``): words in pasted code, nothing
loaded."""

FAILED = re.compile(r"Error|panicked|Traceback|Exception|fail", re.IGNORECASE)
"""A failure reported after the round trip's read."""
