"""The files a text says a loader looked for and did not find as it expected.

Shard indexes and pieces, precision variants, weights files not where the loader looks,
folders of another kind. What a text says of a file's own format is
:mod:`weightfit.diagnose.text_files`' and :mod:`weightfit.diagnose.text_broken`'.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.diagnose.text_names import OUTPUT_HEADS
from weightfit.findings import Category, Finding


def many_indexes(ctx: Context) -> None:
    """Report a folder holding two shard indexes (safetensors and .bin): two weight sets."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.indexes or ctx.findings:
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                "the folder holds more than one shard index ("
                + ", ".join(facts.indexes[:3])
                + "): two weight sets side by side, and the loader cannot choose"
            ),
            evidence={"indexes": facts.indexes},
            confidence=0.85,
            fix_note=(
                "keep one weight set (move the other format's shards and index away); "
                "weightfit lint MODEL_FOLDER shows which files each loader reads"
            ),
        )
    )


SHARD_FILE = re.compile(
    r"-\d{5}-of-\d{5}\.|\.index\.json|zero_to_fp32|mp_rank_\d+|zero_pp_rank|"
    r"global_step\d+|__\d+_\d+\.distcp|optim_states|consolidated\.\d+\.pth|"
    r"SHARDED_STATE_DICT|ShardedTensor|\bweight_map\b|\bzero_?3\b|stage\s*3\b|"
    r"\bshards?\b|\bincomplete\b|[/\\]\.metadata\b|referenced\s+in\s+(?:the\s+)?index|"
    r"invalid\s+split\s+file|\.data-\d{5}-of-\d{5}\b|checkpoint\s+files\s+\S+\.index\b|"
    r"latest_checkpointed_iteration\.txt|latest_universal\b|\blatest['\"`]?\s+file\b|"
    r"\bis\s+not\s+a\s+distributed\s+checkpoint\b|\bShardedObjects?\b",
    re.I,
)
"""Files of a sharded or distributed save (shards, indexes, DeepSpeed / DCP pieces, the
``.metadata`` file of a torch.distributed.checkpoint folder, a piece of a split GGUF that
llama.cpp refuses, a TensorFlow checkpoint's ``.data-00000-of-00001`` or ``.index`` piece
where readers take the prefix, the file naming a distributed save's newest step:
DeepSpeed's ``latest``, Megatron's ``latest_checkpointed_iteration.txt``)."""

SHARD_PIECE = re.compile(r"-\d{5}-of-\d{5}\.|__\d+_\d+\.distcp$|mp_rank_\d+|zero_pp_rank")
"""A file name that is one numbered piece of a sharded or distributed save."""

NAME_CHARS = re.compile(r"[\w\-.]*")
"""The characters of a file name around a match inside it."""


def _whole_name(text: str, found: re.Match[str]) -> str:
    """The whole file name a match lies in, without a path separator it begins with.

    ``model-00002-of-00010.safetensors`` for its ``-00002-of-00010.``.
    """
    start = found.start()
    if text[start] in "/\\":
        start += 1  # a match that begins at a separator begins the name
    else:
        while start > 0 and NAME_CHARS.fullmatch(text[start - 1]):
            start -= 1
    tail = NAME_CHARS.match(text, found.end())
    end = tail.end() if tail else found.end()
    return text[start:end].rstrip(".") or found.group(0)


PROGRESS_BAR = re.compile(r":[^\S\n]*\d+%\|[^\n|]*\|[^\S\n]*(\d+)/(\d+)\b[^\n]*")
"""A tqdm progress bar as a log keeps it, after its description: ``Writing model shards``
``: 100%|██| 3/3 [00:00<…]``."""


def shards_named(text: str) -> re.Match[str] | None:
    """Where a text speaks of the pieces of a sharded or distributed save (:data:`SHARD_FILE`).

    A progress bar that ran to its total (``Loading checkpoint shards: 100%| | 2/2``, its
    earlier draws too) counted every piece through: it is no piece missing or unread.
    """
    bars = [(_bar_name(text, bar.start()), bar) for bar in PROGRESS_BAR.finditer(text)]
    done = {name for (name, _), bar in bars if bar.group(1) == bar.group(2)}
    for (name, start), bar in reversed(bars):
        if name in done:
            text = text[:start] + text[bar.end() :]
    return SHARD_FILE.search(text)


