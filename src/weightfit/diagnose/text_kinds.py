"""A file of another kind than the loader reads, from a text (the ``text`` profile).

Each loader reads one kind of file: a model type's export, its own training saves, a
converted repository. What it says when handed another kind is its own layout failing at
the first thing that layout always has. Every finding here is ``unrelated``:

- ``exporter_fields``: a loader specific to one model type or format missing what its own
  exporter always writes (sherpa-onnx's ONNX metadata, fairseq's training state, LightGBM's
  text model given a JSON dump or a pickle, a Kaldi reader meeting a token where its layout
  has a number, fastText's binary reader given the ``.vec`` word vectors);
- ``unconverted_repo``: transformers.js, which reads only ONNX exports, given a repository
  without the default one;
- ``named_kind``: a file named for another role than the loader's (a GAN's discriminator
  checkpoint, an ImageNet backbone's pretrained weights where a whole trained network's
  saves are read, a speech-synthesis model's folder given to a recogniser);
- ``unpacked_load``: code unpacking what it loads into the values its own saves hold, and
  the file holding another number of them;
- ``factorized_embedding``: an input embedding of ALBERT's factorized width (128) against a
  model's hidden width: ALBERT's checkpoint with BERT's code, or the reverse.

The refusals these rules read are loading errors by themselves (:func:`another_kind_said`),
which :func:`weightfit.explain.statements.facts` asks rather than restating their phrases.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts, whole_text_facts

# text_prefix reads fairseq's state through this module until it imports it from _known.
from weightfit.diagnose._known import fairseq_state
from weightfit.findings import Finding

CONFIDENCE = 0.45
"""Each reading names the likeliest cause, not a sure one: a file's kind is inferred."""


def _unrelated(message: str, evidence: dict[str, object], fix_note: str) -> Finding:
    """An ``unrelated`` finding at this module's confidence."""
    return Finding(
        category="unrelated",
        severity="error",
        message=message,
        evidence=evidence,
        confidence=CONFIDENCE,
        fix_note=fix_note,
    )


ABSENT_METADATA = re.compile(
    r"(?:([A-Za-z][\w\-]*?)-model\.cc:(\w+):\d+\s+)?'(\w+)'\s+does\s+not\s+exist\s+in\s+"
    r"(?:the\s+)?metadata"
)
"""sherpa-onnx's C++ loaders reading an ONNX model's custom metadata (``online-paraformer-
model.cc:InitEncoder:138 'vocab_size' does not exist in the metadata``): the loader's file
names the model type it reads."""
LIGHTGBM_SUBMODEL = re.compile(
    r"\bunknown?\s+(?:model\s+format\s+or\s+)?submodel\s+type\s+in\s+model\s+file\s+"
    r"['\"]?([^\s'\"]+)",
    re.I,
)
"""LightGBM's reader finding another first line than its release's text model begins with
(``tree``; ``gbdt`` in the first release), in each release's words
(``src/boosting/boosting.cpp``): ``unknow submodel type`` (the early releases), ``unknown
submodel type``, ``Unknown model format or submodel type`` (today's)."""
LIGHTGBM_DUMP = ".json"
"""What ``Booster.dump_model()`` is saved as: a description of the trees, not a model file."""
PICKLE_FILE = re.compile(r"\.(?:pkl|pickle|joblib|sav)$", re.I)
"""A pickled object's file: a Booster pickled whole is read back with pickle, not as a
model file."""
KALDI_INTEGER = re.compile(
    r"ReadBasicType:\s+did\s+not\s+get\s+expected\s+integer\s+type,\s+(\d+)\s+vs\.\s+(\d+)"
)
"""Kaldi's binary reader: an integer is written as its size byte (``4``) then its bytes; the
byte met instead is printed first."""
FASTTEXT_VECTORS = re.compile(
    r"(?:fast_?text\w*\.load_model\(\s*['\"]|fastText:\s+Cannot\s+load\s+)"
    r"([^\s'\"()]+\.(?:vec|txt))(?![\w.])",
    re.I,
)
"""fastText's ``load_model`` given a ``.vec`` or ``.txt`` file: the word vectors in text form
(one word and its numbers a line, written beside the binary ``.bin`` model), not a model."""
KALDI_TOKEN_START = ord("<")
"""The first byte of a Kaldi token (``<Nnet>``, ``<TransitionModel>``)."""


