"""Which files each loader fetches and reads for a ``variant``, rule set by rule set.

The loaders decide from file *names* alone, so this module works on names: it
replays the libraries' own rules, regular expressions and quirks included, over
a folder listing. :mod:`weightfit.weightsets` then tells which weight sets those
files belong to, so a report can say "fetches two copies of the transformer".

Three rule sets, each pinned to the source it reproduces:

``diffusers<=0.32``
    diffusers v0.32.2 ``pipelines/pipeline_loading_utils.py``:
    ``variant_compatible_siblings`` decides *file by file* whether a non-variant
    file has a variant twin (``convert_to_variant``: ``name-00001-of-00002`` ->
    ``name.<v>-00001-of-00002``, ``index`` -> ``index.<v>``); a non-variant
    file without an exact twin is downloaded too unless the folder has a sharded
    variant index. ``_get_ignore_patterns`` then drops ``*.bin``/``*.msgpack``
    (``*.onnx``/``*.pb``) when every model folder has a ``.safetensors`` file.
``diffusers>=0.33``
    diffusers v0.33.0 (PR #10646, same code in 0.42.1): per component folder, if
    any variant file exists (current names first, else legacy
    ``*-00001-of-00002.<v>.*``) only the variant files and their index are used,
    else the non-variant ones; ignore patterns are computed first (variant-aware
    ``is_safetensors_compatible``, v0.34.0 PR #11587). A variant no folder has is
    a ``ValueError``.
``transformers``
    transformers 5.x ``modeling_utils._get_resolved_checkpoint_files`` for a
    local folder: ``model.<v>.safetensors``, then ``model.safetensors.index.<v>.json``,
    then ``pytorch_model.<v>.bin``, then ``pytorch_model.bin.index.<v>.json``.
    A single file wins over an index. There are no legacy variant names.

For every version, once files are on disk, a diffusers pipeline gives a
component the variant only if one of its files has a second dot-field starting
with it (``_identify_model_variants``); a diffusers model (``ModelMixin``) reads
``diffusion_pytorch_model.safetensors.index.<v>.json``, then the legacy
``...safetensors.<v>.index.json``, then the single file
``diffusion_pytorch_model.<v>.safetensors``, then ``.bin`` (``modeling_utils.py``,
``model_loading_utils._fetch_index_file``); a non-variant index is never used
for a variant. transformers components of a pipeline load by transformers' rules.

Variant labels are put into the patterns unescaped, as diffusers does.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

OLD = "diffusers<=0.32"
NEW = "diffusers>=0.33"
TRANSFORMERS = "transformers"
RULE_SETS: tuple[str, ...] = (OLD, NEW, TRANSFORMERS)
"""Every rule set, oldest diffusers first."""

_SHARD_FORMAT = r"\d{5}-of-\d{5}"
# diffusers `weight_names` (+ transformers' when installed): WEIGHTS_NAME,
# SAFETENSORS_WEIGHTS_NAME, ONNX_WEIGHTS_NAME, ONNX_EXTERNAL_WEIGHTS_NAME,
# TRANSFORMERS_WEIGHTS_NAME, TRANSFORMERS_SAFE_WEIGHTS_NAME; v0.32 adds the Flax names.
_NAMES_NEW = (
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.safetensors",
    "model.onnx",
    "weights.pb",
    "pytorch_model.bin",
    "model.safetensors",
)
_NAMES_OLD = (*_NAMES_NEW, "diffusion_flax_model.msgpack", "flax_model.msgpack")
# `filter_model_files` extensions (v0.42.1 adds FLASHPACK_WEIGHTS_NAME "model.flashpack").
_MODEL_FILE_EXTENSIONS = ("bin", "safetensors", "onnx", "pb", "flashpack")

DIFFUSERS_PREFIX = "diffusion_pytorch_model"
TRANSFORMERS_PREFIX = "model"
TRANSFORMERS_PICKLE_PREFIX = "pytorch_model"

IndexReader = Callable[[str], "IndexShards"]
"""Reads an index (path relative to the root) and returns its shard names."""


@dataclass(frozen=True)
class IndexShards:
    """What a loader takes from a shard index.

    Attributes:
        shards: ``sorted(set(weight_map.values()))``, as both libraries compute it.
        has_metadata: Whether the JSON has a ``metadata`` key (diffusers needs one).
        error: Why the index cannot be used at all (not JSON, no ``weight_map``).

    """

    shards: tuple[str, ...] = ()
    has_metadata: bool = True
    error: str | None = None


@dataclass(frozen=True)
class Resolution:
    """What one rule set does with one folder for one variant.

    Attributes:
        rules: The rule set (``"diffusers<=0.32"``, ``"diffusers>=0.33"``, ``"transformers"``).
        variant: The variant asked for, ``None`` for none.
        component: Folder relative to the linted root (``"transformer"``; ``""`` the root).
        fetched: Weight and index files a download from a hub repository with this
            layout fetches for the folder (relative to the root, sorted).
        loaded: Files the model loader then reads (index first, then shards).
        variant_used: The variant the folder's model is loaded with (a pipeline
            drops it for a folder without variant files).
        error: The loader's failure, in its words, or ``None`` when it loads.
        warnings: Warnings the loader logs (mixture, deprecated names).

    """

    rules: str
    variant: str | None
    component: str
    fetched: tuple[str, ...]
    loaded: tuple[str, ...]
    variant_used: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def needless(self) -> tuple[str, ...]:
        """Files fetched but never read."""
        loaded = set(self.loaded)
        return tuple(f for f in self.fetched if f not in loaded)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        return {
            "rules": self.rules,
            "variant": self.variant,
            "component": self.component,
            "fetched": list(self.fetched),
            "loaded": list(self.loaded),
            "needless": list(self.needless),
            "variant_used": self.variant_used,
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass
class Listing:
    """The files of a linted root, as a hub would list them.

    Attributes:
        files: Every file, relative to the root with ``/`` separators.
        model_index: The pipeline's ``model_index.json``, ``None`` for a single model folder.
        component_libraries: Component folder to the library that loads it
            (``"diffusers"``, ``"transformers"``), from ``model_index.json``.

    """

    files: set[str]
    model_index: dict[str, object] | None = None
    component_libraries: dict[str, str] = field(default_factory=dict)


def resolve_pipeline(
    listing: Listing, variant: str | None, rules: str, read_index: IndexReader
) -> list[Resolution]:
    """Replay ``DiffusionPipeline.from_pretrained(repo, variant=...)`` for a pipeline root.

    Args:
        listing: The root's files and ``model_index.json``.
        variant: The variant asked for, or ``None``.
        rules: :data:`OLD` or :data:`NEW`.
        read_index: Reads an index file's shard names.

    Returns:
        One :class:`Resolution` per component folder that holds weight files.

    """
    model_index = listing.model_index or {}
    ignore_files = model_index.get("_ignore_files")
    filenames = set(listing.files) - set(ignore_files if isinstance(ignore_files, list) else [])
    folder_names = [k for k, v in model_index.items() if isinstance(v, list) and k != "_class_name"]
    components = sorted(
        {f.split("/")[0] for f in _model_files(filenames) if f.count("/") == 1} & set(folder_names)
    )
    error: str | None = None
    warnings: list[str] = []
    if rules == OLD:
        usable, variant_files = _siblings_old(filenames, variant)
        model_folders = {
            f.rpartition("/")[0] for f in usable if f.rpartition("/")[0] in folder_names
        }
        ignore = _ignore_patterns(_compatible_old(usable, model_folders))
        st_variant = {f for f in variant_files if f.endswith(".safetensors")}
        st_usable = {f for f in usable if f.endswith(".safetensors")}
        if st_variant and st_usable != st_variant:
            warnings.append(_mixture(variant, st_variant, st_usable - st_variant))
    else:
        model_folders = {f.rpartition("/")[0] for f in _model_files(filenames)} & set(folder_names)
        ignore = _ignore_patterns(_compatible_new(filenames, model_folders, variant))
        usable, variant_files = _siblings_new(filenames, variant, ignore)
        if variant_files and usable != variant_files:
            warnings.append(_mixture(variant, variant_files, usable - variant_files))
        if variant is not None and not variant_files:
            error = _NO_VARIANT_FILES.format(variant=variant)
    # pipeline_utils.download: "Don't download index files of forbidden patterns either".
    ignore_all = [
        re.compile(fnmatch.translate(p)) for p in (*ignore, *(f"{i}.index.*json" for i in ignore))
    ]
    fetched = {f for f in usable & filenames if not any(p.match(f) for p in ignore_all)}
    on_disk = fetched | {f for f in filenames if not _is_weight_or_index(f)}
    names_of = {
        c: {f.split("/", 1)[1] for f in on_disk if f.startswith(c + "/")} for c in components
    }
    used_of = {c: identify_model_variant(names_of[c], variant) for c in components}
    if error is None and variant is not None and not any(used_of.values()):
        # pipeline_utils.from_pretrained, after `_identify_model_variants`.
        error = _NO_VARIANT_MODELS.format(variant=variant)
    results = []
    for component in components:
        names, used = names_of[component], used_of[component]
        if error is not None:
            loaded: tuple[str, ...] = ()
            failure: str | None = error
        elif listing.component_libraries.get(component) == "transformers":
            loaded, failure = transformers_files(names, used, component, read_index)
        else:
            loaded, failure = diffusers_files(names, used, component, read_index)
        results.append(
            Resolution(
                rules=rules,
                variant=variant,
                component=component,
                fetched=tuple(sorted(f for f in fetched if f.startswith(component + "/"))),
                loaded=loaded,
                variant_used=used,
                error=failure,
                warnings=tuple(warnings),
            )
        )
    return results


def resolve_model(
    names: Iterable[str],
    variant: str | None,
    rules: str,
    folder: str,
    read_index: IndexReader,
) -> Resolution:
    """Replay one model's ``from_pretrained(folder, variant=...)``.

    A download of a single model fetches exactly the files it reads.

    Args:
        names: File names in the model folder.
        variant: The variant asked for, or ``None``.
        rules: :data:`TRANSFORMERS` for a transformers model; a diffusers rule set otherwise.
        folder: The folder relative to the linted root (``""`` for the root).
        read_index: Reads an index file's shard names.

    Returns:
        The :class:`Resolution`.

    """
    names = set(names)
    if rules == TRANSFORMERS:
        loaded, error = transformers_files(names, variant, folder, read_index)
    else:
        loaded, error = diffusers_files(names, variant, folder, read_index)
    return Resolution(rules, variant, folder, tuple(sorted(loaded)), loaded, variant, error)


def identify_model_variant(names: Iterable[str], variant: str | None) -> str | None:
    """The variant a pipeline passes to a component (``_identify_model_variants``).

    diffusers checks ``p.split(".")[1].startswith(variant)`` over every file in
    the folder, so ``config.json`` never counts and a name without a dot would
    raise ``IndexError`` there; such names are skipped here.
    """
    if variant is None:
        return None
    for name in names:
        parts = name.split(".")
        if len(parts) > 1 and parts[1].startswith(variant):
            return variant
    return None


def diffusers_files(
    names: set[str], variant: str | None, folder: str, read_index: IndexReader
) -> tuple[tuple[str, ...], str | None]:
    """Files ``ModelMixin.from_pretrained`` reads (``use_safetensors=None``).

    Returns:
        The files read (relative to the root) and the error it raises, if any.

    """
    index = _add_variant_diffusers(f"{DIFFUSERS_PREFIX}.safetensors.index.json", variant)
    if index not in names and variant is not None:
        legacy = f"{DIFFUSERS_PREFIX}.safetensors.{variant}.index.json"
        index = legacy if legacy in names else index
    if index in names:
        return _sharded(folder, index, names, read_index, needs_metadata=True)
    for weights in (f"{DIFFUSERS_PREFIX}.safetensors", f"{DIFFUSERS_PREFIX}.bin"):
        name = _add_variant_diffusers(weights, variant)
        if name in names:
            return (_join(folder, name),), None
    wanted = _add_variant_diffusers(f"{DIFFUSERS_PREFIX}.bin", variant)
    return (), f"Error no file named {wanted} found in directory {folder or '.'}."


def transformers_files(
    names: set[str], variant: str | None, folder: str, read_index: IndexReader
) -> tuple[tuple[str, ...], str | None]:
    """Files transformers' ``PreTrainedModel.from_pretrained`` reads from a local folder.

    Returns:
        The files read (relative to the root) and the error it raises, if any.

    """
    for candidate, sharded in (
        (f"{TRANSFORMERS_PREFIX}.safetensors", False),
        (f"{TRANSFORMERS_PREFIX}.safetensors.index.json", True),
        (f"{TRANSFORMERS_PICKLE_PREFIX}.bin", False),
        (f"{TRANSFORMERS_PICKLE_PREFIX}.bin.index.json", True),
    ):
        name = _add_variant_transformers(candidate, variant)
        if name in names:
            if sharded:
                return _sharded(folder, name, names, read_index, needs_metadata=False)
            return (_join(folder, name),), None
    single = _add_variant_transformers(f"{TRANSFORMERS_PREFIX}.safetensors", variant)
    pickle = _add_variant_transformers(f"{TRANSFORMERS_PICKLE_PREFIX}.bin", variant)
    return (), f"Error no file named {single}, or {pickle}, found in directory {folder or '.'}."


def _sharded(
    folder: str, index: str, names: set[str], read_index: IndexReader, *, needs_metadata: bool
) -> tuple[tuple[str, ...], str | None]:
    """An index and its shards, or why the loader fails on them."""
    data = read_index(_join(folder, index))
    if data.error is not None:
        return (_join(folder, index),), f"cannot read the checkpoint index {index}: {data.error}"
    if needs_metadata and not data.has_metadata:
        return (_join(folder, index),), f"KeyError: 'metadata' (the index {index} has no metadata)"
    for shard in data.shards:
        if "/" in shard or "\\" in shard or shard in (".", ".."):
            return (_join(folder, index),), (
                f"The shard filename {shard!r} in the checkpoint index contains a path separator"
            )
        if shard not in names:
            return (_join(folder, index),), (
                f"{folder or '.'} does not appear to have a file named {shard} which is "
                "required according to the checkpoint index."
            )
    return (_join(folder, index), *(_join(folder, s) for s in data.shards)), None


def _siblings_old(filenames: set[str], variant: str | None) -> tuple[set[str], set[str]]:
    """Diffusers v0.32.2 ``variant_compatible_siblings``: file-by-file twin matching."""
    prefixes, suffixes = _alternatives(_NAMES_OLD)
    non_variant_file = re.compile(rf"({prefixes})(-{_SHARD_FORMAT})?\.({suffixes})$")
    non_variant_index = re.compile(rf"({prefixes})\.({suffixes})\.index\.json")
    variant_filenames: set[str] = set()
    if variant is not None:
        variant_file = re.compile(
            rf"({prefixes})\.({variant}|{variant}-{_SHARD_FORMAT})\.({suffixes})$"
        )
        variant_index = re.compile(rf"({prefixes})\.({suffixes})\.index\.{variant}\.json$")
        variant_filenames = _match(filenames, variant_file) | _match(filenames, variant_index)
    non_variant = _match(filenames, non_variant_file) | _match(filenames, non_variant_index)
    usable = set(variant_filenames)

    def convert_to_variant(filename: str) -> str:
        if "index" in filename:
            return filename.replace("index", f"index.{variant}")
        if re.compile(f"^(.*?){_SHARD_FORMAT}").match(filename) is not None:
            return f"{filename.split('-')[0]}.{variant}-{'-'.join(filename.split('-')[1:])}"
        return f"{filename.split('.')[0]}.{variant}.{filename.split('.')[1]}"

    def has_sharded_variant(component: str | None) -> bool:
        where = component + "/" if component else ""
        pattern = re.compile(rf"{where}({prefixes})\.({suffixes})\.index\.{variant}\.json$")
        return any(pattern.match(f) is not None for f in variant_filenames)

    for filename in non_variant:
        if convert_to_variant(filename) in variant_filenames:
            continue
        component = filename.split("/")[0] if len(filename.split("/")) == 2 else None
        if has_sharded_variant(component):
            continue
        usable.add(filename)
    return usable, variant_filenames


def _siblings_new(
    filenames: set[str], variant: str | None, ignore_patterns: list[str]
) -> tuple[set[str], set[str]]:
    """Diffusers >= 0.33 ``variant_compatible_siblings``: one choice per component folder."""
    prefixes, suffixes = _alternatives(_NAMES_NEW)
    non_variant_file = re.compile(rf"({prefixes})(-{_SHARD_FORMAT})?\.({suffixes})$")
    non_variant_index = re.compile(rf"({prefixes})\.({suffixes})\.index\.json")
    components: dict[str, list[str]] = {}
    for filename in filenames:
        key = filename.split("/")[0] if len(filename.split("/")) == 2 else ""
        components.setdefault(key, []).append(filename)
    usable: set[str] = set()
    variant_filenames: set[str] = set()
    for names in components.values():
        # `filter_for_compatible_extensions`: endswith(pattern.lstrip("*.")), as written.
        kept = {f for f in names if not any(f.endswith(p.lstrip("*.")) for p in ignore_patterns)}
        chosen: set[str] = set()
        if variant is not None:
            variant_file = re.compile(
                rf"({prefixes})\.({variant}|{variant}-{_SHARD_FORMAT})\.({suffixes})$"
            )
            variant_index = re.compile(rf"({prefixes})\.({suffixes})\.index\.{variant}\.json$")
            legacy_file = re.compile(rf".*-{_SHARD_FORMAT}\.{variant}\.[a-z]+$")
            legacy_index = re.compile(rf"({prefixes})\.({suffixes})\.{variant}\.index\.json$")
            modern = _match(kept, variant_file)
            legacy = _match(kept, legacy_file)
            if modern:
                chosen = modern | _match(kept, variant_index)
            elif legacy:
                chosen = legacy | _match(kept, legacy_index)
        if chosen:
            variant_filenames |= chosen
        else:
            usable |= _match(kept, non_variant_file) | _match(kept, non_variant_index)
    usable |= variant_filenames
    return usable, variant_filenames


def _compatible_old(usable: set[str], folder_names: set[str]) -> bool:
    """Diffusers v0.32.2 ``is_safetensors_compatible`` over the usable files."""
    # v0.32.2 filters with `if folder_names is not None`: an empty set keeps nothing.
    files = {f for f in usable if f.rpartition("/")[0] in folder_names}
    components: dict[str, list[str]] = {}
    for f in files:
        if f.count("/") == 1:
            components.setdefault(f.split("/")[0], []).append(f)
    if not components:
        return any(".safetensors" in f for f in files)
    return all(any(f.endswith(".safetensors") for f in names) for names in components.values())


def _compatible_new(filenames: set[str], folder_names: set[str], variant: str | None) -> bool:
    """Diffusers >= 0.34 ``is_safetensors_compatible``: variant files first, per folder."""
    prefixes, suffixes = _alternatives(_NAMES_NEW)
    non_variant_file = re.compile(rf"({prefixes})(-{_SHARD_FORMAT})?\.({suffixes})$")
    variant_file = re.compile(
        rf"({prefixes})\.({variant}|{variant}-{_SHARD_FORMAT})\.({suffixes})$"
    )
    files = set(_model_files(filenames))
    if folder_names:
        files = {f for f in files if f.rpartition("/")[0] in folder_names}
    components: dict[str, list[str]] = {}
    for f in files:
        if f.count("/") == 1:
            components.setdefault(f.split("/")[0], []).append(f)
    if not components:
        chosen = _match(files, variant_file) if variant is not None else set()
        chosen = chosen or _match(files, non_variant_file)
        return any(".safetensors" in f for f in chosen)
    for names in components.values():
        chosen = _match(set(names), variant_file) if variant is not None else set()
        chosen = chosen or _match(set(names), non_variant_file)
        if not any(f.endswith(".safetensors") for f in chosen):
            return False
    return True


def _ignore_patterns(safetensors_compatible: bool) -> list[str]:
    """``_get_ignore_patterns`` for ``use_safetensors=None`` and no ONNX."""
    if safetensors_compatible:
        return ["*.bin", "*.msgpack", "*.onnx", "*.pb"]
    return ["*.safetensors", "*.msgpack", "*.onnx", "*.pb"]


_NO_VARIANT_FILES = (
    "You are trying to load model files of the `variant={variant}`, "
    "but no such modeling files are available."
)


_NO_VARIANT_MODELS = (
    "You are trying to load the model files of the `variant={variant}`, "
    "but no such modeling files are available."
)


def _mixture(variant: str | None, variant_files: set[str], others: set[str]) -> str:
    """The diffusers mixture warning, lists sorted (diffusers prints set order)."""
    return (
        f"A mixture of {variant} and non-{variant} filenames will be loaded. "
        f"Loaded {variant} filenames: [{', '.join(sorted(variant_files))}] "
        f"Loaded non-{variant} filenames: [{', '.join(sorted(others))}]"
    )


def _alternatives(weight_names: tuple[str, ...]) -> tuple[str, str]:
    """The prefix and suffix alternations diffusers builds from its weight names."""
    prefixes = "|".join(w.split(".")[0] for w in weight_names)
    suffixes = "|".join(w.split(".")[-1] for w in weight_names)
    return prefixes, suffixes


def _match(filenames: Iterable[str], pattern: re.Pattern[str]) -> set[str]:
    """``filter_with_regex``: ``pattern.match`` on the last path component."""
    return {f for f in filenames if pattern.match(f.split("/")[-1]) is not None}


def _model_files(filenames: Iterable[str]) -> list[str]:
    """``filter_model_files``: names ending in a weight extension."""
    return [f for f in filenames if any(f.endswith(e) for e in _MODEL_FILE_EXTENSIONS)]


def _is_weight_or_index(name: str) -> bool:
    """Whether a path is a weight file or an index (what the download filters)."""
    base = name.rsplit("/", 1)[-1]
    return base.endswith((".safetensors", ".bin", ".msgpack", ".onnx", ".pb", ".pt", ".pth")) or (
        "index" in base and base.endswith(".json")
    )


def _add_variant_diffusers(weights_name: str, variant: str | None) -> str:
    """Diffusers ``utils/hub_utils._add_variant``: the variant before the last extension."""
    if variant is None:
        return weights_name
    splits = weights_name.split(".")
    return ".".join([*splits[:-1], variant, splits[-1]])


def _add_variant_transformers(weights_name: str, variant: str | None) -> str:
    """Transformers ``modeling_utils._add_variant`` (same result for these names)."""
    if variant is None:
        return weights_name
    path, name = weights_name.rsplit(".", 1)
    return f"{path}.{variant}.{name}"


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def variants_in(names: Iterable[str], parse: Callable[[str], object]) -> list[str]:
    """Every variant label the weight files and indexes in ``names`` carry, sorted."""
    found = set()
    for name in names:
        parsed = parse(name)
        label = getattr(parsed, "variant", None)
        if isinstance(label, str):
            found.add(label)
    return sorted(found)
