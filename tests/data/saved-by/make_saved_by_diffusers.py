"""Save a tiny AutoencoderKL with diffusers 0.14 (attention named query/key/value/proj_attn).

Run in a side venv (see SOURCE.md): python make_saved_by_diffusers.py OUT_DIR
"""

import sys
from pathlib import Path

import diffusers
import torch

torch.manual_seed(0)
vae = diffusers.AutoencoderKL(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",),
    up_block_types=("UpDecoderBlock2D",),
    block_out_channels=(4,),
    layers_per_block=1,
    latent_channels=2,
    norm_num_groups=2,
    sample_size=8,
)
vae.save_pretrained(
    Path(sys.argv[1]) / f"diffusers-{diffusers.__version__}" / "vae", safe_serialization=True
)