def exporter_fields(ctx: Context) -> None:
    """Report a loader of one model type missing what its own exporter always writes.

    sherpa-onnx's loader for a model type (paraformer, transducer) reads the metadata its
    export scripts write into the ONNX file; fairseq's loader reads the training state its
    trainer saves; LightGBM's reader, its text format's first line; a Kaldi reader, an
    integer where the file has a token (``<``). Missing that, the file is another model
    type's, not a damaged one of the loader's own.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    text = facts.text
    finding = (
        _absent_metadata(ABSENT_METADATA.search(text))
        or _fairseq_state(text, facts.key_errors)
        or _lightgbm_file(LIGHTGBM_SUBMODEL.search(text))
        or _kaldi_token(KALDI_INTEGER.search(text))
        or _fasttext_vectors(FASTTEXT_VECTORS.search(text))
    )
    if finding is not None:
        ctx.add(finding)


def _absent_metadata(said: re.Match[str] | None) -> Finding | None:
    """sherpa-onnx's loader of one model type missing its exporter's metadata key."""
    if said is None:
        return None
    kind, step, key = said.groups()
    loader = f"the {kind} loader" if kind else "the model type's loader"
    where = f" ({step})" if step else ""
    return _unrelated(
        f"{loader}{where} finds no '{key}' in the ONNX model's metadata, which the export "
        "script of that model type always writes: the file is another model type's export "
        "(another architecture, or the same one exported by another toolkit)",
        {"metadata_key": key, "loader": kind or "", "step": step or ""},
        "pass the model through the config of its own type (the toolkit's documentation "
        "lists one per architecture), or export it with that type's script",
    )


def _fairseq_state(text: str, key_errors: list[str]) -> Finding | None:
    """The training state fairseq's checkpoint loading missed, which its own saves hold."""
    key = next((k for k in key_errors if fairseq_state(text, k)), "")
    if not key:
        return None
    return _unrelated(
        f"fairseq's checkpoint loading reads '{key}', which every checkpoint fairseq's trainer "
        "saves holds: the file is not a fairseq checkpoint (another model's weights, or a "
        "module saved by other code)",
        {"entry": key, "library": "fairseq"},
        "load the file with the code that saved it, and give fairseq the checkpoint its "
        "trainer wrote",
    )


def lightgbm_release(text: str) -> str:
    """LightGBM's refusal of a file given as its own text model, or ``""``.

    The one place LightGBM's message is read: its reader only compares the file's first
    line with ``tree``. A ``.json`` file is ``dump_model()``'s output and a pickle the
    Booster object (``exporter_fields``: another kind of file). Any other file was given as
    a text model whose first line another release wrote (the first release's files began
    ``gbdt``; its maintainers' fix was to make the line ``tree``): the facts carry it as a
    format version the reader refuses (``newer_format``, reader ``stated``).
    """
    said = LIGHTGBM_SUBMODEL.search(text)
    if said is None or _lightgbm_other_kind(said.group(1)):
        return ""
    return " ".join(said.group(0).split())


def _lightgbm_other_kind(file: str) -> bool:
    """Whether a file LightGBM refused is another kind of file than a text model."""
    return file.lower().endswith(LIGHTGBM_DUMP) or PICKLE_FILE.search(file) is not None


def _lightgbm_file(said: re.Match[str] | None) -> Finding | None:
    """LightGBM's reader given a JSON dump or a pickle, not a model file of its format."""
    if said is None or not _lightgbm_other_kind(file := said.group(1)):
        return None
    dump = file.lower().endswith(LIGHTGBM_DUMP)
    return _unrelated(
        f"LightGBM finds no text model in {file} (its first line is not 'tree'): "
        + (
            "a .json file is what dump_model() writes, a description LightGBM cannot load"
            if dump
            else "the file is a pickle (the Booster object saved whole), not a model file"
        ),
        {"file": file, "library": "lightgbm"},
        "save the booster with save_model() (its text format) and load that file"
        + ("" if dump else ", or read the pickle back with pickle or joblib"),
    )


