"""Rules of the ``text`` profile over a path of another kind than the loader takes.

transformers and diffusers load a model from a folder (or Hub repository) holding a
``config.json`` beside the weights; runtimes built on them (vLLM, Aphrodite) do too unless
told a file's format. A folder that holds GGUF files is no such folder (``gguf_folder`` →
``unrelated``: point at the ``.gguf`` file, or pass ``gguf_file``), and a single checkpoint
file of the original release is not one either (``single_file_for_folder`` → ``rename``: the
file is in the original implementation's naming, and diffusers' converter writes the folder).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

GGUF_FOLDER = re.compile(
    r"([\w.\-/\\:~]*?(?<![a-z])gguf(?![a-z])[\w.\-/\\~]*)\s+does\s+not\s+appear\s+to\s+have\s+a\s+"
    r"file\s+named\s+config\.json",
    re.I,
)
"""transformers finding no ``config.json`` in a folder or repository named for GGUF files
(``…/hub/gguf/``, ``TheBloke/Llama-2-7B-GGUF``)."""
GGUF_FILE_NAMED = re.compile(r"\.gguf\b", re.I)
"""A ``.gguf`` file named in the path itself: then the file was given, not its folder."""


def gguf_folder(ctx: Context) -> None:
    """Report a folder of GGUF files loaded as a transformers model folder.

    GGUF files carry their config in their own header: a folder or repository of them has
    no ``config.json``, and a loader that reads a transformers folder fails looking for it.
    The path says what it holds; a path naming the ``.gguf`` file itself is another failure.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    folder = GGUF_FOLDER.search(facts.text)
    if folder is None or GGUF_FILE_NAMED.search(folder.group(1)):
        return
    path = folder.group(1)
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"{path} has no config.json and is named for GGUF files: it holds llama.cpp "
                "GGUF weights, whose config is in each file's own header, and was read as a "
                "transformers model folder"
            ),
            evidence={"folder": path, "format": "gguf"},
            confidence=0.45,
            fix_note=(
                "give the .gguf file itself (the first shard of a split file) to the runtime, "
                "or to transformers as from_pretrained(folder, gguf_file=NAME.gguf)"
            ),
        )
    )


SINGLE_FILE_FOR_FOLDER = re.compile(
    r"((?:[A-Za-z]:)?[\w.\-/\\~]*?[\w.\-]+\.(?:ckpt|safetensors|pth?|bin))\s+is\s+not\s+the\s+path\s+to\s+a\s+"
    r"directory\s+containing\s+a\s+(?:file\s+named\s+)?\w*\.?(?:json|bin)",
    re.I,
)
"""diffusers' (and transformers') ``… is not the path to a directory containing a
config.json file`` about a path that names one checkpoint file."""
OWN_FILE = re.compile(
    r"(?:^|[/\\])(?:diffusion_pytorch_model|pytorch_model|model|adapter_model)"
    r"(?:[.-][\w-]+)?\.(?:safetensors|bin)$"
)
"""The weight files diffusers and transformers write into their own folders: a path to one
is a folder's file given for its folder, no original-format checkpoint."""


def single_file_for_folder(ctx: Context) -> None:
    """Report a single original-format checkpoint given where a model folder is read.

    ``from_pretrained`` reads a folder (``config.json`` beside its weights) and was given one
    file, a ``.ckpt`` or a ``.safetensors`` not of a folder's own names: the original
    release's single-file checkpoint (Stable Diffusion's, its VAE's), in the original
    implementation's naming. A folder's own weight file given for the folder is left out.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    given = SINGLE_FILE_FOR_FOLDER.search(facts.text)
    if given is None:
        return
    path = given.group(1).strip()
    if OWN_FILE.search(path):
        return
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"{path} is a single checkpoint file where a model folder (config.json beside "
                "the weights) is read: a file of the original release, in the original "
                "implementation's naming, that the folder layout does not hold"
            ),
            evidence={"file": path},
            confidence=0.4,
            fix_note=(
                "convert it to the folder layout (diffusers' convert_original_stable_diffusion"
                "_to_diffusers.py / convert_vae_pt_to_diffusers.py), or load it with "
                "from_single_file"
            ),
        )
    )