def _bar_name(text: str, end: int) -> tuple[str, int]:
    """A progress bar's name, the last words of its description, and where it begins.

    ``Loading checkpoint shards``: a log line before it may have run on into it.
    """
    line = text.rfind("\n", 0, end) + 1
    words = list(re.finditer(r"[A-Za-z]\w*", text[line:end]))[-3:]
    start = line + words[0].start() if words else end
    return " ".join(word.group(0) for word in words), start


NO_WEIGHTS_FILE = re.compile(
    r"no\s+file\s+named\s+[\w.\-]+\.(?:bin|safetensors|pt|pth|ckpt|h5|msgpack)\b|"
    r"Can't\s+find\s+a\s+valid\s+checkpoint\s+at\b|"
    r"does\s+not\s+have\s+(?:any\s+)?(?:safetensors|\.bin|pytorch_model)\s+(?:weight\s+)?files?|"
    # Quantized-model loaders finding no weights in the folder they were given (optimum-quanto,
    # compressed-tensors, HQQ).
    r"No\s+safetensors?\s+weights\s+found\s+in|Could\s+not\s+locate\s+safetensors\s+weight|"
    r"\bWeight\s+file\s+missing\b|"
    # AutoGPTQ's ``from_quantized`` finding no file of the one base name it reads, and
    # text-generation-webui's GPTQ loader finding no single quantized file.
    r"Please\s+specify\s+the\s+argument\s+model_basename|"
    r"Could\s+not\s+find\s+the\s+quantized\s+model\s+in\s+\.pt\s+or\s+\.safetensors",
    re.I,
)
"""A loader that found no single weights file in a folder: sharded pieces it does not read,
or a download that left the weights out (transformers' ``Trainer`` resuming from a folder
without its weights says "Can't find a valid checkpoint at"; a downloader that knows one
``model.safetensors`` says a sharded repository "does not have SafeTensors files")."""

VARIANT_FILE = re.compile(
    r"[\w\-]+\.(?:fp16|bf16|fp32|non_ema|ema)\.(?:safetensors|bin)|"
    r"\bvariant\s*[=:]\s*['\"]?(?:fp16|bf16|fp32)\b|\b(?:fp16|bf16)\s+variant\b|"
    r"revision\s*=\s*['\"]fp16['\"]",
    re.I,
)
"""A weight file labelled with a precision (or EMA) variant."""

LOOKED_FOR = re.compile(r"does\s+not\s+appear\s+to\s+have\s+a\s+file\s+named\s+([^\n]+)")
"""transformers listing the weight file names it looks for in a folder or repository."""