def _fasttext_vectors(said: re.Match[str] | None) -> Finding | None:
    """The fastText binary model reader given the text file of word vectors."""
    if said is None:
        return None
    file = said.group(1)
    return _unrelated(
        f"fastText's load_model reads the binary model (.bin: magic number, arguments, "
        f"dictionary, matrices) and was given {file}, the word vectors as text that training "
        "writes beside it: another kind of file, which it cannot read as a model",
        {"file": file, "library": "fasttext"},
        "load the .bin model with fasttext.load_model, or read the .vec vectors as text "
        "(gensim's KeyedVectors.load_word2vec_format)",
    )


def _kaldi_token(said: re.Match[str] | None) -> Finding | None:
    """A Kaldi reader meeting a token where its layout writes an integer."""
    if said is None or int(said.group(1)) != KALDI_TOKEN_START:
        return None
    return _unrelated(
        "the Kaldi reader expected an integer and met a token ('<' where the size byte "
        f"{said.group(2)} belongs): the file lays its fields out otherwise, another model "
        "type than the program reads",
        {"got": int(said.group(1)), "expected": int(said.group(2)), "library": "kaldi"},
        "check which model type the tool reads (nnet-am-info reads nnet2 .mdl files, "
        "nnet3-info nnet3) and give it a model of that type",
    )


ONNX_FILE_ABSENT = re.compile(
    r"Could\s+not\s+locate\s+file:?\s+['\"]?(?:https?://[\w.\-]+/([\w.\-]+/[\w.\-]+)/resolve/"
    r"[^/\s'\"]+|\S*?)/onnx/([\w.\-]+\.onnx)"
)
"""transformers.js looking for a model's ONNX file under ``onnx/``, in a hub repository (named)
or a local folder."""
DTYPE_VARIANT = re.compile(r"_(?:fp16|int8|uint8|q4|q4f16|bnb4)\.onnx$")
"""The suffixes transformers.js gives the ONNX files of a non-default dtype
(``DEFAULT_DTYPE_SUFFIX_MAPPING``); fp32's file has none and q8's ``_quantized`` was the
default of its first releases (``quantized: true``) and is still the browser's."""


def unconverted_repo(ctx: Context) -> None:
    """Report transformers.js finding no default ONNX export in a hub repository.

    transformers.js runs only ONNX files, which it reads from ``onnx/`` (the layout its
    conversion script writes); a repository converted for it holds at least the default
    files there (``model.onnx``, ``model_quantized.onnx``), and a model's original
    repository holds its PyTorch or safetensors checkpoint, none of them. A missing
    dtype variant (``model_fp16.onnx``) says nothing of the kind: many converted
    repositories export only some dtypes.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    said = ONNX_FILE_ABSENT.search(facts.text)
    if said is None or said.group(1) is None or DTYPE_VARIANT.search(said.group(2)):
        return
    repository, file = said.group(1), said.group(2)
    ctx.add(
        _unrelated(
            f"transformers.js found no onnx/{file} in {repository}, a default file of its "
            "export: the repository has no ONNX export at this path, and transformers.js runs "
            "only ONNX files (a model's original repository holds its PyTorch or safetensors "
            "checkpoint instead; an export for another task lacks this model class's files)",
            {"repository": repository, "file": f"onnx/{file}", "library": "transformers.js"},
            "use a repository of the model's ONNX export (onnx-community/, Xenova/), or "
            "convert it with transformers.js' scripts/convert.py",
        )
    )


DISCRIMINATOR_FILE = re.compile(r"(?<![\w.])D_\d+\.pth\b")
"""A discriminator's training checkpoint as VITS and its descendants (so-vits-svc, RVC,
Bert-VITS2) save it, ``D_<step>.pth`` beside the generator's ``G_<step>.pth``."""
GENERATOR_FILE = re.compile(r"(?<![\w.])G_\d+\.pth\b")
"""The generator's checkpoint of the same runs, ``G_<step>.pth``: with it beside the
discriminator's, the text names a whole training run's files, not a discriminator alone."""
BACKBONE_FILE = re.compile(
    r"(?<![\w.\-])((?:vgg\d+(?:_bn)?|resnet\d+|resnext\d+_\d+x\d+d|wide_resnet\d+_\d+|"
    r"densenet\d+|mobilenet_?v[123]\w{0,8}?|efficientnet_?b\d|inception_?v[34]|darknet\d+)"
    r"(?:[_\-](?:reducedfc|imagenet|pretrained|caffe|[0-9a-f]{8}))*"
    r"\.(?:pth\.tar|pth|pt|pkl|t7))(?!\.?[\w\-])",
    re.I,
)
"""A file named for a bare ImageNet backbone, its architecture and depth alone or with the
suffixes of released weights (``vgg16_reducedfc.pth``, ``resnet50.pth.tar``, torchvision's
``resnet101-5d3b4d8f.pth``): the pretrained weights a detector or segmenter is initialised
from, not what it saves. A name with more words (``resnet50_cub200_finetuned_best.pth``) is
the user's own run."""
BACKBONE_WORD = re.compile(r"vgg|resnet|resnext|densenet|mobilenet|efficientnet|inception|darknet")
"""The architecture word of a :data:`BACKBONE_FILE`, which names its module in a larger
network (``module.vgg.0.weight``)."""
SPEECH_SYNTHESIS_FOLDER = re.compile(
    r"Folder\s+'([^'\n]*?(?:[\-_]tts[\-_][^'\n]*|[\-_]tts))'\s+does\s+not\s+contain\s+model\s+files"
)
"""Vosk's recogniser (``Model()``) finding none of its files in a folder named for a
speech-synthesis model (``vosk-model-tts-ru-0.6-multi``)."""


