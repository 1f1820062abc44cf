"""One config object per run: a named profile (`smoke`, `quick`, `full`) plus overrides.

Papermill parameters and CLI flags map onto `RunConfig` fields one to one; a value of None means
"keep the profile's value", so a notebook's parameters cell can list every knob with None defaults.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """Every knob a notebook or CLI run may turn. Batch sizes are global (summed over processes)."""

    profile: str = "quick"
    # data
    dataset: str = "synthfer"          # synthfer | fer2013 | ferplus | rafdb | affectnet | ckplus | imagefolder
    data_root: str = ""                # folder of a real dataset (ignored for synthfer)
    data_options: str = ""             # real-dataset loader options, e.g. "label_mode=probability,val_fraction=0.2"
    image_size: int = 48
    channels: int = 3
    synthfer_train: int = 4000         # labeled SynthFER training images
    synthfer_val: int = 500
    synthfer_test: int = 1000
    synthfer_identities: int = 200
    synthfer_unlabeled: int = 6000     # unlabeled face corpus for face-domain MAE (SSFER story)
    synthfer_general: int = 6000       # general, non-face image corpus (MIMIC story)
    synthfer_scenes: str = "lab"       # lab (CK+-like: frontal, plain background) | wild (RAF-DB-like: pose, clutter)
    label_noise: float = 0.0           # fraction of training labels flipped (noisy-label methods)
    face_corpus_root: str = ""         # image folder of unlabeled faces for MAE; empty = built-in corpus
    general_corpus_root: str = ""      # image folder of general images for MAE; empty = built-in corpus
    # ViT encoder
    patch_size: int = 6
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    # MAE
    decoder_embed_dim: int = 64
    decoder_depth: int = 1
    decoder_num_heads: int = 4
    mask_ratio: float = 0.75
    norm_pix_loss: bool = False
    pretrain_epochs: int = 6
    pretrain_batch_size: int = 64
    pretrain_base_lr: float = 3e-3     # lr = base_lr * batch / 256 (MAE convention)
    pretrain_warmup_epochs: int = 2
    pretrain_weight_decay: float = 0.05
    # fine-tuning
    finetune_epochs: int = 5
    finetune_batch_size: int = 64
    finetune_base_lr: float = 8e-3
    finetune_warmup_epochs: int = 1
    global_pool: str = "avg"           # classifier pooling: "avg" (+ fc_norm, MAE fine-tuning) or "token" (CLS)
    finetune_crop_min: float = 1.0     # RandomResizedCrop scale lower bound; 1 = flip only (short runs learn faster)
    finetune_weight_decay: float = 0.05
    layer_decay: float = 0.75
    drop_path: float = 0.1
    label_smoothing: float = 0.1
    min_lr: float = 1e-6
    # linear probe / k-NN on frozen features
    knn_k: int = 20
    # engine
    device: str = "auto"               # auto | cpu | cuda | cuda:N | mps
    amp: bool = True                   # mixed precision on CUDA (bf16 where supported, else fp16)
    clip_grad_norm: float = 1.0        # 0 disables clipping
    ema_decay: float = 0.0             # 0 disables the EMA of weights
    micro_batch_size: int = 0          # per-process batch per forward; 0 = no gradient accumulation
    num_workers: int = 1               # loader processes: 1 keeps augmentation under 10% of step time
    threads: int = 0                   # CPU threads for torch; 0 = torch's default (OMP_NUM_THREADS or all cores)
    checkpoint_every_steps: int = 0    # 0 = checkpoint at epoch ends only
    seed: int = 0
    init_checkpoint: str = ""          # path to an official MAE / fer_lib checkpoint to start from
    run_tag: str = ""                  # appended to run folders (mae_face_<tag>, finetune_scratch_<tag>): variants

    def replace(self, **overrides: Any) -> "RunConfig":
        """A copy with `overrides` applied (None values ignored, unknown names rejected)."""
        return dataclasses.replace(self, **_checked(overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, RunConfig] = {
    # CI: every notebook in well under a minute of training.
    "smoke": RunConfig(
        profile="smoke", image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2,
        decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2,
        synthfer_train=384, synthfer_val=96, synthfer_test=128, synthfer_identities=32,
        synthfer_unlabeled=384, synthfer_general=384,
        pretrain_epochs=1, pretrain_batch_size=64, pretrain_warmup_epochs=0,
        finetune_epochs=1, finetune_batch_size=64, finetune_warmup_epochs=0, knn_k=5, num_workers=0),
    # Classroom default: each notebook in about 5 minutes on a 2-core laptop CPU.
    "quick": RunConfig(profile="quick"),
    # GPU, real data, paper scale: ViT-B/16 at 224 px with the MAE pre-training / fine-tuning recipes.
    "full": RunConfig(
        profile="full", dataset="rafdb", synthfer_scenes="wild", image_size=224, patch_size=16, embed_dim=768,
        depth=12, num_heads=12, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, norm_pix_loss=True,
        synthfer_train=20000, synthfer_val=2000, synthfer_test=4000, synthfer_identities=2000,
        synthfer_unlabeled=100000, synthfer_general=100000,
        pretrain_epochs=800, pretrain_batch_size=4096, pretrain_base_lr=1.5e-4, pretrain_warmup_epochs=40,
        finetune_epochs=100, finetune_batch_size=1024, finetune_base_lr=5e-4, finetune_warmup_epochs=5,
        finetune_crop_min=0.5, layer_decay=0.65, drop_path=0.1, device="cuda", micro_batch_size=256,
        num_workers=8, checkpoint_every_steps=500),
}


def _checked(overrides: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
    return {k: _coerce(known[k], v) for k, v in overrides.items() if v is not None}


def _coerce(field: dataclasses.Field, value: Any) -> Any:
    """Accept strings for typed fields (papermill -p / CLI), e.g. '0.5' for a float, 'false' for a bool."""
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    if not isinstance(value, str) or kind == "str":
        return value
    if kind == "bool":
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"config field {field.name!r} expects true/false, got {value!r}")
    return {"int": int, "float": float}[kind](value)


def make_config(profile: str = "quick", **overrides: Any) -> RunConfig:
    """The named profile with `overrides` applied; None values keep the profile's value."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile].replace(**overrides)