def files_named(ctx: Context) -> None:
    """Report a loading error about the files of a save: shards, variants, formats looked for.

    The pieces of a sharded save, a precision-variant file, a weights file that does not
    exist where the loader looks (a TensorFlow prefix given as a bare name: the working
    directory's matter), or a transformers release that looks for no safetensors file at all.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    looked_for = LOOKED_FOR.search(facts.text)
    names = looked_for.group(1).strip(" .") if looked_for else ""
    if "pytorch_model.bin" in names and "safetensors" not in names:
        _report_before_safetensors(ctx, names)
        return
    variant = VARIANT_FILE.search(facts.text)
    shards = shards_named(facts.text) or NO_WEIGHTS_FILE.search(facts.text)
    if variant is None and facts.absent_file and _non_ascii_path(facts.text, facts.absent_file):
        _report_non_ascii_path(ctx, facts.absent_file)
        return
    if variant is None and _bare_prefix(facts.text, facts.absent_file):
        ctx.add(_bare_prefix_finding(facts.absent_file))
        return
    if variant is None and facts.absent_file and SHARD_PIECE.search(facts.absent_file):
        category: Category = "partitioned"
        file = facts.absent_file
        message = (
            f"{file}, one piece of a sharded save, is not in the folder its index (a DCP "
            "folder's .metadata) places it in: a shard deleted or never downloaded, a "
            "download that stopped (a Hub cache keeps it as blobs/<hash>.incomplete), or an "
            "index from another save"
        )
        note = (
            "download the missing shard again; weightfit check FOLDER lists every file "
            "the index names that is not there"
        )
    elif variant is None and facts.absent_file:
        category = "partitioned"
        file = facts.absent_file
        message = (
            f"the weights the loader looks for at {file} are not there (no such file, or a "
            "folder without its files): never downloaded, a download that failed or was "
            "cleaned away, or saved elsewhere"
        )
        note = "download the weights file to the path the loader reads (or point it there)"
    elif variant is not None:
        category = "dtype_variant"
        file = variant.group(0)
        message = (
            f"the error is about the precision-variant file {variant.group(0)}: the folder "
            "holds another variant (or none), or a loader version reads variants differently"
        )
        note = "pass the variant the folder has (variant=...), or weightfit lint MODEL_FOLDER"
    elif shards is not None and not _tied_head_alone(ctx):
        category = "partitioned"
        file = _whole_name(facts.text, shards)
        message = (
            f"the error is about the pieces of a sharded or distributed save "
            f"({file}): a shard missing, an index naming other files, or "
            "partitions never consolidated"
        )
        note = "check every shard the index names is present, or consolidate the save first"
    else:
        return
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=message,
            evidence={"file": file},
            confidence=0.5,
            fix_note=note,
        )
    )


TF_NO_MATCH = re.compile(
    r"Failed\s+to\s+find\s+any\s+matching\s+files\s+for\s+([\w\-.]+)(?=[\s'\"]|$)"
)
"""TensorFlow's checkpoint reader finding no file whose name starts with the prefix it was
given, the prefix a bare name (no directory part)."""


def _bare_prefix(text: str, file: str) -> bool:
    """Whether TensorFlow matched no file at all for a checkpoint prefix given as a bare name."""
    said = TF_NO_MATCH.search(text)
    return said is not None and said.group(1) == file


def _bare_prefix_finding(prefix: str) -> Finding:
    """``unknown``: a bare checkpoint prefix resolved against the working directory.

    TensorFlow reads a checkpoint by its prefix (``model.ckpt`` for ``model.ckpt.index`` and
    its ``.data-*`` pieces) and globs for it; a bare name is looked up in the directory the
    program runs from. No file there starts with it: the files sit in another directory
    (unpacked into the model folder, the program started elsewhere), and TensorFlow 1's early
    releases failed on bare names even beside the files. A path matter, not a partial save.
    """
    return Finding(
        category="unknown",
        severity="error",
        message=(
            f"TensorFlow found no file at all starting with the checkpoint prefix {prefix}, "
            "given as a bare name: it is looked up in the working directory, and the "
            "checkpoint's files are elsewhere (or the release fails on a bare name)"
        ),
        evidence={"prefix": prefix},
        confidence=0.45,
        fix_note=(
            f"give the prefix with its directory (./{prefix}, or the folder the .index and "
            ".data files are in, then the prefix), or run from the folder that holds them"
        ),
    )


def _tied_head_alone(ctx: Context) -> bool:
    """Whether the one tensor missing is an output head models tie to their embedding.

    An index lists every tensor its shards hold; a tied head is in none of them, so its
    absence is no shard's (``untied_head`` reads it).
    """
    missing = ctx.missing()
    return len(missing) == 1 and OUTPUT_HEADS.search(missing[0]) is not None


NATIVE_OPEN = re.compile(r"\bfopen\b|errno\s*=?\s*2\b|\bjit\.load\b|onnxruntime|InferenceSession")
"""A native (C or C++) reader opening a file: ``fopen``, TorchScript's loader, ONNX Runtime."""


def _non_ascii_path(text: str, file: str) -> bool:
    """Whether a native reader failed on a path with non-ASCII characters before ``file``."""
    if NATIVE_OPEN.search(text) is None:
        return False
    return any(
        not line[max(line.find(file) - 160, 0) : line.find(file)].isascii()
        for line in text.splitlines()
        if file in line
    )


