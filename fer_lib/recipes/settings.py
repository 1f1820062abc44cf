"""The recipes' own settings: how long and how hard MAE pre-training, fine-tuning and probing train."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PretrainSettings:
    """MAE pre-training schedule (MAE PRETRAIN.md, scaled by the profile): lr = base_lr * batch / 256."""

    epochs: int = 6
    batch_size: int = 64
    base_lr: float = 3e-3
    warmup_epochs: int = 2
    weight_decay: float = 0.05


@dataclass(frozen=True)
class FinetuneSettings:
    """Fine-tuning schedule (MAE FINETUNE.md, scaled by the profile); layer decay only for pre-trained encoders."""

    epochs: int = 5
    batch_size: int = 64
    base_lr: float = 8e-3
    warmup_epochs: int = 1
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    drop_path: float = 0.1
    min_lr: float = 1e-6
    crop_min: float = 1.0              # RandomResizedCrop scale lower bound; 1 = flip only (short runs learn faster)
    global_pool: str = "avg"           # classifier pooling: "avg" (+ fc_norm, MAE fine-tuning) or "token" (CLS)
    ema_decay: float = 0.0             # 0 disables the EMA of weights


@dataclass(frozen=True)
class ProbeSettings:
    """Frozen-encoder evaluation: k of the k-NN classifier (the linear probe chooses its C on val)."""

    knn_k: int = 20


@dataclass(frozen=True)
class ContrastivePretrainSettings:
    """Contrastive pre-training schedule and corpus: lr = base_lr * batch / 256 with warm-up + cosine.

    On SynthFER the corpus is `sequences` short videos of `frames` frames (labeled per frame, so SupCon and
    CRS-CONT train on the same images as SimCLR and SSL-FER's temporal variants); on real data it is the labeled
    training split, or the frame folder `sequences_root` (see data_scripts/README.md) for TimeAug / HardNeg.
    """

    epochs: int = 2
    batch_size: int = 128
    base_lr: float = 6e-4                # SSL-FER: Adam 3e-4 at 128 tuples
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    sequences: int = 64
    frames: int = 16
    sequences_root: str = ""
