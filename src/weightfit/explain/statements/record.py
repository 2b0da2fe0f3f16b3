"""The :class:`Facts` of a text: what it says besides its tensors, as the readers record it."""

from __future__ import annotations

from dataclasses import dataclass, field

from weightfit.explain.spaces import SpaceMismatch


@dataclass
class Facts:
    """What a text says besides its tensors.

    Attributes:
        loading_error: The text holds a loading error (a phrase of :data:`LOADING_ERROR`).
        model_class: The model class named (``BertForTokenClassification``), or ``""``.
        model_types: ``(checkpoint type, model type)`` from transformers' warning.
        versions: Library name to version, as printed.
        files: Checkpoint file names mentioned.
        quantization: Quantization words used (lowercase).
        mlx: The text is MLX's (its loaders' messages, or the word): a runtime whose
            quantized weights pack along the last axis.
        lora: LoRA / adapter words used (lowercase).
        invalid_view: ``(shape, size)`` of ``shape '[a, b]' is invalid for input of size N``.
        key_errors: Names of ``KeyError: 'name'``.
        key_error_frame: ``(module path, function)`` of the traceback frame the last
            ``KeyError`` was raised in (the frame printed last before it).
        unknown_architecture: The architecture a loader says it does not know (``qwen3``).
        unknown_kind: What that name is: ``architecture``, ``tokenizer`` (a tokenizer class),
            ``pre_tokenizer`` (llama.cpp's) or ``registry`` (a name a library's registry
            lacks: timm, torch.hub, fairseq, fairchem).
        matmul: ``(rows, width fed, width read)`` of ``mat1 and mat2 shapes cannot be
            multiplied (308x2048 and 768x320)``.
        input_channels: ``(the UNet takes, the pipeline feeds)`` of diffusers' inpainting
            pipelines' ``expects 4 but received ... = 9``.
        module_method: The module method a loaded dict was asked for (``'to'``): the file
            holds a state dict where the code expects a pickled model.
        object_for_dict: The class of an object asked for a dict's method (``'Model'``), or
            handed to ``load_state_dict`` (``object_refused``): the file holds a pickled object
            where the code expects a dict of weights.
        path_for_dict: The type (``str``, ``pathlib.PosixPath``) ``load_state_dict`` was
            given in a state dict's place: the file's path, never loaded.
        wrapper_segment: A wrapper's attribute (``module``, ``_orig_mod``) a model lacked
            where code walked a saved tensor's name to place it: the names carry its prefix.
        optimizer_groups: The optimizer's refusal of saved state with other parameter groups.
        tie_refused: ``(tied, to, present|absent)`` of transformers declining to tie two
            tensors its config ties.
        import_lacking: ``(name, module)`` a model's loading code imports and the installed
            module lacks.
        absent_part: The part of a model file an engine asked for and did not find
            (``LSTM``), or ``languages`` when none of the files loaded.
        scalar_pairs: The mismatches set aside among ``unshaped``, a 0-d tensor against a
            sized one: ``name -> (checkpoint shape, model shape)``.
        stale_attribute: ``(class, attribute)`` of ``'Upsample' object has no attribute
            'recompute_scale_factor'`` when a known library change added that attribute.
        called_hook: Whether that attribute is a private hook a loader called on a class
            that lacks it (``'Resampler' object has no attribute '_initialize_weights'``).
        missing_class_file: The file of the module that lacked a pickled class, as
            ``Can't get attribute 'MP' on <module 'models.common' from '...'>`` names it.
        stated: ``(kind, first, second)`` of a line stating two values of one model
            quantity (``Vocab size mismatch (model has 38464, but ... has 38656)``).
        broken_file: What a reader said of a file that is not whole (:data:`BROKEN_FILE`).
        round_trip: The call that read back bytes the same code had just serialized
            (``deserialize_from_slice(&serialized)``), when the text fails: no file between.
        other_format: The one weights file of another format a safetensors reader was given
            (``cloth_segm.pth`` behind ``HeaderTooLarge``), or ``""``.
        newer_format: What a reader said of a file written by another version of its format
            (PyTorch < 1.6: ``... is a zip archive (did you mean to use torch.jit.load()?)``).
        newer_reader: Which of :data:`NEWER_FORMAT`'s readings said it (``torch``,
            ``onnx``, ``future``, ``stated`` ...), ``ggml_container``, ``python2`` (a Python 2
            pickle read in Python 3) or ``python3`` (the reverse).
        gluon_missing: ``(parameter, file)`` of MXNet Gluon's ``Parameter net0_conv0_weight
            is missing in file x.params``.
        gluon_file_names: The names MXNet says that file holds (``0.weight``, ``0.bias``).
        byte_counts: ``(the file has, the loader asks for)`` of a raw weight file.
        printed_state: The training helper (an LR scheduler, a gradient scaler) whose
            state a printed ``dict_keys([...])`` holds.
        held_container: The container a printed ``dict_keys([...])`` of a checkpoint shows
            holding the weights (``simclr_state`` beside ``optimizer_state`` and ``epoch``).
        paths_not_found: ``(not found, of)`` of a loader counting the model's parameters it
            did not find in the checkpoint (``374 of 377 model parameter paths were not found``).
        layer_counts: ``(file, model)`` layer counts of Keras' ``weight file containing N
            layers into a model with M layers``.
        layer_weights: ``(model, file)`` variable counts of one Keras layer: ``expects 3
            weights, but the saved weights have 2 elements``.
        unsupported_precision: The precision a loader or device refused (``float16``).
        stale_option: ``(class, option)`` of ``'Namespace' object has no attribute
            'attention_type'``: the options a checkpoint saved lack one this code reads.
        newer_argument: An argument a saved config passes that the code's class does not
            take (``__init__() got an unexpected keyword argument 'rope_scaling'``).
        older_argument: An argument a class now requires that the saved model does not pass
            (``__init__() missing 1 required positional argument: 'norm_type'``).
        module_attribute: ``(module, name)`` a loader's code looked up in an installed module
            that lacks it (``omegaconf._utils.is_primitive_type``).
        called_with: ``(function, argument)`` a loader passed to a function of another
            release, which does not take it (``load_model() ... 'device'``).
        instance_call: ``(class, method)`` a loader called on an instance where the installed
            release allows only the class (Lightning 2's ``load_from_checkpoint``).
        caffe_blobs: ``(layer, the net's blobs, the file's blobs)`` of Caffe's ``Incompatible
            number of blobs for layer conv1`` (``(2 vs. 1)``: a bias the file lacks).
        kaldi_token: ``(expected, got)``: the tags of Kaldi's ``Expected token "<Nnet3>",
            got instead "<DIMENSION>"``.
        absent_components: Pipeline components a checkpoint or folder lacks (diffusers'
            ``Failed to load CLIPTextModel. Weights for this component appear to be missing``,
            or the ones a pipeline class expected beyond those passed).
        absent_targets: Modules an adapter targets that the base model lacks (PEFT's
            ``Target modules {'q_proj'} not found in the base model``).
        metadata_key: A metadata entry (:data:`METADATA_ENTRIES`) the code read from the
            checkpoint and did not find (``checkpoint['meta']``: ``KeyError: 'meta'``).
        non_tensor: ``(entry, class)`` of a state dict entry holding an object, not a tensor.
        optimizer_slot: An optimizer's variable a converter looked up on the model
            (:data:`OPTIMIZER_SLOT`).
        architecture_said: A loader's words that the file has fewer or more layers than the model,
            or is of another architecture
            (pix2pixHD and its descendants: ``Pretrained network G has fewer layers``).
        absent_file: The weights file a reader said does not exist (:data:`ABSENT_FILE`).
        converter_leftovers: The opening words of a LoRA converter's raise on the names it
            left unmapped (diffusers' ``The following keys have not been correctly renamed``).
        short_stream: What a reader of a raw weights file said when the file ended before the
            network was filled (:data:`SHORT_STREAM`).
        tensor_parallel: Words of a run splitting parameters across ranks
            (:data:`TENSOR_PARALLEL`: ``tp_degree``, ``ShardSpec``).
        spaces: An agent's saved observation or action space against its environment's.
    """

    loading_error: bool = False
    model_class: str = ""
    model_types: tuple[str, str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    quantization: list[str] = field(default_factory=list)
    mlx: bool = False
    lora: list[str] = field(default_factory=list)
    invalid_view: tuple[tuple[int, ...], int] | None = None
    key_errors: list[str] = field(default_factory=list)
    key_error_frame: tuple[str, str] | None = None
    container_key: str = ""
    gluon_missing: tuple[str, str] | None = None
    gluon_file_names: list[str] = field(default_factory=list)
    byte_counts: tuple[int, int] | None = None
    missing_class: tuple[str, str] | None = None
    missing_class_file: str = ""
    broadcast: tuple[int, int] | None = None
    unshaped: list[str] = field(default_factory=list)
    scalar_pairs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    meta_device: str = ""
    unlisted: dict[str, int] = field(default_factory=dict)
    indexes: list[str] = field(default_factory=list)
    broken_file: str = ""
    round_trip: str = ""
    other_format: str = ""
    paths_not_found: tuple[int, int] | None = None
    layer_counts: tuple[int, int] | None = None
    layer_weights: tuple[int, int] | None = None
    stale_attribute: tuple[str, str] | None = None
    module_method: str = ""
    object_for_dict: str = ""
    object_refused: bool = False
    path_for_dict: str = ""
    wrapper_segment: str = ""
    optimizer_groups: str = ""
    tie_refused: tuple[str, str, str] | None = None
    import_lacking: tuple[str, str] | None = None
    absent_part: str = ""
    called_hook: bool = False
    input_channels: tuple[int, int] | None = None
    unknown_architecture: str = ""
    unknown_kind: str = ""
    matmul: tuple[int, int, int] | None = None
    stated: tuple[str, int, int] | None = None
    newer_format: str = ""
    newer_reader: str = ""
    held_container: str = ""
    printed_state: str = ""
    non_tensor: tuple[str, str] | None = None
    optimizer_slot: str = ""
    metadata_key: str = ""
    stale_option: tuple[str, str] | None = None
    newer_argument: str = ""
    older_argument: str = ""
    module_attribute: tuple[str, str] | None = None
    called_with: tuple[str, str] | None = None
    instance_call: tuple[str, str] | None = None
    caffe_blobs: tuple[str, int, int] | None = None
    kaldi_token: tuple[str, str] | None = None
    absent_components: list[str] = field(default_factory=list)
    absent_targets: str = ""
    unsupported_precision: str = ""
    architecture_said: str = ""
    absent_file: str = ""
    tensor_parallel: str = ""
    converter_leftovers: str = ""
    short_stream: str = ""
    spaces: SpaceMismatch | None = None
    text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, object]:
        """Plain data for a finding's evidence (empty fields left out)."""
        data: dict[str, object] = {
            "model_class": self.model_class,
            "model_types": list(self.model_types) if self.model_types else None,
            "versions": self.versions,
            "files": self.files,
            "quantization_words": self.quantization,
            "lora_words": self.lora,
            "invalid_view": (
                {"shape": list(self.invalid_view[0]), "input_size": self.invalid_view[1]}
                if self.invalid_view
                else None
            ),
            "key_errors": self.key_errors,
            "key_error_frame": list(self.key_error_frame) if self.key_error_frame else None,
            "mlx": self.mlx,
            "container_key": self.container_key,
            "gluon_missing": list(self.gluon_missing) if self.gluon_missing else None,
            "gluon_file_names": self.gluon_file_names[:8],
            "byte_counts": list(self.byte_counts) if self.byte_counts else None,
            "missing_class": list(self.missing_class) if self.missing_class else None,
            "broadcast_sizes": list(self.broadcast) if self.broadcast else None,
            "names_without_shapes": self.unshaped[:8],
            "left_on_meta_device": self.meta_device,
            "counted": self.unlisted,
            "index_files": self.indexes,
            "broken_file": self.broken_file,
            "round_trip": self.round_trip,
            "other_format": self.other_format,
            "paths_not_found": list(self.paths_not_found) if self.paths_not_found else None,
            "layer_counts": list(self.layer_counts) if self.layer_counts else None,
            "layer_weights": list(self.layer_weights) if self.layer_weights else None,
            "stale_attribute": list(self.stale_attribute) if self.stale_attribute else None,
            "module_method_on_dict": self.module_method,
            "dict_method_on_object": self.object_for_dict,
            "path_for_state_dict": self.path_for_dict,
            "wrapper_segment": self.wrapper_segment,
            "optimizer_groups": self.optimizer_groups,
            "tie_refused": list(self.tie_refused) if self.tie_refused else None,
            "import_lacking": list(self.import_lacking) if self.import_lacking else None,
            "absent_part": self.absent_part,
            "input_channels": list(self.input_channels) if self.input_channels else None,
            "unknown_architecture": self.unknown_architecture,
            "unknown_kind": self.unknown_kind,
            "matmul": list(self.matmul) if self.matmul else None,
            "stated": list(self.stated) if self.stated else None,
            "newer_format": self.newer_format,
            "held_container": self.held_container,
            "printed_state": self.printed_state,
            "non_tensor_entry": list(self.non_tensor) if self.non_tensor else None,
            "optimizer_slot": self.optimizer_slot,
            "metadata_key": self.metadata_key,
            "stale_option": list(self.stale_option) if self.stale_option else None,
            "newer_argument": self.newer_argument,
            "older_argument": self.older_argument,
            "module_attribute": list(self.module_attribute) if self.module_attribute else None,
            "called_with": list(self.called_with) if self.called_with else None,
            "instance_call": list(self.instance_call) if self.instance_call else None,
            "caffe_blobs": list(self.caffe_blobs) if self.caffe_blobs else None,
            "kaldi_token": list(self.kaldi_token) if self.kaldi_token else None,
            "absent_components": self.absent_components,
            "absent_targets": self.absent_targets,
            "unsupported_precision": self.unsupported_precision,
            "architecture_said": self.architecture_said,
            "absent_file": self.absent_file,
            "tensor_parallel": self.tensor_parallel,
            "converter_leftovers": self.converter_leftovers,
            "short_stream": self.short_stream,
            "spaces": (
                {
                    "kind": self.spaces.kind,
                    "saved": self.spaces.saved,
                    "env": self.spaces.environment,
                }
                if self.spaces
                else None
            ),
        }
        return {key: value for key, value in data.items() if value}