def _report_non_ascii_path(ctx: Context, file: str) -> None:
    """Report a native reader that cannot open a path with non-ASCII characters."""
    ctx.add(
        Finding(
            category="unknown",
            severity="error",
            message=(
                f"a native reader found no file at the path of {file}, and the path holds "
                "non-ASCII characters (a user or folder name): C and C++ readers on Windows "
                "(fopen, torch.jit.load, ONNX Runtime) often cannot open such paths, so the "
                "file may well be there"
            ),
            evidence={"file": file},
            confidence=0.45,
            fix_note=(
                "check the file is there; if it is, move it (or the cache: TORCH_HOME, "
                "HF_HOME) to a path of ASCII characters only"
            ),
        )
    )


def foreign_folder(ctx: Context) -> None:
    """Report a folder of another kind than the loader reads, named for what it holds.

    A repository named for an adapter without ``config.json`` (an adapter loaded as a whole
    model); a Whisper model's own folder without CTranslate2's ``model.bin`` (the transformers
    checkpoint given to faster-whisper). The name says more than any word of the log around.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    adapter = ADAPTER_REPOSITORY.search(facts.text)
    unconverted = UNCONVERTED_FOLDER.search(facts.text)
    if adapter is not None:
        _report_adapter_as_model(ctx, adapter.group(1))
    elif unconverted is not None and CONVERTED_NAME.search(unconverted.group(1)) is None:
        _report_unconverted(ctx, unconverted.group(1))


ADAPTER_REPOSITORY = re.compile(
    r"([\w.\-/]*?(?:(?<![a-z])q?lora|adapter|peft)[\w.\-/]*)\s+does\s+not\s+appear\s+to\s+have\s+a\s+"
    r"file\s+named\s+config\.json",
    re.I,
)
"""A repository or folder named for an adapter (``firefly-bloom-7b1-qlora-sft``) in which
transformers finds no ``config.json``: it holds an adapter, not a whole model."""

UNCONVERTED_FOLDER = re.compile(
    r"Unable\s+to\s+open\s+file\s+'model\.bin'\s+in\s+model\s+'?([^'\n]*whisper[^'\n]*)'?", re.I
)
"""CTranslate2 (faster-whisper) finding no ``model.bin`` in a folder named for a Whisper model."""

CONVERTED_NAME = re.compile(r"faster|ct2|ctranslate", re.I)
"""Words of a CTranslate2 conversion's name (``faster-whisper-base``, ``whisper-ct2``)."""


def _report_unconverted(ctx: Context, folder: str) -> None:
    """Report a model's own checkpoint given to CTranslate2, which reads only its conversions."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"CTranslate2 found no model.bin in {folder}, a folder named for the original "
                "model: it holds the transformers checkpoint (safetensors), while CTranslate2 "
                "runtimes (faster-whisper) read only their own converted model.bin"
            ),
            evidence={"folder": folder},
            confidence=0.5,
            fix_note=(
                "use the model's CTranslate2 conversion (a faster-whisper repository), or "
                "convert it: ct2-transformers-converter --model FOLDER --output_dir OUT"
            ),
        )
    )


def _report_adapter_as_model(ctx: Context, repository: str) -> None:
    """Report an adapter's repository loaded as a whole model."""
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"{repository} has no config.json and is named for an adapter: it holds adapter "
                "(LoRA) weights for a base model, not a whole model to load on its own"
            ),
            evidence={"repository": repository},
            confidence=0.5,
            fix_note=(
                "load the base model it was trained on, then the adapter on top of it "
                "(PeftModel.from_pretrained(base, repository)), or merge them first"
            ),
        )
    )


def _report_before_safetensors(ctx: Context, names: str) -> None:
    """Report a transformers release that looks for no safetensors file at all."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"transformers looked only for {names}: a release from before it read "
                "safetensors, while the repository (like most since 2023) ships model.safetensors"
            ),
            evidence={"looked_for": names},
            confidence=0.6,
            fix_note="upgrade transformers (safetensors support came in 2022's 4.2x releases)",
        )
    )
