"""``explain`` on loading messages filled in from the libraries' own format strings.

These libraries cannot run here: ggml / llama.cpp, bitsandbytes, DeepSpeed, Megatron-LM,
vLLM, ONNX Runtime, CTranslate2, ollama, TensorRT-LLM and the quantizers need GPUs,
native builds or a distributed launch; transformers', PEFT's, diffusers', Lightning's,
Ultralytics', Paddle's, spaCy's, ESPnet's and AnimateDiff's messages need a hub folder, a run or a
file of another release. Each case fills in one format string, quoted from the source file
named beside it, as the library prints it, and checks the cause ``explain`` reads.
"""

from __future__ import annotations

import pytest

import weightfit

LLAMA_CPP_LOAD_FAILED = (
    "llama_model_load: error loading model: llama_model_loader: failed to load model from "
    "./models/mistral-7b.Q4_K_M.gguf\n"
)
"""The line llama.cpp's loader closes every refusal with (src/llama-model-loader.cpp)."""


CASES = [
    # ggml/src/gguf.cpp, gguf_init_from_file_impl: a newer GGUF than the reader.
    (
        "gguf_init_from_file_impl: this GGUF file is version 4 but this software only "
        "supports up to version 3",
        "version",
    ),
    # ggml/src/gguf.cpp: the first GGUF generation, dropped by later readers.
    (
        "gguf_init_from_file_impl: GGUFv1 is no longer supported, please use a more "
        "up-to-date version",
        "version",
    ),
    # ggml/src/gguf.cpp: the four bytes found where 'GGUF' belongs are a Git LFS pointer's.
    (
        "gguf_init_from_file_impl: invalid magic characters: 'vers', expected 'GGUF'\n"
        + LLAMA_CPP_LOAD_FAILED,
        "partitioned",
    ),
    # ... and an older GGML container's tag (ggjt, written backwards), not text.
    (
        "gguf_init_from_file_impl: invalid magic characters: 'tjgg', expected 'GGUF'\n"
        + LLAMA_CPP_LOAD_FAILED,
        "version",
    ),
    # ggml/src/gguf.cpp: rows that do not fill the blocks of their quantization type.
    (
        "gguf_init_from_file_impl: tensor 'blk.0.attn_k.weight' of type 12 (q4_K) has 1408 "
        "elements per row, not a multiple of block size (256)",
        "quantization",
    ),
    # src/llama-model-loader.cpp: a split model's files hold fewer tensors than promised.
    (
        "llama_model_load: error loading model: corrupted model: 724 tensors expected but 651 "
        "found",
        "partitioned",
    ),
    # bitsandbytes/nn/modules.py, maybe_rearrange_weight: int8 weights serialized by a
    # release that kept a GPU tile layout.
    ("ValueError: Only 'row' weight format is supported, got col_turing", "version"),
    # deepspeed/runtime/engine.py, load_checkpoint: no tag file naming the newest save.
    (
        "[WARNING] [engine.py:3120:load_checkpoint] Unable to find latest file at "
        "output/checkpoints/latest, if trying to load latest checkpoint please ensure this "
        "file exists or pass an explicit checkpoint tag when loading a checkpoint.",
        "partitioned",
    ),
    # deepspeed/runtime/state_dict_factory.py: pieces for another model-parallel degree.
    ("AssertionError: checkpoint count 2 is different from saved mp_world_size 4", "partitioned"),
    # deepspeed/runtime/state_dict_factory.py: a Megatron format version it has no reader for.
    ("AssertionError: checkpoint version: 3.0 is not supported", "version"),
    # megatron/training/checkpointing.py, check_checkpoint_args: one message, three causes.
    (
        "AssertionError: tensor_model_parallel_size value from checkpoint (4) is not equal to "
        "the input argument value (2).",
        "partitioned",
    ),
    (
        "AssertionError: hidden_size value from checkpoint (4096) is not equal to the input "
        "argument value (5120).",
        "wrong_variant",
    ),
    (
        "AssertionError: padded_vocab_size value from checkpoint (50304) is not equal to the "
        "input argument value (50688).",
        "vocab_resize",
    ),
    # megatron/training/checkpointing.py, set_checkpoint_version.
    ("AssertionError: checkpoint versions do not match", "version"),
    # megatron/training/checkpointing.py, read_metadata and load_checkpoint.
    (
        "ERROR: Invalid metadata file /ckpt/gpt3-8b/latest_checkpointed_iteration.txt. Exiting",
        "partitioned",
    ),
    (
        "WARNING: could not find the metadata file "
        "/ckpt/llama2-7b-mcore/latest_checkpointed_iteration.txt\n"
        "    will not load any checkpoints and will start from random",
        "partitioned",
    ),
    # megatron/core/dist_checkpointing/validation.py.
    (
        "megatron.core.dist_checkpointing.core.CheckpointingException: /ckpt/gpt/iter_0002000 "
        "is not a distributed checkpoint",
        "partitioned",
    ),
    (
        "megatron.core.dist_checkpointing.core.CheckpointingException: Invalid sharding "
        "pattern validation. Errors: [CheckpointingException('Invalid access pattern: 2 "
        "ShardedObject are missing.')]",
        "partitioned",
    ),
]


