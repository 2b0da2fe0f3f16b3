"""A library's own model builder given the weights published for it.

``keras.applications.EfficientNetB7(weights="imagenet")`` builds the network and downloads
the weights Keras publishes for exactly that builder: no file of the user's comes between.
When such a load reports a tensor of another shape, and the arguments the text shows do
not ask for another shape themselves (``classes`` with the top kept, an ``input_shape`` of
other than three channels), the builder and its weights come from releases that disagree:
a regression of the installed release, or weights cached by another one.

``AutoModelForDepthEstimation.from_pretrained("org/repo")`` is the same case one level up:
the model is built from the repository's own ``config.json`` and filled with the weights
beside it, which that config describes. A tensor of another shape there means the installed
library builds that config otherwise than the release that saved it (an older one ignoring
a setting it does not know, and building its default instead).
"""

from __future__ import annotations

import re

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

APPLICATION_CALL = re.compile(
    r"\bkeras\.applications(?:\.\w+)*\.(?P<builder>[A-Z]\w+)\((?P<args>[^()]*(?:\([^()]*\)[^()]*)*)\)"
)
"""A Keras application built by its full name, with its arguments (one level of tuples)."""
OWN_WEIGHTS = re.compile(r"\bweights\s*=\s*['\"]imagenet['\"]")
"""The weights the library publishes for its applications, downloaded by the builder."""
CLASSES = re.compile(r"\bclasses\s*=\s*(\d+)")
TOP_DROPPED = re.compile(r"\binclude_top\s*=\s*False\b")
INPUT_SHAPE = re.compile(r"\binput_shape\s*=\s*[(\[]\s*([^()\[\]]*)[)\]]")
OWN_FILE_LOAD = re.compile(r"\.load_weights\(|\bload_model\(|\bload_state_dict\(|\btorch\.load\(")
"""A file of the user's loaded in the same text: the mismatch may be that file's."""
IMAGENET_CLASSES = 1000

HUB_LOAD = re.compile(
    r"\b(?P<cls>[A-Z]\w+)\.from_pretrained\(\s*(?P<q>[\"'])(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)"
    r"(?P=q)\s*(?P<kwargs>(?:,\s*\w+\s*=\s*[\w.\"'-]+\s*)*),?\s*\)"
)
"""A model loaded by a Hub repository id alone (keyword arguments that change nothing built)."""
CACHE_SNAPSHOT = re.compile(
    r"models--(?P<org>[\w.-]+?)--(?P<name>[\w.-]+)[\\/]+snapshots[\\/]+[0-9a-f]{7,40}\b"
)
"""A folder of huggingface_hub's cache: one revision of one repository, as published."""
DIFFUSERS_REFUSAL = re.compile(
    r"Cannot\s+load\s+(?P<path>\S+)\s+because\s+[\w.]+\s+expected\s+shape"
)
"""diffusers refusing a folder's weights for the model its config built on ``meta``."""
QUOTED_LOAD = re.compile(r"\.from_pretrained\(\s*[\"']")
"""Any load given its path or id as a literal (a library's own frames pass a variable)."""
NEUTRAL_KWARGS = frozenset(
    {
        "torch_dtype",
        "dtype",
        "device_map",
        "revision",
        "cache_dir",
        "token",
        "use_safetensors",
        "low_cpu_mem_usage",
        "local_files_only",
        "force_download",
        "attn_implementation",
    }
)
"""Arguments of ``from_pretrained`` that choose where and how, never which shapes are built."""
LOCAL_FOLDERS = frozenset(
    {
        "model",
        "models",
        "checkpoint",
        "checkpoints",
        "ckpt",
        "ckpts",
        "output",
        "outputs",
        "weights",
        "pretrained",
        "pretrained_models",
        "saved",
        "save",
        "data",
        "runs",
        "exp",
    }
)
"""First path segments that name a local folder, not a Hub owner (``model/chatglm2-6b``)."""


