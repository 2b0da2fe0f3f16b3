"""Save tiny MoE models and LoRA adapters with transformers 4 and an older PEFT.

Run in a side venv (see SOURCE.md), never in the project's:
    python make_saved_by.py OUT_DIR
It writes OUT_DIR/transformers-<version>/ and OUT_DIR/peft-<version>/.
"""

import copy
import sys
from pathlib import Path

import peft
import torch
import transformers as T

torch.manual_seed(0)
out = Path(sys.argv[1])
tf_dir = out / f"transformers-{T.__version__}"
peft_dir = out / f"peft-{peft.__version__}"
small = dict(
    vocab_size=16,
    hidden_size=8,
    intermediate_size=8,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=16,
)
models = {
    "mixtral": T.MixtralForCausalLM(
        T.MixtralConfig(**small, num_local_experts=2, num_experts_per_tok=1)
    ),
    "qwen2moe": T.Qwen2MoeForCausalLM(
        T.Qwen2MoeConfig(
            **small,
            num_experts=2,
            num_experts_per_tok=1,
            moe_intermediate_size=4,
            shared_expert_intermediate_size=4,
        )
    ),
}
adapters = {
    "mixtral-lora": ("mixtral", ["q_proj", "w1", "w2", "w3"]),
    "mixtral-lora-w1": ("mixtral", ["q_proj", "w1"]),
    "qwen2moe-lora": ("qwen2moe", ["q_proj", "gate_proj", "up_proj", "down_proj"]),
}
for name, model in models.items():
    model.save_pretrained(tf_dir / name)
for name, (base, targets) in adapters.items():
    config = peft.LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=targets)
    wrapped = peft.get_peft_model(copy.deepcopy(models[base]), config)
    for key, param in wrapped.named_parameters():
        if "lora_B" in key:
            torch.nn.init.normal_(param)
    wrapped.save_pretrained(peft_dir / name)

# A Llava (language model and CLIP vision tower) and a LoRA on both towers' q_proj/v_proj;
# only its config.json is kept (the test builds the base from it with today's transformers).
llava = T.LlavaForConditionalGeneration(
    T.LlavaConfig(
        text_config=dict(
            model_type="llama",
            hidden_size=8,
            intermediate_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            vocab_size=16,
        ),
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=8,
            intermediate_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=14,
            patch_size=14,
        ),
        image_token_index=15,
    )
)
llava.save_pretrained(tf_dir / "llava")
config = peft.LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
peft.get_peft_model(llava, config).save_pretrained(peft_dir / "llava-lora")
