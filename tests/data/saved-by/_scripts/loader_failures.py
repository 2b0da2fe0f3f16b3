"""Failing loads with known causes, run by the real libraries (qa3-loaders, see SOURCE.md).

``expect`` is the cause as set up; the reading a text supports can be narrower (see
tests/test_explain_other_loaders.py).

``python cases.py setup NAME`` builds the files in the working directory (its output is
not kept); ``python cases.py load NAME`` runs the failing load (everything it prints, and
its uncaught traceback, is the text under test).
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn

CASES: dict[str, dict[str, object]] = {}


def _read(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _write(path: str, value: object) -> None:
    with open(path, "w") as f:
        json.dump(value, f)


def case(expect: str, **notes: object):
    def register(fn):
        name, _, step = fn.__name__.partition("__")
        CASES.setdefault(name, {"expect": expect, **notes})[step] = fn
        return fn

    return register


# ---------------------------------------------------------------- lightning


def lit_module(width: int = 16, depth: int = 2, head: int = 4):
    import lightning as L

    class Net(L.LightningModule):
        def __init__(self, width: int = 16, depth: int = 2, head: int = 4):
            super().__init__()
            self.save_hyperparameters()
            self.encoder = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])
            self.head = nn.Linear(width, head)

    return Net


def lit_save(**kw):
    import lightning as L

    Net = lit_module()
    model = Net(**kw)
    trainer = L.Trainer(max_epochs=0, logger=False, enable_checkpointing=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint("model.ckpt")


@case("wrong_variant", note="more layers in the checkpoint, strict")
def lit_depth__setup():
    lit_save(depth=3)


def lit_depth__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt", depth=2)


@case("wrong_variant", note="more layers in the checkpoint, strict=False warnings")
def lit_depth_loose__setup():
    lit_save(depth=3)


def lit_depth_loose__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt", depth=2, strict=False)


@case("num_classes", note="head of 10 outputs in ckpt, 4 in model")
def lit_head__setup():
    lit_save(head=10)


def lit_head__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt", head=4)


@case("wrong_variant", note="width 32 in ckpt, 16 in model")
def lit_width__setup():
    lit_save(width=32)


def lit_width__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt", width=16)


@case("prefix", note="state dict saved from torch.compile'd inner module (_orig_mod.)")
def lit_compiled__setup():
    lit_save()
    ckpt = torch.load("model.ckpt", weights_only=False)
    ckpt["state_dict"] = {
        k.replace("encoder.", "encoder._orig_mod."): v for k, v in ckpt["state_dict"].items()
    }
    torch.save(ckpt, "model.ckpt")


def lit_compiled__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt")


@case("prefix", note="ckpt of a module holding the net as self.model (model. prefix)")
def lit_wrapped__setup():
    lit_save()
    ckpt = torch.load("model.ckpt", weights_only=False)
    ckpt["state_dict"] = {f"model.{k}": v for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, "model.ckpt")


def lit_wrapped__load():
    Net = lit_module()
    Net.load_from_checkpoint("model.ckpt")


# ---------------------------------------------------------------- mmengine


class Seg(nn.Module):
    def __init__(self, classes: int = 19, aux: bool = False, channels: int = 8):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, channels, 3), nn.BatchNorm2d(channels))
        self.decode_head = nn.Module()
        self.decode_head.conv_seg = nn.Conv2d(channels, classes, 1)
        if aux:
            self.auxiliary_head = nn.Module()
            self.auxiliary_head.conv_seg = nn.Conv2d(channels, classes, 1)


@case("num_classes", note="150 classes (ADE) in ckpt, 19 (cityscapes) in model; strict=False")
def mm_classes__setup():
    torch.save({"meta": {}, "state_dict": Seg(150, aux=True).state_dict()}, "ckpt.pth")


def mm_classes__load():
    from mmengine.runner import load_checkpoint

    load_checkpoint(Seg(19), "ckpt.pth", map_location="cpu")


@case("num_classes", note="as mm_classes, strict=True")
def mm_classes_strict__setup():
    mm_classes__setup()


def mm_classes_strict__load():
    from mmengine.runner import load_checkpoint

    load_checkpoint(Seg(19), "ckpt.pth", map_location="cpu", strict=True)


@case("prefix", note="ckpt of backbone alone saved with backbone. prefix, loaded into backbone")
def mm_prefix__setup():
    torch.save({"state_dict": Seg().state_dict()}, "ckpt.pth")


def mm_prefix__load():
    from mmengine.runner import load_checkpoint

    load_checkpoint(Seg().backbone, "ckpt.pth", map_location="cpu")


@case("wrong_variant", note="channels 16 in ckpt vs 8 in model; strict=False")
def mm_width__setup():
    torch.save({"state_dict": Seg(channels=16).state_dict()}, "ckpt.pth")


def mm_width__load():
    from mmengine.runner import load_checkpoint

    load_checkpoint(Seg(channels=8), "ckpt.pth", map_location="cpu")


@case(
    "prefix", note="ckpt from a model wrapped as .model (EMA-like), strict=True via load_state_dict"
)
def mm_ema__setup():
    sd = {f"ema_model.{k}": v for k, v in Seg().state_dict().items()}
    torch.save({"state_dict": sd}, "ckpt.pth")


def mm_ema__load():
    from mmengine.runner import load_checkpoint

    load_checkpoint(Seg(), "ckpt.pth", map_location="cpu", strict=True)


@case("version", note="torch>=2.6 weights_only default refusing mmengine HistoryBuffer in meta")
def mm_meta_global__setup():
    from mmengine.logging import HistoryBuffer

    torch.save({"meta": {"hist": HistoryBuffer()}, "state_dict": Seg().state_dict()}, "ckpt.pth")


def mm_meta_global__load():
    torch.load("ckpt.pth")


# ---------------------------------------------------------------- accelerate


def small_mlp(width: int = 8, depth: int = 2) -> nn.Module:
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 2))


@case("wrong_variant", note="size mismatch through load_checkpoint_and_dispatch")
def acc_dispatch_width__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(16).state_dict(), "model.safetensors")


def acc_dispatch_width__load():
    import accelerate

    with accelerate.init_empty_weights():
        model = small_mlp(8)
    accelerate.load_checkpoint_and_dispatch(model, "model.safetensors", device_map={"": "cpu"})


@case("wrong_variant", note="missing keys (shallower ckpt) load_checkpoint_in_model strict=True")
def acc_missing_strict__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(8, 1).state_dict(), "model.safetensors")


def acc_missing_strict__load():
    import accelerate

    model = small_mlp(8, 2)
    accelerate.load_checkpoint_in_model(model, "model.safetensors", strict=True)


@case("wrong_variant", note="missing keys; dispatch on meta leaves params on meta then forward")
def acc_missing_meta__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(8, 1).state_dict(), "model.safetensors")


def acc_missing_meta__load():
    import accelerate

    with accelerate.init_empty_weights():
        model = small_mlp(8, 2)
    model = accelerate.load_checkpoint_and_dispatch(
        model, "model.safetensors", device_map={"": "cpu"}
    )
    model(torch.zeros(1, 8))


@case("partitioned", note="a folder without index / weights (wrong folder)")
def acc_wrong_folder__setup():
    os.makedirs("ckpt", exist_ok=True)
    with open("ckpt/config.json", "w") as f:
        f.write("{}")


def acc_wrong_folder__load():
    import accelerate

    with accelerate.init_empty_weights():
        model = small_mlp()
    accelerate.load_checkpoint_and_dispatch(model, "ckpt", device_map={"": "cpu"})


@case("partitioned", note="sharded index naming a shard that is not there")
def acc_missing_shard__setup():
    from safetensors.torch import save_file

    sd = small_mlp().state_dict()
    names = list(sd)
    half = len(names) // 2
    os.makedirs("ckpt", exist_ok=True)
    save_file({k: sd[k] for k in names[:half]}, "ckpt/model-00001-of-00002.safetensors")
    save_file({k: sd[k] for k in names[half:]}, "ckpt/model-00002-of-00002.safetensors")
    index = {
        "metadata": {},
        "weight_map": {
            k: f"model-0000{1 if i < half else 2}-of-00002.safetensors" for i, k in enumerate(names)
        },
    }
    with open("ckpt/model.safetensors.index.json", "w") as f:
        json.dump(index, f)
    os.remove("ckpt/model-00002-of-00002.safetensors")


def acc_missing_shard__load():
    import accelerate

    with accelerate.init_empty_weights():
        model = small_mlp()
    accelerate.load_checkpoint_and_dispatch(model, "ckpt", device_map={"": "cpu"})


@case("prefix", note="ckpt saved from DDP (module.) loaded with load_checkpoint_and_dispatch")
def acc_ddp_prefix__setup():
    from safetensors.torch import save_file

    save_file({f"module.{k}": v for k, v in small_mlp().state_dict().items()}, "model.safetensors")


def acc_ddp_prefix__load():
    import accelerate

    with accelerate.init_empty_weights():
        model = small_mlp()
    accelerate.load_checkpoint_and_dispatch(model, "model.safetensors", device_map={"": "cpu"})


# ---------------------------------------------------------------- safetensors


@case("partitioned", note="safetensors file cut in its data")
def st_truncated__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(64).state_dict(), "model.safetensors")
    size = os.path.getsize("model.safetensors")
    with open("model.safetensors", "r+b") as f:
        f.truncate(size // 2)


def st_truncated__load():
    from safetensors import safe_open

    with safe_open("model.safetensors", "pt") as f:
        for k in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
            f.get_tensor(k)


@case("partitioned", note="safetensors file cut inside its header")
def st_truncated_header__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(64).state_dict(), "model.safetensors")
    with open("model.safetensors", "r+b") as f:
        f.truncate(100)


def st_truncated_header__load():
    from safetensors.torch import load_file

    load_file("model.safetensors")


@case("unrelated", note="torch.save zip file named .safetensors")
def st_pickle_named__setup():
    torch.save(small_mlp().state_dict(), "model.safetensors")


def st_pickle_named__load():
    from safetensors import safe_open

    safe_open("model.safetensors", "pt")


@case("partitioned", note="git-lfs pointer in place of safetensors")
def st_lfs__setup():
    with open("model.safetensors", "w") as f:
        f.write(
            "version https://git-lfs.github.com/spec/v1\n"
            "oid sha256:4d7a2146f8c6c8f9b3b2c1f0d0a9e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1\n"
            "size 548105171\n"
        )


def st_lfs__load():
    from safetensors.torch import load_file

    load_file("model.safetensors")


@case("partitioned", note="empty file")
def st_empty__setup():
    open("model.safetensors", "wb").close()


def st_empty__load():
    from safetensors.torch import load_file

    load_file("model.safetensors")


@case("unrelated", note="HTML page saved in place of safetensors")
def st_html__setup():
    with open("model.safetensors", "w") as f:
        f.write("<!DOCTYPE html><html><head><title>Hugging Face</title></head><body></body></html>")


def st_html__load():
    from safetensors.torch import load_file

    load_file("model.safetensors")


@case("tied_weights", note="save_file of tied embedding/head")
def st_shared__setup():
    pass


def st_shared__load():
    from safetensors.torch import save_file

    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    model = nn.ModuleDict({"embed": emb, "lm_head": head})
    save_file(model.state_dict(), "model.safetensors")


@case("wrong_variant", note="safetensors.torch.load_model size mismatch / missing")
def st_load_model__setup():
    from safetensors.torch import save_file

    save_file(small_mlp(8, 1).state_dict(), "model.safetensors")


def st_load_model__load():
    from safetensors.torch import load_model

    load_model(small_mlp(8, 2), "model.safetensors")


@case("partitioned", note="header offsets past data: a file mislabelled by hand")
def st_bad_offsets__setup():
    import struct

    header = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
    with open("model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 32)


def st_bad_offsets__load():
    from safetensors.torch import load_file

    load_file("model.safetensors")


# ---------------------------------------------------------------- huggingface_hub offline


@case("partitioned", note="offline, file not in cache (hf_hub_download)")
def hub_offline__setup():
    pass


def hub_offline__load():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HOME"] = os.path.abspath("hf_home")
    from huggingface_hub import hf_hub_download

    hf_hub_download("openai/clip-vit-base-patch32", "model.safetensors")


@case("partitioned", note="offline, transformers from_pretrained of a repo id not cached")
def hub_offline_tf__setup():
    pass


def hub_offline_tf__load():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HOME"] = os.path.abspath("hf_home")
    import transformers

    transformers.AutoModel.from_pretrained("google-bert/bert-base-uncased")


@case("partitioned", note="local_files_only, diffusers from_pretrained of a repo not cached")
def hub_offline_diffusers__setup():
    pass


def hub_offline_diffusers__load():
    os.environ["HF_HOME"] = os.path.abspath("hf_home")
    import diffusers

    diffusers.UNet2DConditionModel.from_pretrained(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", subfolder="unet", local_files_only=True
    )


@case("partitioned", note="cached snapshot with config but weights file missing (offline)")
def hub_partial_cache__setup():
    os.environ["HF_HOME"] = os.path.abspath("hf_home")
    repo = "hf_home/hub/models--org--tiny"
    snap = f"{repo}/snapshots/0123456789abcdef0123456789abcdef01234567"
    os.makedirs(snap, exist_ok=True)
    os.makedirs(f"{repo}/refs", exist_ok=True)
    with open(f"{repo}/refs/main", "w") as f:
        f.write("0123456789abcdef0123456789abcdef01234567")
    import transformers

    cfg = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
    )
    cfg.save_pretrained(snap)


def hub_partial_cache__load():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HOME"] = os.path.abspath("hf_home")
    import transformers

    transformers.AutoModel.from_pretrained("org/tiny")


# ---------------------------------------------------------------- torch.load weights_only


def tl_save(obj):
    torch.save(obj, "ckpt.pt")


def tl_load():
    torch.load("ckpt.pt")


@case("version", note="argparse.Namespace in ckpt")
def tl_namespace__setup():
    import argparse

    tl_save({"args": argparse.Namespace(lr=0.1), "model": small_mlp().state_dict()})


def _reg_load(name):
    def fn():
        tl_load()

    fn.__name__ = f"{name}__load"
    CASES[name]["load"] = fn


_reg_load("tl_namespace")


@case("version", note="numpy scalar (np.float64) in ckpt")
def tl_numpy_scalar__setup():
    import numpy as np

    tl_save({"best_acc": np.float64(0.9), "model": small_mlp().state_dict()})


_reg_load("tl_numpy_scalar")


@case("version", note="numpy array in ckpt")
def tl_numpy_array__setup():
    import numpy as np

    tl_save({"anchors": np.zeros((3, 2)), "model": small_mlp().state_dict()})


_reg_load("tl_numpy_array")


@case("unrelated", note="whole nn.Module pickled")
def tl_whole_module__setup():
    tl_save(small_mlp())


_reg_load("tl_whole_module")


@case("version", note="user class from __main__ in ckpt (config object)")
def tl_user_class__setup():
    import types

    mod = types.ModuleType("myproj.config")
    sys.modules["myproj"] = types.ModuleType("myproj")
    sys.modules["myproj.config"] = mod

    class TrainConfig:
        def __init__(self):
            self.lr = 0.1

    TrainConfig.__module__ = "myproj.config"
    TrainConfig.__qualname__ = "TrainConfig"
    mod.TrainConfig = TrainConfig
    tl_save({"config": TrainConfig(), "model": small_mlp().state_dict()})


_reg_load("tl_user_class")


@case("version", note="functools.partial in ckpt")
def tl_partial__setup():
    import functools

    tl_save({"act": functools.partial(max, 0), "model": small_mlp().state_dict()})


_reg_load("tl_partial")


@case("version", note="pathlib.PosixPath in ckpt")
def tl_path__setup():
    import pathlib

    tl_save({"out_dir": pathlib.PosixPath("/tmp/x"), "model": small_mlp().state_dict()})


_reg_load("tl_path")


@case("version", note="numpy dtype in ckpt")
def tl_numpy_dtype__setup():
    import numpy as np

    tl_save({"dtype": np.dtype("float32"), "model": small_mlp().state_dict()})


_reg_load("tl_numpy_dtype")


@case("version", note="datetime in ckpt")
def tl_datetime__setup():
    import datetime

    tl_save({"saved": datetime.datetime(2024, 1, 1), "model": small_mlp().state_dict()})


_reg_load("tl_datetime")


@case("version", note="optimizer state with a defaultdict: allowed? plus Enum")
def tl_enum__setup():
    import enum

    class Mode(enum.Enum):
        TRAIN = 1

    Mode.__module__ = "__main__"
    Mode.__qualname__ = "Mode"
    sys.modules["__main__"].Mode = Mode
    tl_save({"mode": Mode.TRAIN})


_reg_load("tl_enum")


@case("version", note="torch.load(weights_only=True) explicit, transformers TrainingArguments-like")
def tl_explicit__setup():
    import argparse

    tl_save({"args": argparse.Namespace(lr=0.1)})


def tl_explicit__load():
    torch.load("ckpt.pt", weights_only=True)


@case("unrelated", note="torch.load on a safetensors file")
def tl_safetensors__setup():
    from safetensors.torch import save_file

    save_file(small_mlp().state_dict(), "ckpt.pt")


_reg_load("tl_safetensors")


# ---------------------------------------------------------------- sentence-transformers


def st_model(tmp: str, dense_out: int = 16):
    import transformers
    from sentence_transformers import SentenceTransformer, models

    cfg = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    bert = transformers.BertModel(cfg)
    bert.save_pretrained(tmp + "/bert")
    _tiny_tokenizer(tmp + "/bert")
    word = models.Transformer(tmp + "/bert")
    pool = models.Pooling(32)
    dense = models.Dense(32, dense_out)
    return SentenceTransformer(modules=[word, pool, dense])


def _tiny_tokenizer(path: str) -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]
    with open(path + "/vocab.txt", "w") as f:
        f.write("\n".join(vocab) + "\n")
    import transformers

    transformers.BertTokenizer(path + "/vocab.txt").save_pretrained(path)


@case("wrong_variant", note="ST Dense module config says out 8, weights have 16")
def sbert_dense__setup():
    m = st_model("build", 16)
    m.save("st")
    import glob

    cfgs = glob.glob("st/2_Dense/config.json")
    c = _read(cfgs[0])
    c["out_features"] = 8
    _write(cfgs[0], c)


def sbert_dense__load():
    from sentence_transformers import SentenceTransformer

    SentenceTransformer("st", device="cpu")


@case("wrong_variant", note="ST transformer config says 3 layers, weights have 2")
def sbert_layers__setup():
    m = st_model("build")
    m.save("st")
    c = _read("st/config.json")
    c["num_hidden_layers"] = 3
    _write("st/config.json", c)


def sbert_layers__load():
    from sentence_transformers import SentenceTransformer

    SentenceTransformer("st", device="cpu")


@case("wrong_variant", note="ST transformer config hidden 64, weights 32")
def sbert_hidden__setup():
    m = st_model("build")
    m.save("st")
    c = _read("st/config.json")
    c["hidden_size"] = 64
    c["intermediate_size"] = 74
    _write("st/config.json", c)


def sbert_hidden__load():
    from sentence_transformers import SentenceTransformer

    SentenceTransformer("st", device="cpu")


@case("partitioned", note="ST folder whose Dense weights file is missing")
def sbert_dense_missing__setup():
    m = st_model("build")
    m.save("st")
    import glob

    for p in glob.glob("st/2_Dense/model.safetensors") + glob.glob("st/2_Dense/pytorch_model.bin"):
        os.remove(p)


def sbert_dense_missing__load():
    from sentence_transformers import SentenceTransformer

    SentenceTransformer("st", device="cpu")


# ---------------------------------------------------------------- diffusers


def tiny_unet(**kw):
    from diffusers import UNet2DConditionModel

    cfg = dict(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    cfg.update(kw)
    return UNet2DConditionModel(**cfg)


def unet_edit(key, value):
    c = _read("unet/config.json")
    c[key] = value
    _write("unet/config.json", c)


@case("encoder_swap", note="config cross_attention_dim 32, weights 16 (default low_cpu_mem_usage)")
def df_cross__setup():
    tiny_unet().save_pretrained("unet")
    unet_edit("cross_attention_dim", 32)


def df_cross__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("encoder_swap", note="as df_cross, low_cpu_mem_usage=False")
def df_cross_nolow__setup():
    df_cross__setup()


def df_cross_nolow__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet", low_cpu_mem_usage=False)


@case("latent_channels", note="config in_channels 9 (inpaint), weights 4")
def df_inchannels__setup():
    tiny_unet().save_pretrained("unet")
    unet_edit("in_channels", 9)


def df_inchannels__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("wrong_variant", note="config layers_per_block 2, weights 1 (missing keys)")
def df_layers__setup():
    tiny_unet().save_pretrained("unet")
    unet_edit("layers_per_block", 2)


def df_layers__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("wrong_variant", note="config layers_per_block 2, weights 1, low_cpu_mem_usage=False")
def df_layers_nolow__setup():
    df_layers__setup()


def df_layers_nolow__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet", low_cpu_mem_usage=False)


@case("wrong_variant", note="config layers_per_block 1, weights 2 (unexpected keys)")
def df_layers_more__setup():
    tiny_unet(layers_per_block=2).save_pretrained("unet")
    unet_edit("layers_per_block", 1)


def df_layers_more__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("version", note="low_cpu_mem_usage with ignore_mismatched_sizes")
def df_ignore_low__setup():
    df_cross__setup()


def df_ignore_low__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained(
        "unet", ignore_mismatched_sizes=True, low_cpu_mem_usage=True
    )


@case("partitioned", note="unet folder with config but no weights")
def df_noweights__setup():
    tiny_unet().save_pretrained("unet")
    os.remove("unet/diffusion_pytorch_model.safetensors")


def df_noweights__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("unrelated", note="a VAE folder loaded as UNet")
def df_wrong_class__setup():
    from diffusers import AutoencoderKL

    AutoencoderKL(
        block_out_channels=(8,), norm_num_groups=4, latent_channels=4, sample_size=8
    ).save_pretrained("unet")


def df_wrong_class__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained("unet")


@case("unrelated", note="from_single_file of another model's file with a local config")
def df_single_file__setup():
    from safetensors.torch import save_file

    tiny_unet().save_pretrained("unet")
    save_file(small_mlp().state_dict(), "single.safetensors")


def df_single_file__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_single_file("single.safetensors", config="unet")


@case(
    "wrong_variant",
    note="from_single_file of an original-layout SD unet of other width, local config",
)
def df_single_file_width__setup():
    from safetensors.torch import save_file

    tiny_unet().save_pretrained("unet")
    tiny_unet(block_out_channels=(16, 32), norm_num_groups=4).save_pretrained("unet_wide")
    sd = tiny_unet(block_out_channels=(16, 32)).state_dict()
    save_file({f"model.diffusion_model.{k}": v for k, v in sd.items()}, "single.safetensors")


def df_single_file_width__load():
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_single_file("single.safetensors", config="unet")


def sd_pipe(cross: int = 16):
    import transformers
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline

    unet = tiny_unet(cross_attention_dim=cross)
    vae = AutoencoderKL(
        block_out_channels=(8,), norm_num_groups=4, latent_channels=4, sample_size=8
    )
    te = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            hidden_size=cross,
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=2,
            vocab_size=100,
            max_position_embeddings=16,
        )
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=te,
        tokenizer=None,
        unet=unet,
        scheduler=DDIMScheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_unet_lora(cross: int, path: str, text: bool = False):
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = sd_pipe(cross)
    pipe.unet.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    te_layers = None
    if text:
        pipe.text_encoder.add_adapter(
            LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"])
        )
        te_layers = get_peft_model_state_dict(pipe.text_encoder)
    StableDiffusionPipeline.save_lora_weights(
        path,
        unet_lora_layers=get_peft_model_state_dict(pipe.unet),
        text_encoder_lora_layers=te_layers,
        safe_serialization=True,
    )


@case("lora_mismatch", note="LoRA trained for a unet of cross_attention_dim 32 loaded into 16")
def df_lora_other__setup():
    save_unet_lora(32, "lora")


def df_lora_other__load():
    pipe = sd_pipe(16)
    pipe.load_lora_weights("lora")


@case("lora_mismatch", note="LoRA whose keys are for a different architecture (transformer blocks)")
def df_lora_keys__setup():
    from safetensors.torch import save_file

    sd = {}
    for i in range(2):
        for p in ("to_q", "to_k"):
            sd[f"transformer.transformer_blocks.{i}.attn.{p}.lora_A.weight"] = torch.zeros(4, 16)
            sd[f"transformer.transformer_blocks.{i}.attn.{p}.lora_B.weight"] = torch.zeros(16, 4)
    os.makedirs("lora", exist_ok=True)
    save_file(sd, "lora/pytorch_lora_weights.safetensors")


def df_lora_keys__load():
    pipe = sd_pipe(16)
    pipe.load_lora_weights("lora")


@case(
    "lora_mismatch", note="kohya-style LoRA for SDXL (text_encoder_2 / other unet blocks) into SD"
)
def df_lora_kohya__setup():
    from safetensors.torch import save_file

    sd = {}
    for blk in ("input_blocks_4_1", "input_blocks_5_1"):
        base = f"lora_unet_{blk}_transformer_blocks_0_attn1_to_q"
        sd[base + ".lora_down.weight"] = torch.zeros(4, 640)
        sd[base + ".lora_up.weight"] = torch.zeros(640, 4)
        sd[base + ".alpha"] = torch.tensor(4.0)
    base = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj"
    sd[base + ".lora_down.weight"] = torch.zeros(4, 1280)
    sd[base + ".lora_up.weight"] = torch.zeros(1280, 4)
    sd[base + ".alpha"] = torch.tensor(4.0)
    os.makedirs("lora", exist_ok=True)
    save_file(sd, "lora/lora.safetensors")


def df_lora_kohya__load():
    pipe = sd_pipe(16)
    pipe.load_lora_weights("lora", weight_name="lora.safetensors")


# ---------------------------------------------------------------- main

for _n, _f in list(globals().items()):
    if _n.endswith("__load") and callable(_f) and _n[:-6] in CASES:
        CASES[_n[:-6]].setdefault("load", _f)


if __name__ == "__main__":
    if sys.argv[1] == "list":
        for n, c in CASES.items():
            print(n, c["expect"], c.get("note", ""), sep="\t")
    else:
        CASES[sys.argv[2]][sys.argv[1]]()