def application_weights(ctx: Context) -> None:
    """Report a library application refusing the weights the library publishes for it."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not ctx.partial:
        return
    pairs = ctx.mismatches()
    if not pairs:
        return
    call = APPLICATION_CALL.search(facts.text)
    if call is None or not OWN_WEIGHTS.search(call.group("args")):
        return
    if OWN_FILE_LOAD.search(facts.text):
        return
    if _asks_for_other_shapes(call.group("args")):
        return
    builder = call.group("builder")
    shown = _shown(ctx, pairs)
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"keras.applications.{builder} was given the weights Keras publishes for it "
                f"(weights='imagenet') and arguments that ask for no other shape, yet {shown}: "
                "the builder and its weights come from releases that disagree (a regression "
                "of the installed release, or weights cached by another one)"
            ),
            params=[p.source for p in pairs],
            evidence={"builder": builder, "library": "keras", "weights": "imagenet"},
            confidence=0.45,
            fix_note=(
                "install another Keras/TensorFlow release (the one before the installed one, "
                "or a fixed one), or clear the cached weights under ~/.keras/models so the "
                "installed release downloads its own"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _asks_for_other_shapes(args: str) -> bool:
    """Whether the builder's arguments themselves change a tensor the weights hold."""
    classes = CLASSES.search(args)
    if classes and int(classes.group(1)) != IMAGENET_CLASSES and not TOP_DROPPED.search(args):
        return True
    shape = INPUT_SHAPE.search(args)
    if shape is None:
        return False
    sizes = [s.strip() for s in shape.group(1).split(",") if s.strip()]
    return len(sizes) == 3 and "3" not in (sizes[0], sizes[-1])


def repository_config(ctx: Context) -> None:
    """Report a Hub repository's weights refused by the model its own config builds."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not ctx.partial:
        return
    pairs = ctx.mismatches()
    if not pairs or ctx.missing() or ctx.unexpected():
        return
    found = _repository(facts.text)
    if found is None:
        return
    loader, repo = found
    shown = _shown(ctx, pairs)
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{loader} builds the model from the Hub repository {repo}'s own config "
                f"and fills it with the weights beside it, yet {shown}: "
                "the installed library builds that config otherwise than the release that "
                "saved it (an older one ignores a setting it does not know and builds its "
                "default)"
            ),
            params=[p.source for p in pairs],
            evidence={"repository": repo, "loader": loader},
            confidence=0.45,
            fix_note=(
                "install the library release the repository's config records "
                "(transformers_version, _diffusers_version) or its model card asks for"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _repository(text: str) -> tuple[str, str] | None:
    """The one Hub repository whose own config and weights the text loads, and how."""
    loads = list(HUB_LOAD.finditer(text))
    quoted = len(QUOTED_LOAD.findall(text))
    if loads:
        if len({load.group("repo") for load in loads}) != 1 or quoted != len(loads):
            return None  # two repositories, or another load by a quoted path or arguments
        load = loads[0]
        repo = load.group("repo")
        kwargs = set(re.findall(r"(\w+)\s*=", load.group("kwargs")))
        if repo.split("/")[0].lower() in LOCAL_FOLDERS or not kwargs <= NEUTRAL_KWARGS:
            return None
        return f"{load.group('cls')}.from_pretrained('{repo}')", repo
    snapshots = {f"{m.group('org')}/{m.group('name')}" for m in CACHE_SNAPSHOT.finditer(text)}
    refused = DIFFUSERS_REFUSAL.search(text)
    if quoted or len(snapshots) != 1 or refused is None:
        return None
    if CACHE_SNAPSHOT.search(refused.group("path")) is None:
        return None  # the folder refused is not the cached repository's
    return "diffusers' from_pretrained of the cached repository folder", snapshots.pop()


def _shown(ctx: Context, pairs: list[Pair]) -> str:
    """The first few refused tensors, each with its saved and built shape."""
    return ", ".join(
        f"{p.target} {shape_text(ctx.src(p).shape)} saved, {shape_text(ctx.tgt(p).shape)} built"
        for p in pairs[:3]
    )
