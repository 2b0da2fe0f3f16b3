"""The one registry of diagnosis rules: each rule declared once, as ``lint/registry.py``.

A :class:`Rule` names the function that runs it (``run(ctx)``, in one module of
this package), the categories of :mod:`weightfit.findings` it may emit, the
rules it must run after, and the profiles it belongs to:

==========  =================================================================
``check``   a whole checkpoint against a whole model (``check``, ``fix``)
``adapter`` a PEFT adapter against its base (``check_adapter``): a handful of
            tensors against a whole model, so the rules that read a model's
            overall shape from its pairs (``wrong_variant``, ``missing``)
            stay out
``text``    partial evidence from a pasted loading error (``explain``)
==========  =================================================================

Rules run in the order of :data:`REGISTRY`; ``after`` is checked against it
when this module loads. A rule consumes what it explains, so later rules and
the ``missing``/``unexpected`` leftovers never repeat a cause. The order, in
short: naming (a layout a library's own converter maps onto the target,
``prefix``, a library's saved layout, a split position table, ``rename``, what
the structural matcher inferred, fused groups, adapter tensors); storage that
changes every shape (``partitioned``, ``quantization``); another width, depth
or family (``wrong_variant``); geometry; what the model is fed; embeddings and
heads; benign notes (``extra_state`` before ``version``, so an EMA copy keeps its own
buffers); leftovers; then what is not about tensor pairs (a provenance stamp,
an adapter's tokenizer, what an error text settles).

Everything else is derived from here: ``diagnose.RULES``, each profile's rules,
and (kept equal by ``tests/test_diagnose_registry.py``) the ``Category``
literal, the schema's category enum and ``docs/json-schema.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from weightfit.diagnose import (
    adapters,
    attention_heads,
    autoencoder,
    benign,
    class_heads,
    conditioning,
    control_models,
    cross_widths,
    embeddings,
    experts,
    geometry,
    gguf_layout,
    inferred,
    input_features,
    layout,
    leftovers,
    library,
    partitioned,
    peft_layout,
    peft_types,
    peft_vocab,
    position,
    precision,
    prefix,
    provenance,
    quantization,
    rearranged,
    rename,
    requantized,
    shifted_pairs,
    structure,
    task_heads,
    text_bases,
    text_broken,
    text_builders,
    text_bundled,
    text_classes,
    text_config,
    text_converters,
    text_counts,
    text_file_lookups,
    text_files,
    text_fixes,
    text_fused,
    text_kinds,
    text_layouts,
    text_lookups,
    text_messages,
    text_names,
    text_nested,
    text_objects,
    text_packages,
    text_paths,
    text_ports,
    text_prefix,
    text_quant,
    text_renames,
    text_rows,
    text_runtimes,
    text_scopes,
    text_tensors,
    text_training,
    text_variants,
    text_vocab,
    tied,
    unknown,
    unrelated,
    variant,
    vocab_families,
)

if TYPE_CHECKING:
    from weightfit.diagnose._context import Context

Profile = Literal["check", "adapter", "text"]
PROFILES: tuple[Profile, ...] = ("check", "adapter", "text")

ALL: frozenset[Profile] = frozenset({"check", "adapter", "text"})
FILES: frozenset[Profile] = frozenset({"check", "text"})
TEXT: frozenset[Profile] = frozenset({"text"})
"""The default: every profile that compares a checkpoint with a model."""


@dataclass(frozen=True)
class Rule:
    """One diagnosis rule.

    Attributes:
        name: Stable name of the rule (not a category: one rule may emit several).
        run: The function, ``run(ctx)``: reads ``ctx``, adds findings, consumes
            what they explain.
        emits: The categories its findings may have (empty: it only prepares).
        after: Names of rules it must run after.
        profiles: Where it runs.
    """

    name: str
    run: Callable[[Context], None]
    emits: tuple[str, ...]
    after: tuple[str, ...] = ()
    profiles: frozenset[Profile] = FILES

    @property
    def module(self) -> str:
        """The module the rule is written in."""
        return self.run.__module__


REGISTRY: tuple[Rule, ...] = (
    Rule("guessed_renames", text_tensors.guessed_renames, (), profiles=frozenset({"text"})),
    Rule("model_types", unrelated.model_types, ("unrelated", "wrong_variant"), profiles=TEXT),
    Rule(
        "tie_refused",
        text_objects.tie_refused,
        ("tied_weights", "partitioned"),
        after=("model_types",),
        profiles=TEXT,
    ),
    Rule("reinitialised", benign.reinitialised, ("missing",)),
    Rule(
        "lone_shard",
        partitioned.lone_shard,
        ("missing",),
        after=("reinitialised",),
        profiles=frozenset({"check"}),
    ),
    Rule("flat_params", partitioned.flat_params, ("partitioned",), after=("reinitialised",)),
    Rule(
        "library_converter",
        library.library_converter,
        ("version",),
        after=("reinitialised",),
        profiles=frozenset({"check"}),
    ),
    Rule(
        "unrelated",
        unrelated.unrelated,
        ("unrelated",),
        after=("library_converter",),
        profiles=frozenset({"check"}),
    ),
    Rule(
        "known_families",
        variant.known_families,
        ("wrong_variant",),
        after=("unrelated",),
        profiles=frozenset({"check"}),
    ),
    Rule(
        "moe_dense",
        experts.moe_dense,
        ("wrong_variant",),
        after=("known_families",),
        profiles=frozenset({"check"}),
    ),
    Rule(
        "control_model",
        control_models.control_model,
        ("unrelated",),
        after=("moe_dense",),
        profiles=frozenset({"check"}),
    ),
    Rule("prefix", prefix.prefix, ("prefix",), after=("control_model",)),
    Rule(
        "quantized_names",
        text_quant.quantized_names,
        ("quantization",),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule("running_stats", text_names.running_stats, ("version",), after=("prefix",), profiles=TEXT),
    Rule(
        "release_bookkeeping",
        text_config.release_bookkeeping,
        ("version",),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule(
        "resume_state",
        text_training.resume_state,
        ("extra_state",),
        after=("release_bookkeeping",),
        profiles=TEXT,
    ),
    Rule(
        "weights_only_resume",
        text_training.weights_only_resume,
        ("missing",),
        after=("resume_state",),
        profiles=TEXT,
    ),
    Rule(
        "tensordict_metadata",
        text_config.tensordict_metadata,
        ("version",),
        after=("release_bookkeeping",),
        profiles=TEXT,
    ),
    Rule(
        "renamed_entry",
        text_config.renamed_entry,
        ("version",),
        after=("release_bookkeeping",),
        profiles=TEXT,
    ),
    Rule(
        "nested",
        text_nested.nested,
        ("prefix", "missing", "unrelated"),
        after=("release_bookkeeping",),
        profiles=TEXT,
    ),
    Rule(
        "gluon_names",
        text_prefix.gluon_names,
        ("prefix", "version"),
        after=("nested",),
        profiles=TEXT,
    ),
    Rule(
        "known_renames", text_renames.known_renames, ("version",), after=("prefix",), profiles=TEXT
    ),
    Rule(
        "new_layout_names",
        text_renames.new_layout_names,
        ("version",),
        after=("known_renames",),
        profiles=TEXT,
    ),
    Rule(
        "sd_schemes",
        text_scopes.sd_schemes,
        ("rename",),
        after=("nested",),
        profiles=TEXT,
    ),
    Rule(
        "adapter_segment",
        text_renames.adapter_segment,
        ("version",),
        after=("nested",),
        profiles=TEXT,
    ),
    Rule(
        "one_sided_prefix",
        text_prefix.one_sided_prefix,
        ("prefix", "rename"),
        after=("nested",),
        profiles=TEXT,
    ),
    Rule(
        "uniquified_scopes",
        text_scopes.uniquified_scopes,
        ("prefix",),
        after=("one_sided_prefix",),
        profiles=TEXT,
    ),
    Rule(
        "variant_features",
        text_variants.variant_features,
        ("wrong_variant",),
        after=("one_sided_prefix",),
    ),
    Rule(
        "first_key_refused",
        text_prefix.first_key_refused,
        ("rename", "prefix"),
        after=("one_sided_prefix",),
        profiles=TEXT,
    ),
    Rule(
        "bare_base_model",
        text_prefix.bare_base_model,
        ("prefix",),
        after=("first_key_refused",),
        profiles=TEXT,
    ),
    Rule("fused_names", text_fused.fused_names, ("fused_split",), after=("prefix",), profiles=TEXT),
    Rule(
        "recurrent_kernels",
        text_fused.recurrent_kernels,
        ("fused_split",),
        after=("fused_names",),
        profiles=TEXT,
    ),
    Rule(
        "reparameterized",
        text_fused.reparameterized,
        ("fused_split",),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule(
        "prompt_tables",
        text_rows.prompt_tables,
        ("lora_mismatch",),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule(
        "converter_leftovers",
        text_converters.converter_leftovers,
        ("rename",),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule(
        "marked_leftovers",
        text_names.marked_leftovers,
        ("extra_state", "rename", "lora_mismatch"),
        after=("prefix",),
        profiles=TEXT,
    ),
    Rule("saved_layout", layout.saved_layout, ("version",), after=("prefix",)),
    Rule("factorized_pos_embed", position.factorized_pos_embed, ("pos_embed_resize",)),
    Rule(
        "foreign_names",
        structure.foreign_names,
        ("unrelated",),
        after=("saved_layout", "known_renames"),
        profiles=TEXT,
    ),
    # Before renames: a side tensor of one scheme paired by name with another's
    # (bitsandbytes__nf4 → __fp4) is the other quantization, never a rename to apply.
    Rule(
        "requantized",
        requantized.requantized,
        ("quantization",),
        after=("prefix",),
        profiles=frozenset({"check"}),
    ),
    Rule("rename", rename.rename, ("rename",), after=("prefix", "saved_layout", "requantized")),
    Rule(
        "inferred",
        inferred.inferred,
        ("rename", "fused_split", "tied_weights"),
        after=("rename",),
        profiles=frozenset({"check"}),
    ),
    Rule("fused_split", geometry.fused_split, ("fused_split",), after=("rename",)),
    Rule(
        "lora_mismatch",
        adapters.lora_mismatch,
        ("lora_mismatch", "vocab_resize"),
        after=("rename",),
        profiles=ALL,
    ),
    Rule(
        "other_peft_types",
        peft_types.other_peft_types,
        ("lora_mismatch",),
        after=("lora_mismatch",),
        profiles=ALL,
    ),
    Rule("partitioned", partitioned.partitioned, ("partitioned",), after=("rename",)),
    Rule(
        "parallel_slices",
        partitioned.parallel_slices,
        ("partitioned",),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule(
        "replicated_state",
        partitioned.replicated_state,
        ("partitioned",),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule(
        "batched_copies",
        text_variants.batched_copies,
        ("wrong_variant",),
        after=("replicated_state",),
        profiles=TEXT,
    ),
    Rule(
        "agent_spaces",
        text_config.agent_spaces,
        ("version",),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule(
        "shifted_pairs",
        shifted_pairs.shifted_pairs,
        ("version",),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule(
        "lazy_buffers",
        text_layouts.lazy_buffers,
        ("version", "extra_state"),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule(
        "factorized_embedding",
        text_kinds.factorized_embedding,
        ("unrelated",),
        after=("partitioned",),
        profiles=TEXT,
    ),
    Rule("quantization", quantization.quantization, ("quantization",), after=("partitioned",)),
    Rule(
        "packed_shapes",
        text_quant.packed_shapes,
        ("quantization",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "label_transitions",
        text_rows.label_transitions,
        ("num_classes",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "detector_heads",
        text_rows.detector_heads,
        ("num_classes", "wrong_variant"),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "application_weights",
        text_bundled.application_weights,
        ("version",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "repository_config",
        text_bundled.repository_config,
        ("version",),
        after=("quantization", "packed_shapes"),
        profiles=TEXT,
    ),
    Rule(
        "image_channels",
        text_layouts.image_channels,
        ("wrong_variant",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "autoencoder_latents",
        autoencoder.autoencoder_latents,
        ("latent_channels",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "text_tower_width",
        cross_widths.text_tower_width,
        ("encoder_swap",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "input_features",
        input_features.input_features,
        ("version",),
        after=("quantization",),
        profiles=TEXT,
    ),
    Rule(
        "kv_heads",
        attention_heads.kv_heads,
        ("version", "wrong_variant"),
        after=("quantization",),
        profiles=FILES,
    ),
    Rule(
        "wrong_variant",
        variant.wrong_variant,
        ("wrong_variant",),
        after=("quantization", "kv_heads", "input_features", "text_tower_width"),
    ),
    Rule(
        "singleton_axes",
        text_layouts.singleton_axes,
        ("wrong_variant", "version"),
        after=("wrong_variant",),
        profiles=TEXT,
    ),
    Rule(
        "flat_in_model",
        text_layouts.flat_in_model,
        ("version",),
        after=("singleton_axes", "partitioned"),
        profiles=TEXT,
    ),
    Rule(
        "rank_inflate",
        geometry.rank_inflate,
        ("rank_inflate",),
        after=("wrong_variant", "singleton_axes"),
    ),
    Rule("transpose", geometry.transpose, ("transpose",), after=("wrong_variant",)),
    Rule(
        "permuted_axes",
        text_layouts.permuted_axes,
        ("transpose",),
        after=("transpose",),
        profiles=TEXT,
    ),
    Rule(
        "backend_layouts",
        text_layouts.backend_layouts,
        ("transpose",),
        after=("permuted_axes", "image_channels"),
        profiles=TEXT,
    ),
    Rule(
        "mlx_conv_layout",
        text_ports.mlx_conv_layout,
        ("transpose",),
        after=("backend_layouts",),
        profiles=TEXT,
    ),
    Rule(
        "pos_embed_resize",
        position.pos_embed_resize,
        ("pos_embed_resize", "wrong_variant"),
        after=("factorized_pos_embed", "wrong_variant"),
    ),
    Rule(
        "latent_channels",
        conditioning.latent_channels,
        ("latent_channels",),
        after=("wrong_variant",),
    ),
    Rule(
        "encoder_swap",
        conditioning.encoder_swap,
        ("encoder_swap", "wrong_variant"),
        after=("wrong_variant",),
    ),
    Rule(
        "conditioning_widths",
        cross_widths.conditioning_widths,
        ("encoder_swap",),
        after=("encoder_swap",),
        profiles=TEXT,
    ),
    Rule(
        "tokenizer_families",
        vocab_families.tokenizer_families,
        ("wrong_variant",),
        after=("wrong_variant", "lora_mismatch"),
        profiles=TEXT,
    ),
    Rule(
        "vocab_shards",
        vocab_families.vocab_shards,
        ("partitioned",),
        after=("tokenizer_families",),
        profiles=TEXT,
    ),
    Rule(
        "vocab_resize",
        embeddings.vocab_resize,
        ("vocab_resize",),
        after=("vocab_shards",),
        profiles=ALL,
    ),
    Rule(
        "own_vocabulary",
        text_vocab.own_vocabulary,
        ("vocab_resize",),
        after=("vocab_resize",),
        profiles=TEXT,
    ),
    Rule(
        "spectrogram_bins",
        text_rows.spectrogram_bins,
        ("wrong_variant",),
        after=("vocab_resize",),
        profiles=TEXT,
    ),
    Rule(
        "num_classes",
        class_heads.num_classes,
        ("num_classes",),
        after=("vocab_resize", "own_vocabulary", "spectrogram_bins"),
        profiles=ALL,
    ),
    Rule(
        "class_boxes",
        text_rows.class_boxes,
        ("num_classes",),
        after=("detector_heads", "num_classes"),
        profiles=TEXT,
    ),
    Rule(
        "odd_outputs",
        text_vocab.odd_outputs,
        ("num_classes",),
        after=("class_boxes",),
        profiles=TEXT,
    ),
    Rule(
        "input_rows",
        text_vocab.input_rows,
        ("vocab_resize",),
        after=("odd_outputs",),
        profiles=TEXT,
    ),
    Rule("tied_weights", tied.tied_weights, ("tied_weights",), after=("num_classes",)),
    Rule("dtype_variant", precision.dtype_variant, ("dtype_variant",)),
    Rule("extra_state", benign.extra_state, ("extra_state",)),
    Rule("version", benign.version, ("version",), after=("extra_state",)),
    Rule(
        "gguf_layout",
        gguf_layout.gguf_layout,
        ("version",),
        after=("vocab_resize", "kv_heads"),
        profiles=TEXT,
    ),
    Rule(
        "unexplained_shapes",
        variant.unexplained_shapes,
        ("wrong_variant",),
        after=("version",),
        profiles=ALL,
    ),
    Rule(
        "renamed_path",
        text_renames.renamed_path,
        ("rename",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "upsampler_stages",
        structure.upsampler_stages,
        ("wrong_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "sorted_attention_parts",
        structure.sorted_attention_parts,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "extra_layers",
        structure.extra_layers,
        ("wrong_variant", "partitioned"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "kind_in_every_block",
        structure.kind_in_every_block,
        ("version",),
        after=("extra_layers",),
        profiles=TEXT,
    ),
    Rule(
        "tensor_in_every_block",
        structure.tensor_in_every_block,
        ("version",),
        after=("extra_layers",),
        profiles=TEXT,
    ),
    Rule(
        "module_attribute",
        text_classes.module_attribute,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "missing_class",
        text_classes.missing_class,
        ("version", "unrelated", "extra_state", "unknown"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "unsupported_precision",
        text_objects.unsupported_precision,
        ("dtype_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "stale_option",
        text_config.stale_option,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "newer_argument",
        text_config.newer_argument,
        ("version",),
        after=("stale_option",),
        profiles=TEXT,
    ),
    Rule(
        "newer_keras_class",
        text_config.newer_keras_class,
        ("version",),
        after=("stale_option",),
        profiles=TEXT,
    ),
    Rule(
        "older_argument",
        text_config.older_argument,
        ("version",),
        after=("newer_argument",),
        profiles=TEXT,
    ),
    Rule(
        "absent_targets",
        text_config.absent_targets,
        ("lora_mismatch",),
        after=("stale_option",),
        profiles=TEXT,
    ),
    Rule(
        "absent_components",
        text_config.absent_components,
        ("wrong_variant",),
        after=("stale_option",),
        profiles=TEXT,
    ),
    Rule(
        "exporter_fields",
        text_kinds.exporter_fields,
        ("unrelated",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "absent_component",
        text_packages.absent_component,
        ("missing",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "program_without_params",
        text_packages.program_without_params,
        ("partitioned",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "component_option",
        text_packages.component_option,
        ("partitioned",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "half_operator_input",
        text_runtimes.half_operator_input,
        ("dtype_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "quantize_kernel_type",
        text_runtimes.quantize_kernel_type,
        ("quantization",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "float_ggml_type",
        text_runtimes.float_ggml_type,
        ("dtype_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "int8_weights",
        text_runtimes.int8_weights,
        ("quantization",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "quantization_choice",
        text_runtimes.quantization_choice,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "quantization_package",
        text_runtimes.quantization_package,
        ("quantization",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "te_extra_state",
        text_training.te_extra_state,
        ("extra_state",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "shard_merge",
        text_training.shard_merge,
        ("partitioned",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "missing_metadata",
        text_config.missing_metadata,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "absent_state_entry",
        text_config.absent_state_entry,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "non_tensor_entry",
        text_objects.non_tensor_entry,
        ("extra_state",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "object_kind",
        text_objects.object_kind,
        ("prefix", "unknown", "unrelated"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "wrapper_segment",
        text_objects.wrapper_segment,
        ("prefix",),
        after=("object_kind",),
        profiles=TEXT,
    ),
    Rule(
        "import_lacking",
        text_classes.import_lacking,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "optimizer_groups",
        text_objects.optimizer_groups,
        ("wrong_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "absent_part",
        text_objects.absent_part,
        ("wrong_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "optimizer_state",
        text_objects.optimizer_state,
        ("extra_state",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "stale_attribute",
        text_classes.stale_attribute,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "unknown_architecture",
        text_classes.unknown_architecture,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "prompt_matmul",
        cross_widths.prompt_matmul,
        ("encoder_swap",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "fed_channels",
        text_objects.fed_channels,
        ("latent_channels",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "many_indexes",
        text_file_lookups.many_indexes,
        ("partitioned",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "newer_format",
        text_files.newer_format,
        ("version", "unknown"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "caffe_blobs",
        text_files.caffe_blobs,
        ("wrong_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "kaldi_tokens",
        text_files.kaldi_tokens,
        ("version", "unrelated"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "ggml_old_ftype",
        text_quant.ggml_old_ftype,
        ("quantization",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "stated_quantity",
        text_counts.stated_quantity,
        ("vocab_resize", "partitioned", "wrong_variant", "num_classes", "version"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "stated_classes",
        text_counts.stated_classes,
        ("num_classes",),
        after=("stated_quantity",),
        profiles=TEXT,
    ),
    Rule(
        "stated_starts",
        text_prefix.stated_starts,
        ("prefix",),
        after=("stated_classes",),
        profiles=TEXT,
    ),
    Rule(
        "byte_counts",
        text_counts.byte_counts,
        ("dtype_variant", "partitioned"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "paths_not_found",
        text_counts.paths_not_found,
        ("rename",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "layer_counts",
        text_counts.layer_counts,
        ("wrong_variant", "version", "prefix"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "zip_read_as_pickle",
        text_files.zip_read_as_pickle,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "broken_file",
        text_broken.broken_file,
        ("partitioned", "unrelated", "version"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "embeddings_message",
        text_vocab.embeddings_message,
        ("vocab_resize",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "anchor_class_message",
        text_vocab.anchor_class_message,
        ("num_classes",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "broadcast_rows",
        text_rows.broadcast_rows,
        ("vocab_resize", "num_classes", "pos_embed_resize", "version", "wrong_variant"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "incompatible_file",
        text_bases.incompatible_file,
        ("wrong_variant",),
        after=("unexplained_shapes", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "weight_map_check",
        text_builders.weight_map_check,
        ("version",),
        after=("unexplained_shapes", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "unconverted_repo",
        text_kinds.unconverted_repo,
        ("unrelated",),
        after=("unexplained_shapes", "newer_format", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "named_kind",
        text_kinds.named_kind,
        ("unrelated",),
        after=("unexplained_shapes", "newer_format", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "controlnet_file",
        text_kinds.controlnet_file,
        ("unrelated",),
        after=("named_kind",),
        profiles=TEXT,
    ),
    Rule(
        "unpacked_load",
        text_kinds.unpacked_load,
        ("unrelated",),
        after=("unexplained_shapes", "newer_format", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "foreign_folder",
        text_file_lookups.foreign_folder,
        ("unrelated",),
        after=("unexplained_shapes", "newer_format", "stated_quantity", "broken_file"),
        profiles=TEXT,
    ),
    Rule(
        "gguf_folder",
        text_paths.gguf_folder,
        ("unrelated",),
        after=("foreign_folder",),
        profiles=TEXT,
    ),
    Rule(
        "single_file_for_folder",
        text_paths.single_file_for_folder,
        ("rename",),
        after=("foreign_folder",),
        profiles=TEXT,
    ),
    Rule(
        "stated_renaming",
        text_fixes.stated_renaming,
        ("rename",),
        after=("foreign_folder",),
        profiles=TEXT,
    ),
    Rule(
        "files_named",
        text_file_lookups.files_named,
        ("dtype_variant", "partitioned", "unknown", "version"),
        after=("foreign_folder", "many_indexes"),
        profiles=TEXT,
    ),
    Rule(
        "topic_words",
        text_quant.topic_words,
        ("quantization", "lora_mismatch"),
        after=(
            "unexplained_shapes",
            "newer_format",
            "stated_quantity",
            "broken_file",
            "foreign_folder",
            "files_named",
        ),
        profiles=TEXT,
    ),
    Rule(
        "short_stream",
        text_counts.short_stream,
        ("wrong_variant",),
        after=("broken_file",),
        profiles=TEXT,
    ),
    Rule(
        "sideless_buffers",
        text_names.sideless_buffers,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "unshaped_names",
        text_names.unshaped_names,
        ("pos_embed_resize", "vocab_resize", "num_classes", "wrong_variant", "encoder_swap"),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "head_options",
        text_variants.head_options,
        ("wrong_variant",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "reference_layout",
        text_renames.reference_layout,
        ("rename",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "regrouped_words",
        text_renames.regrouped_words,
        ("rename",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "renamed_word",
        text_renames.renamed_word,
        ("rename",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "moved_modules",
        text_renames.moved_modules,
        ("rename",),
        after=("renamed_word",),
        profiles=TEXT,
    ),
    Rule(
        "registered_buffers",
        text_names.registered_buffers,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "wrapped_layers",
        text_renames.wrapped_layers,
        ("rename",),
        after=("renamed_word",),
        profiles=TEXT,
    ),
    Rule(
        "rearranged",
        rearranged.rearranged,
        ("version",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "truncated_tail",
        text_names.truncated_tail,
        ("partitioned",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "untied_head",
        text_names.untied_head,
        ("tied_weights",),
        after=("unexplained_shapes",),
        profiles=TEXT,
    ),
    Rule(
        "class_head_only",
        text_names.class_head_only,
        ("num_classes",),
        after=("untied_head",),
        profiles=TEXT,
    ),
    Rule(
        "unlisted",
        text_counts.unlisted,
        ("missing", "unexpected"),
        after=("untied_head",),
        profiles=TEXT,
    ),
    Rule(
        "stack_lookup",
        text_variants.stack_lookup,
        ("wrong_variant",),
        after=("unlisted",),
        profiles=TEXT,
    ),
    Rule(
        "failed_lookup",
        text_lookups.failed_lookup,
        ("rename", "quantization", "prefix"),
        after=("unlisted",),
        profiles=TEXT,
    ),
    Rule(
        "task_heads",
        task_heads.task_heads,
        ("missing", "unexpected"),
        after=("unexplained_shapes",),
        profiles=frozenset({"check"}),
    ),
    Rule("missing", leftovers.missing, ("missing",), after=("task_heads",)),
    Rule(
        "unexpected",
        leftovers.unexpected,
        ("unexpected",),
        after=("unexplained_shapes",),
        profiles=ALL,
    ),
    Rule(
        "provenance",
        provenance.stamp,
        ("version",),
        after=("unexpected",),
        profiles=frozenset({"check"}),
    ),
    Rule(
        "adapter_vocab",
        peft_vocab.adapter_vocab,
        ("vocab_resize",),
        after=("vocab_resize", "unexpected"),
        profiles=frozenset({"adapter"}),
    ),
    Rule(
        "untied_heads",
        adapters.untied_heads,
        ("tied_weights",),
        after=("adapter_vocab",),
        profiles=frozenset({"adapter"}),
    ),
    Rule(
        "older_layout",
        peft_layout.older_layout,
        ("version",),
        after=("unexpected",),
        profiles=frozenset({"adapter"}),
    ),
    Rule(
        "older_experts",
        peft_layout.older_experts,
        ("version",),
        after=("unexpected",),
        profiles=frozenset({"adapter"}),
    ),
    Rule(
        "lora_halves",
        text_tensors.lora_halves,
        ("lora_mismatch", "vocab_resize"),
        after=("unexpected",),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "variant_mix",
        text_messages.variant_mix,
        ("dtype_variant",),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "shared_tensors",
        text_messages.shared_tensors,
        ("tied_weights",),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "unreadable_header",
        text_messages.unreadable_header,
        ("partitioned", "unrelated", "version"),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "refused_globals",
        text_messages.refused_globals,
        ("version", "extra_state"),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "lora_reshape",
        text_messages.lora_reshape,
        ("lora_mismatch", "num_classes", "partitioned", "quantization", "version", "wrong_variant"),
        profiles=frozenset({"text"}),
    ),
    Rule(
        "quantized_file_refused",
        text_runtimes.quantized_file_refused,
        ("quantization", "dtype_variant"),
        after=("lora_reshape", "refused_globals"),
        profiles=TEXT,
    ),
    Rule(
        "round_trip",
        text_files.round_trip,
        ("unknown",),
        after=("quantized_file_refused",),
        profiles=TEXT,
    ),
    Rule(
        "unknown",
        unknown.unknown,
        ("unknown",),
        after=("unexpected", "lora_halves", "lora_reshape", "refused_globals"),
        profiles=TEXT,
    ),
)
"""Every rule, in the order they run."""


def rules(profile: Profile) -> tuple[Rule, ...]:
    """The rules of one profile, in the order they run."""
    if profile not in PROFILES:
        raise ValueError(f"no diagnosis profile {profile!r} (one of {', '.join(PROFILES)})")
    return tuple(rule for rule in REGISTRY if profile in rule.profiles)


def categories() -> tuple[str, ...]:
    """Every category some rule may emit, in the order first declared."""
    return tuple(dict.fromkeys(c for rule in REGISTRY for c in rule.emits))


def _check(registry: tuple[Rule, ...]) -> None:
    """Names are unique and every ``after`` names an earlier rule."""
    seen: set[str] = set()
    for rule in registry:
        if rule.name in seen:
            raise ValueError(f"diagnosis rule {rule.name!r} declared twice")
        late = [name for name in rule.after if name not in seen]
        if late:
            raise ValueError(f"diagnosis rule {rule.name!r} must run after {late}")
        seen.add(rule.name)


_check(REGISTRY)
