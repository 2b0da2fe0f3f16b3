"""A file of another kind than the loader reads, from a text (the ``text`` profile).

Each loader reads one kind of file: a model type's export, its own training saves, a
converted repository. What it says when handed another kind is its own layout failing at
the first thing that layout always has. Every finding here is ``unrelated``:

- ``exporter_fields``: a loader specific to one model type or format missing what its own
  exporter always writes (sherpa-onnx's ONNX metadata, fairseq's training state, LightGBM's
  submodel line, a Kaldi reader meeting a token where its layout has a number);
- ``unconverted_repo``: transformers.js, which reads only ONNX exports, given a repository
  without one;
- ``named_kind``: a file named for another role than the loader's (a GAN's discriminator
  checkpoint, an ImageNet backbone's pretrained weights where a whole trained network's
  saves are read, a speech-synthesis model's folder given to a recogniser);
- ``unpacked_load``: code unpacking what it loads into the values its own saves hold, and
  the file holding another number of them;
- ``factorized_embedding``: an input embedding of ALBERT's factorized width (128) against a
  model's hidden width: ALBERT's checkpoint with BERT's code, or the reverse.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts, whole_text_facts
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
FAIRSEQ_UPGRADE = re.compile(r"fairseq\W+checkpoint_utils\.py|_upgrade_state_dict")
"""fairseq's checkpoint loading, which upgrades any file it reads as its own training save."""
FAIRSEQ_STATE = ("best_loss", "optimizer_history")
"""Entries fairseq's training saves always hold (``_upgrade_state_dict`` rebuilds
``optimizer_history`` from ``best_loss``): a file with neither is no fairseq checkpoint."""
LIGHTGBM_SUBMODEL = re.compile(r"unknown\s+submodel\s+type\s+in\s+model\s+file\s+['\"]?([^\s'\"]+)")
"""LightGBM's model reader finding no ``tree`` line where its text format starts."""
KALDI_INTEGER = re.compile(
    r"ReadBasicType:\s+did\s+not\s+get\s+expected\s+integer\s+type,\s+(\d+)\s+vs\.\s+(\d+)"
)
"""Kaldi's binary reader: an integer is written as its size byte (``4``) then its bytes; the
byte met instead is printed first."""
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


def fairseq_state(text: str, key: str) -> bool:
    """Whether fairseq's checkpoint loading looked up the training state its saves hold."""
    return key in FAIRSEQ_STATE and FAIRSEQ_UPGRADE.search(text) is not None


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


def _lightgbm_file(said: re.Match[str] | None) -> Finding | None:
    """LightGBM's reader finding no model of its own format in the file."""
    if said is None:
        return None
    file = said.group(1)
    dump = file.lower().endswith(".json")
    return _unrelated(
        f"LightGBM finds no submodel line where its model format starts in {file}: "
        + (
            "a .json file is what dump_model() writes, a description LightGBM cannot load"
            if dump
            else "the file is not a LightGBM model (another library's, or another export)"
        ),
        {"file": file, "library": "lightgbm"},
        "save the booster with save_model() (its text format) and load that file",
    )


def _kaldi_token(said: re.Match[str] | None) -> Finding | None:
    """A Kaldi reader meeting a token where its layout writes an integer."""
    if said is None or int(said.group(1)) != KALDI_TOKEN_START:
        return None
    return _unrelated(
        "the Kaldi reader expected an integer and met a token ('<' where the size byte "
        f"{said.group(2)} belongs): the file lays its fields out otherwise, another model "
        "type than the program reads (an nnet2 or nnet3 model given to an nnet1 tool)",
        {"got": int(said.group(1)), "expected": int(said.group(2)), "library": "kaldi"},
        "use the tool of the model's own type (nnet-am-info for nnet2 .mdl files, "
        "nnet3-info for nnet3)",
    )


ONNX_FILE_ABSENT = re.compile(
    r"Could\s+not\s+locate\s+file:?\s+['\"]?https?://[\w.\-]+/([\w.\-]+/[\w.\-]+)/resolve/"
    r"[^/\s'\"]+/onnx/[\w.\-]+\.onnx"
)
"""transformers.js looking for a repository's ONNX export, under ``onnx/``."""
CONVERTED_REPOSITORY = re.compile(r"onnx|xenova|transformers[\w.\-]*js", re.I)
"""Words of a repository that holds ONNX exports for transformers.js."""