CASES += [
    # peft/config.py: an adapter config with fields a newer PEFT added.
    (
        "UserWarning: Unexpected keyword arguments ['corda_config', 'eva_config', "
        "'lora_bias'] for class LoraConfig, these are ignored. This probably means that "
        "you're loading a configuration file that was saved using a higher version of the "
        "library and additional parameters have been introduced since.",
        "version",
    ),
    # peft/tuners/tuners_utils.py: no module of the base model matched the adapter's targets.
    (
        "RuntimeWarning: target_modules={'query_key_value', 'dense'} were set but no module "
        "was matched.",
        "lora_mismatch",
    ),
    # transformers/modeling_utils.py: tied in the config, both saved with other values...
    (
        "The tied weights mapping and config for this model specifies to tie "
        "model.embed_tokens.weight to lm_head.weight, but both are present in the checkpoints "
        "with different values, so we will NOT tie them. You should update the config with "
        "`tie_word_embeddings=False` to silence this warning.",
        "tied_weights",
    ),
    # ... or neither saved.
    (
        "This checkpoint seem corrupted. The tied weights mapping for this model specifies to "
        "tie model.embed_tokens.weight to lm_head.weight, but both are absent from the "
        "checkpoint, and we could not find another related tied weight for those keys",
        "partitioned",
    ),
    # transformers/utils/import_utils.py: pickled weights need PyTorch 2.6.
    (
        "ValueError: Due to a serious vulnerability issue in `torch.load`, even with "
        "`weights_only=True`, we now require users to upgrade torch to at least v2.6 in order "
        "to use the function.",
        "version",
    ),
    # transformers/modeling_gguf_pytorch_utils.py: a GGUF architecture it cannot dequantize.
    ("ValueError: GGUF model with architecture deepseek2 is not supported yet.", "version"),
    # safetensors (Rust): a storage dtype newer than the reader, in a whole header ...
    (
        "safetensors_rust.SafetensorError: Error while deserializing header: invalid JSON in "
        "header: unknown variant `F8_E8M0`, expected one of `BOOL`, `F4`, `U8`, `I8`, `F16`, "
        "`BF16`, `F32` at line 1 column 87",
        "version",
    ),
    # ... and transformers' own words for it (modeling_utils.py).
    ("ValueError: Cannot load safetensors of unknown dtype F8_E8M0", "version"),
    # safetensors (Rust): a tensor's bytes end before its header says.
    (
        "safetensors_rust.SafetensorError: pread failed for tensor "
        "model.layers.31.mlp.up_proj.weight: failed to fill whole buffer",
        "partitioned",
    ),
    # diffusers/loaders/peft.py and lora_pipeline.py: a LoRA it cannot map onto the model.
    (
        "No LoRA keys associated to FluxTransformer2DModel found with the prefix='transformer'. "
        "This is safe to ignore if LoRA state dict didn't originally have any "
        "FluxTransformer2DModel related params.",
        "lora_mismatch",
    ),
    (
        "NotImplementedError: This LoRA param (x_embedder.lora_A.weight) has an incompatible "
        "shape torch.Size([64, 384]).",
        "lora_mismatch",
    ),
    # ComfyUI-AnimateDiff-Evolved (animatediff/model_injection.py): a motion module made
    # for another model family than the one given.
    (
        "animatediff.utils_model.MotionCompatibilityError: Motion module 'mm_sd_v15_v2.ckpt' is "
        "intended for SD1.5 models, but the provided model is type SDXL.",
        "wrong_variant",
    ),
    # spaCy 3.3+ (spacy/util.py): a model package of spaCy 2, which has no config file.
    (
        "OSError: [E053] Could not read config file from "
        "/home/user/models/en_core_web_sm-2.3.1/config.cfg",
        "version",
    ),
    # spaCy (spacy/util.py, spacy/errors.py): a package of another release, a registered
    # architecture the installed packages lack.
    (
        "UserWarning: [W095] Model 'en_core_web_sm' (3.5.0) was trained with spaCy v3.5.0 and "
        "may not be 100% compatible with the current version (3.7.4).",
        "version",
    ),
    (
        "catalogue.RegistryError: [E893] Could not find function "
        "'spacy-transformers.TransformerModel.v3' in function registry 'architectures'.",
        "version",
    ),
    # ESPnet (espnet2/torch_utils/load_pretrained_model.py): a name the model lacks.
    (
        "2024-06-02 10:21:33,412 (load_pretrained_model:53) WARNING: Filter out "
        "decoder.decoders.6.self_attn.linear_q.weight from pretrained dict because of name not "
        "found in target dict",
        "unexpected",
    ),
    # diffusers/models/model_loading_utils.py: neither reader could open the weights file.
    (
        "OSError: Unable to load weights from checkpoint file for "
        "'unet/diffusion_pytorch_model.safetensors' at "
        "'unet/diffusion_pytorch_model.safetensors'.",
        "partitioned",
    ),
]