def named_kind(ctx: Context) -> None:
    """Report a file or folder whose name marks another kind than the loader reads.

    A GAN's discriminator checkpoint given alone (no generator's beside it); a bare
    backbone's pretrained weights where the loader reads the entries of its own saves or
    finds the backbone's layers missing inside a larger network; a speech-synthesis model's
    folder given to a recogniser.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    text = facts.text
    discriminator = DISCRIMINATOR_FILE.search(text)
    backbone = BACKBONE_FILE.search(text)
    synthesis = SPEECH_SYNTHESIS_FOLDER.search(text)
    if discriminator is not None and GENERATOR_FILE.search(text) is None:
        file = discriminator.group(0)
        ctx.add(
            _unrelated(
                f"{file} is named as a GAN training run saves its discriminator (VITS, "
                "so-vits-svc and RVC write D_<step>.pth beside the generator's "
                "G_<step>.pth): a training state, not the model the loader reads",
                {"file": file, "role": "discriminator"},
                "give the loader the exported model (RVC: the weights folder's .pth) or the "
                "generator's G_<step>.pth",
            )
        )
        ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())
    elif backbone is not None:
        _backbone_file(ctx, backbone.group(1), facts.key_errors)
    elif synthesis is not None:
        folder = synthesis.group(1)
        ctx.add(
            _unrelated(
                f"Vosk's recogniser found none of its files in {folder}, a folder named for "
                "a speech-synthesis (TTS) model: it holds another kind of model than speech "
                "recognition reads",
                {"folder": folder, "library": "vosk"},
                "load the folder with Vosk's TTS API, and give Model() a recognition model "
                "(vosk-model-*)",
            )
        )


def _backbone_file(ctx: Context, file: str, key_errors: list[str]) -> None:
    """Report a backbone's pretrained weights given where a trained network's save is read."""
    word = BACKBONE_WORD.search(file.lower())
    entry = next((k for k in key_errors if "." not in k), "")
    missing = ctx.missing()
    inside = (
        word is not None
        and bool(missing)
        and not ctx.unexpected()
        and all(_under(name, word.group(0)) for name in missing)
    )
    if not entry and not inside:
        return
    said = (
        f"the loader reads the entry '{entry}' of its own saves"
        if entry
        else "the network's layers are missing beneath a larger model"
    )
    ctx.add(
        _unrelated(
            f"{said}, and the file given is {file}, named for a bare backbone's pretrained "
            "weights: what the network is initialised from before training, not a trained "
            "checkpoint of it",
            {"file": file, "entry": entry},
            "give the loader the trained checkpoint the project releases (or train one); "
            "the backbone file belongs to the training config's pretrained-weights option",
        )
    )
    ctx.consume(missing=missing)


def _under(name: str, word: str) -> bool:
    """Whether a tensor name holds a module named for ``word`` above its layer."""
    return any(part.startswith(word) for part in name.split(".")[:-2])


UNPACKED_LOAD = re.compile(
    r"^[ \t>]*\(?\s*\w+(?:\s*,\s*\w+)+\s*,?\s*\)?\s*=\s*"
    r"(?:(?:torch|pickle|joblib|np|numpy|dill|cloudpickle|paddle)\.load\(|"  # trusted: text pattern
    r"(?:[\w.]+\.)?(?:load|restore|read)_?(?:ckpt|checkpoint)\w*\(|"
    r"(?:[\w.]+\.)?\w*(?:ckpt|checkpoint)_?load\w*\()",
    re.M,
)
"""Code unpacking what a checkpoint reader returns into several names (``(model_params,
first_iter) =`` torch's or pickle's ``load`` of a checkpoint, ``a, b = load_checkpoint(path)``);
other calls (``wav, sr = load_audio(path)``) return no file's contents."""
UNPACK_FAILED = re.compile(
    r"(?:too\s+many|not\s+enough)\s+values\s+to\s+unpack|'(\w+)'\s+object\s+is\s+not\s+"
    r"iterable|cannot\s+unpack\s+non-iterable\s+(\w+)\s+object"
)
"""Python refusing to unpack a value into the names given."""