def unconverted_repo(ctx: Context) -> None:
    """Report transformers.js finding no ONNX export in a repository named for the original.

    transformers.js runs only ONNX files, which it reads from ``onnx/`` (the layout its
    conversion script writes); a model's original repository holds the PyTorch or
    safetensors checkpoint, none of them. A repository of exports (``Xenova/``,
    ``onnx-community/``) lacking one file is another matter: a variant not exported.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    said = ONNX_FILE_ABSENT.search(facts.text)
    if said is None or CONVERTED_REPOSITORY.search(said.group(1)):
        return
    repository = said.group(1)
    ctx.add(
        _unrelated(
            f"transformers.js found no ONNX export in {repository}: it runs only ONNX files "
            "(under onnx/), and a model's original repository holds its PyTorch or "
            "safetensors checkpoint instead",
            {"repository": repository, "library": "transformers.js"},
            "use a repository of the model's ONNX export (onnx-community/, Xenova/), or "
            "convert it with transformers.js' scripts/convert.py",
        )
    )


DISCRIMINATOR_FILE = re.compile(r"(?<![\w.])D_\d+\.pth\b")
"""A discriminator's training checkpoint as VITS and its descendants (so-vits-svc, RVC,
Bert-VITS2) save it, ``D_<step>.pth`` beside the generator's ``G_<step>.pth``."""
GENERATOR_FILE = re.compile(r"(?<![\w.])G_\d+\.pth\b")
BACKBONE_FILE = re.compile(
    r"(?<![\w.\-])((?:vgg|resnet|resnext|wide_resnet|densenet|mobilenet|efficientnet|inception|"
    r"darknet)[\w]*?(?:[_\-](?:reducedfc|imagenet|pretrained|caffe|[0-9a-f]{8}))*"
    r"\.(?:pth\.tar|pth|pt|pkl|t7))\b",
    re.I,
)
"""A file named for a bare ImageNet backbone (``vgg16_reducedfc.pth``, ``resnet50.pth.tar``,
torchvision's ``resnet101-5d3b4d8f.pth``): the pretrained weights a detector or segmenter is
initialised from, not what it saves."""
BACKBONE_WORD = re.compile(r"vgg|resnet|resnext|densenet|mobilenet|efficientnet|inception|darknet")
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
    r"^[ \t>]*\(?\s*\w+(?:\s*,\s*\w+)+\s*,?\s*\)?\s*=\s*(?:[\w.]+\.)?load\w*\(", re.M
)
"""Code unpacking what a ``load`` call returns into several names (``(model_params,
first_iter) = torch.load(checkpoint)``)."""
UNPACK_FAILED = re.compile(
    r"(?:too\s+many|not\s+enough)\s+values\s+to\s+unpack|'(\w+)'\s+object\s+is\s+not\s+"
    r"iterable|cannot\s+unpack\s+non-iterable\s+(\w+)\s+object"
)
"""Python refusing to unpack a value into the names given."""


def unpacked_load(ctx: Context) -> None:
    """Report code unpacking a loaded file into the values its own saves hold, and failing.

    A script that saves a tuple (``(model_params, iteration)``, ``(G, D, g_ema)``) reads its
    files back by unpacking them; a file holding one object, or another number of entries,
    is not one of those saves.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    unpacked, failed = UNPACKED_LOAD.search(facts.text), UNPACK_FAILED.search(facts.text)
    if unpacked is None or failed is None or failed.start() < unpacked.start():
        return
    code = unpacked.group(0).strip(" \t>")
    held = failed.group(1) or failed.group(2)
    ctx.add(
        _unrelated(
            f"the code unpacks what it loads ({code}…) into the values its own saves hold, "
            "and the file holds "
            + (f"a single {held} object" if held else "another number of them")
            + ": another kind of file than this code saves (a bare model or state dict, "
            "another script's checkpoint)",
            {"code": code, "held": held or ""},
            "load the file as what it holds (weightfit inspect FILE), or give the code a "
            "file its own save wrote",
        )
    )


ALBERT_EMBEDDING = 128
"""The width of every released ALBERT's token embeddings (``embedding_size``), factorized
below its hidden width (768 to 4096); BERT's tables are as wide as its hidden layers."""
HIDDEN_WIDTHS = frozenset({768, 1024, 2048, 4096})
"""The hidden widths of ALBERT's and BERT's released sizes."""
TOKEN_TABLE = re.compile(r"(?:^|[./])(?:word_embeddings|embed_tokens|tok_embeddings|wte)(?:[./]|$)")
"""The token embedding table, in PyTorch's and TensorFlow's spellings."""


def factorized_embedding(ctx: Context) -> None:
    """Report a token table of ALBERT's factorized width against a hidden width: another model.

    Same rows (one vocabulary), and one side 128 wide where the other is 768 to 4096: ALBERT
    factorizes its embeddings (a 128-wide table, projected up to the hidden width), BERT does
    not. The code builds one architecture and the file holds the other. Quantized storage
    (8 values a word would also make 1024 into 128) is left to its rules.
    """
    facts = text_facts(ctx)
    if facts is None or facts.quantization:
        return
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if TOKEN_TABLE.search(pair.target) is None or len(have) != 2 or len(want) != 2:
            continue
        widths = {have[1], want[1]}
        if have[0] != want[0] or ALBERT_EMBEDDING not in widths or not widths & HIDDEN_WIDTHS:
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