CASES += [
    # onnxruntime/core/framework/tensorprotoutils.cc: an external data file cut short.
    (
        "onnxruntime.capi.onnxruntime_pybind11_state.Fail: [ONNXRuntimeError] : 1 : FAIL : "
        "Deserialize tensor model.layers.27.mlp.down_proj.MatMul.weight_Q4 failed."
        "tensorprotoutils.cc:1067 GetExtDataFromTensorProto External initializer: "
        "model.layers.27.mlp.down_proj.MatMul.weight_Q4 offset: 2071986176 size to read: "
        "4718592 given file_length: 770703360 are out of bounds or can not be read in full.",
        "partitioned",
    ),
    # onnx/checker.cc: the external data file absent, and a newer IR version.
    (
        "onnx.onnx_cpp2py_export.checker.ValidationError: Data of TensorProto ( tensor name: "
        "onnx::MatMul_3966) should be stored in /models/whisper/encoder_model.onnx_data, but "
        "it is not regular file.",
        "partitioned",
    ),
    (
        "onnx.onnx_cpp2py_export.checker.ValidationError: Your model ir_version 11 is higher "
        "than the checker's (10).",
        "version",
    ),
    # vllm/lora/peft_helper.py and vllm/lora/utils.py: adapters the server refuses.
    ("ValueError: LoRA rank 64 is greater than max_lora_rank 16.", "lora_mismatch"),
    (
        "ValueError: base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector "
        "is unsupported LoRA weight",
        "lora_mismatch",
    ),
]


CASES += [
    # lightning/pytorch/utilities/migration/utils.py: a checkpoint of a newer Lightning.
    (
        "PossibleUserWarning: The loaded checkpoint was produced with Lightning v2.6.0, which "
        "is newer than your current Lightning version: v2.1.3",
        "version",
    ),
    # torch/serialization.py: pre-1.6 formats refused by weights-only and memory-mapped reads.
    (
        "RuntimeError: Cannot use ``weights_only=True`` with files saved in the legacy .tar "
        "format. In PyTorch 2.6, we changed the default value of the `weights_only` argument.",
        "version",
    ),
    (
        "RuntimeError: mmap can only be used with files saved with `torch.save(vgg16_old.pth, "
        "_use_new_zipfile_serialization=True), please torch.save your checkpoint with this "
        "option in order to use mmap.",
        "version",
    ),
    # ultralytics/nn/tasks.py: an export in the checkpoint's place, and a numpy release.
    (
        "TypeError: ERROR \u274c\ufe0f yolov8n.pt is a TorchScript archive, not an Ultralytics "
        "PyTorch checkpoint.",
        "unrelated",
    ),
    (
        "ModuleNotFoundError: ERROR \u274c\ufe0f yolo26n.pt requires missing Ultralytics module "
        "'ultralytics.nn.modules.head_v26'. Train a new model using the latest 'ultralytics' "
        "package or run a command with an official Ultralytics model",
        "version",
    ),
    (
        "ModuleNotFoundError: ERROR \u274c\ufe0f yolo11s.pt requires numpy>=1.26.1, however "
        "numpy==1.24.4 is installed.",
        "version",
    ),
]