def unpacked_load_failure(text: str) -> tuple[str, str] | None:
    """``(code, type held)`` of a checkpoint reader's result that failed to unpack, or None.

    Python's refusal counts only after code unpacking what a checkpoint reader returned;
    the type is ``""`` when Python named a count instead (``too many values to unpack``).
    """
    unpacked = UNPACKED_LOAD.search(text)
    failed = UNPACK_FAILED.search(text, unpacked.end()) if unpacked else None
    if unpacked is None or failed is None:
        return None
    return unpacked.group(0).strip(" \t>"), failed.group(1) or failed.group(2) or ""


def unpacked_load(ctx: Context) -> None:
    """Report code unpacking a loaded file into the values its own saves hold, and failing.

    A script that saves a tuple (``(model_params, iteration)``, ``(G, D, g_ema)``) reads its
    files back by unpacking them; a file holding one object, or another number of entries,
    is not one of those saves.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    failure = unpacked_load_failure(facts.text)
    if failure is None:
        return
    code, held = failure
    ctx.add(
        _unrelated(
            f"the code unpacks what it loads ({code}…) into the values its own saves hold, "
            "and the file holds "
            + (f"a single {held} object" if held else "another number of them")
            + ": another kind of file than this code saves (a bare model or state dict, "
            "another script's checkpoint)",
            {"code": code, "held": held},
            "load the file as what it holds (weightfit inspect FILE), or give the code a "
            "file its own save wrote",
        )
    )


ALBERT_EMBEDDING = 128
"""The width of every released ALBERT's token embeddings (``embedding_size`` in the configs
of albert/albert-base-v2 to albert-xxlarge-v2), factorized below its hidden width."""
UNFACTORIZED_FAMILY = "BERT"
"""The family whose token table is as wide as its hidden layers (``hidden_sizes.yaml``): the
wide side of the pair is BERT's table, since ALBERT's is 128 wide at every size."""
TOKEN_TABLE = re.compile(r"(?:^|[./])word_embeddings(?:[./:]|$)")
"""BERT's and ALBERT's token embedding table, in PyTorch's and TensorFlow's spellings
(``embeddings.word_embeddings.weight``, ``bert/embeddings/word_embeddings``)."""
MODEL_PARALLEL_FILE = re.compile(r"\bmp_rank_\d|\bconsolidated\.\d{2}\.pth\b")
"""A model-parallel rank's file (Megatron's ``mp_rank_00``, Meta's ``consolidated.00.pth``),
whose embedding table holds one slice of its width."""


def _bert_widths() -> frozenset[int]:
    """The widths of BERT's released token tables: its hidden widths."""
    return frozenset(
        row.value for row in knowledge.hidden_sizes() if row.family == UNFACTORIZED_FAMILY
    )


