"""Save a tiny model with DeepSpeed ZeRO stage 1 and 3 on CPU, one rank (writes ./zero1, ./zero3).

Run in a side venv (torch==2.13.0, then deepspeed==0.19.8), from this folder:
    DS_BUILD_OPS=0 DS_ACCELERATOR=cpu python make.py 1 && ... python make.py 3
"""

import os
import sys

import deepspeed
import torch
from torch import nn

# The CPU accelerator JIT-builds a shared-memory comm op with a compiler; one rank needs none.
deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 12)
        self.norm = nn.LayerNorm(12)
        self.fc2 = nn.Linear(12, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.fc1(x)))


stage = int(sys.argv[1])
os.environ.update(
    MASTER_ADDR="127.0.0.1", MASTER_PORT="29633", RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"
)
torch.manual_seed(0)
config = {
    "train_batch_size": 2,
    "optimizer": {"type": "Adam", "params": {"lr": 1e-3, "torch_adam": True}},
    "zero_optimization": {"stage": stage},
}
model = Net()
engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=config)
engine.backward(engine(torch.randn(2, 8)).sum())
engine.step()
engine.save_checkpoint(f"zero{stage}", tag="global_step1")