CASES += [
    # paddle/nn/layer/layers.py, set_state_dict: a head for ImageNet's classes, input-first.
    (
        "UserWarning: Skip loading for fc.weight. fc.weight receives a shape [2048, 1000], but "
        "the expected shape is [2048, 102].\n"
        "UserWarning: Skip loading for fc.bias. fc.bias receives a shape [1000], but the "
        "expected shape is [102].",
        "num_classes",
    ),
    # ... and a parameter the loaded dict lacks.
    (
        "UserWarning: Skip loading for classifier.bias. classifier.bias is not found in the "
        "provided dict.",
        "missing",
    ),
]


CASES += [
    # tensorflow/core/util/tensor_bundle: an HDF5 file given to the checkpoint reader.
    (
        "tensorflow.python.framework.errors_impl.DataLossError: Unable to open table file "
        "./weights/model.h5: Data loss: not an sstable (bad magic number): perhaps your file is "
        "in a different file format and you need to use a different restore operator?",
        "unrelated",
    ),
]


CASES += [
    # CTranslate2 (src/models/model.cc) and ollama: a model written by a later release.
    (
        "RuntimeError: Unsupported model revision. This executable supports models with "
        "revision v3 or below, but the model has revision v5. This usually means that the "
        "model was generated by a later version of CTranslate2.",
        "version",
    ),
    (
        "Error: 500 Internal Server Error: unsupported model format: this model may be "
        "incompatible with your version of Ollama. If you previously pulled this model, try "
        "updating it by running `ollama pull gemma3:12b`",
        "version",
    ),
    ('Error: unsupported architecture "Phi4MMForCausalLM"', "version"),
    # llama.cpp's count of tensors inside ollama's one-line error, beside its exit status.
    (
        "Error: 500 Internal Server Error: llama-server process has terminated: exit status 2: "
        "error loading model: done_getting_tensors: wrong number of tensors; expected 292, "
        "got 291",
        "version",
    ),
    # Quantized-model loaders finding no weights where they look (optimum-quanto's
    # models/transformers_models.py, compressed-tensors' utils/safetensors_load.py, HQQ's
    # models/base.py).
    ("ValueError: No safetensor weights found in ./llama-qint4.", "partitioned"),
    (
        "ValueError: Could not locate safetensors weight or index file from "
        "RedHatAI/Llama-3.1-8B-Instruct-quantized.w4a16.",
        "partitioned",
    ),
    (
        '  File "load_model.py", line 7, in <module>\n'
        '    model = AutoHQQHFModel.from_quantized("./llama3-8b-hqq-4bit", device="cuda")\n'
        "Exception: Weight file missing. Check your cache directory.",
        "partitioned",
    ),
    # AutoGPTQ / AutoAWQ (models/auto.py): a model type their release does not know.
    ("TypeError: qwen3 isn't supported yet.", "version"),
]


def test_tensorrt_llms_tensor_lists_read_as_missing_and_unexpected_names() -> None:
    # tensorrt_llm/models/modeling_utils.py, load: required but not provided, and the reverse.
    text = (
        "RuntimeError: Required but not provided tensors:{'transformer.ln_f.weight'}\n"
        "[TensorRT-LLM][WARNING] Provided but not required tensors: {'lm_head.bias'}"
    )
    findings = weightfit.explain(text).findings
    names = {(f.category, p) for f in findings for p in f.params}
    assert ("missing", "transformer.ln_f.weight") in names
    assert ("unexpected", "lm_head.bias") in names


@pytest.mark.parametrize(("text", "category"), CASES)
def test_a_libraries_own_loading_message_reads_as_its_cause(text: str, category: str) -> None:
    assert weightfit.explain(text).findings[0].category == category