def factorized_embedding(ctx: Context) -> None:
    """Report a token table of ALBERT's factorized width against a hidden width: another model.

    Same rows (one vocabulary), and one side 128 wide where the other is as wide as one of
    BERT's released hidden sizes (768, 1024): ALBERT factorizes its embeddings (a 128-wide
    table, projected up to the hidden width), BERT does not. The code builds one
    architecture and the file holds the other. Quantized storage (8 values a word would
    also make 1024 into 128) is left to its rules, and so is a model-parallel rank's file,
    whose table holds a slice of the width.
    """
    facts = text_facts(ctx)
    if facts is None or facts.quantization or MODEL_PARALLEL_FILE.search(facts.text):
        return
    hidden = _bert_widths()
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if TOKEN_TABLE.search(pair.target) is None or len(have) != 2 or len(want) != 2:
            continue
        widths = {have[1], want[1]}
        if have[0] != want[0] or ALBERT_EMBEDDING not in widths or not widths & hidden:
            continue
        file_albert = have[1] == ALBERT_EMBEDDING
        ctx.add(
            _unrelated(
                f"{pair.target} is {have[1]} wide in the file and {want[1]} in the model, over "
                f"the same {have[0]} tokens: ALBERT factorizes its token embeddings to "
                f"{ALBERT_EMBEDDING} and BERT does not, so "
                + (
                    "the file is an ALBERT checkpoint and the code builds BERT"
                    if file_albert
                    else "the code builds ALBERT and the file is a BERT checkpoint"
                ),
                {"tensor": pair.target, "have": list(have), "want": list(want)},
                "run the checkpoint with the code of its own architecture (ALBERT's modeling "
                "code for an ALBERT checkpoint)",
            )
        )
        ctx.consume(pairs=ctx.mismatches(), missing=ctx.missing(), unexpected=ctx.unexpected())
        return


def another_kind_said(text: str) -> bool:
    """Whether a text holds a loader's refusal these rules read: a loading error by itself.

    sherpa-onnx's missing metadata, a Kaldi reader's integer, LightGBM's first line, fastText
    given its text vectors,
    transformers.js' missing ONNX file, a checkpoint reader's result that failed to unpack.
    """
    return (
        any(
            phrase.search(text)
            for phrase in (
                ABSENT_METADATA,
                KALDI_INTEGER,
                LIGHTGBM_SUBMODEL,
                ONNX_FILE_ABSENT,
                FASTTEXT_VECTORS,
            )
        )
        or unpacked_load_failure(text) is not None
    )


CONTROLNET_LOAD = re.compile(
    r"state_dict\s+for\s+ControlNet\b|\bPlugableControlModel\b|\bload_controlnet\w*\(", re.I
)
"""A ControlNet being built from a file (PyTorch's ``Error(s) in loading state_dict for
ControlNet``, the WebUI extension's ``PlugableControlModel``, ``load_controlnet``)."""
CONTROL_MARKER = re.compile(
    r"(?<![a-z])(?:control\w*|cn|cldm|t2i\w*|adapter|canny|depth|openpose|pose|scribble|hed|"
    r"mlsd|seg|normal\w*|lineart\w*|softedge|tile|inpaint|ip2p|shuffle|sketch|qr\w*|brightness|"
    r"union|lllite|diffcontrol)(?![a-z])",
    re.I,
)
"""Words ControlNet and adapter releases put in their file names: the kind of model or of
the condition it takes (``control_v11p_sd15_canny``, ``t2iadapter_depth``, ``diff_control``)."""


def controlnet_file(ctx: Context) -> None:
    """Report a ControlNet built from a file whose name marks no control model.

    ControlNet releases name their files for what they are and the condition they take
    (``control_sd15_canny.pth``); a file named for nothing of the kind (``Anything3.ckpt``)
    where a ControlNet is loaded is a base model put in the ControlNet folder or picked in
    its list. Only when the text names that one weights file.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    if CONTROLNET_LOAD.search(facts.text) is None or len(facts.files) != 1:
        return
    file = facts.files[0]
    if CONTROL_MARKER.search(re.sub(r"[_\-.\d]+", " ", file)) is not None:
        return
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"a ControlNet is built from {file}, whose name marks no control model or "
                "condition (ControlNet files are named for them: control_sd15_canny): most "
                "likely a base diffusion model put where the ControlNet models are"
            ),
            evidence={"file": file},
            confidence=0.35,
            fix_note=(
                "pick a ControlNet model (control_*.pth / .safetensors) and keep base models "
                "in the checkpoints folder"
            ),
        )
    )
