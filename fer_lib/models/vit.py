"""The ViT classifier that is fine-tuned or probed, and loading an MAE encoder into it.

It is timm's `VisionTransformer` with the MAE encoder's shape (CLS token, qkv bias, LayerNorm eps 1e-6),
so its encoder keys equal `MaskedAutoencoderViT`'s and the official `mae_pretrain_vit_*.pth` keys.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from fer_lib.models.archs import ENCODERS, named
from fer_lib.models.checkpoints import LoadReport, WeightSource, load_weights

MAE_ONLY_KEYS = ("decoder_", "mask_token")  # the MAE decoder: never part of a classifier


def build_classifier(arch: str, num_classes: int, img_size: int = 224, in_chans: int = 3,
                     global_pool: Literal["token", "avg"] = "avg", drop_path_rate: float = 0.0) -> nn.Module:
    """A randomly initialised classifier: the collection's ViT for a name in `models.archs.ENCODERS`, else any
    timm model by name (e.g. "resnet18", as CRS-CONT uses), whose own pooling is kept."""
    if arch in ENCODERS:
        return build_vit_classifier(arch, num_classes, img_size, in_chans, global_pool, drop_path_rate)
    if arch not in timm.list_models():
        raise ValueError(f"unknown architecture {arch!r}: neither one of {sorted(ENCODERS)} nor a timm model name")
    return timm.create_model(arch, pretrained=False, num_classes=num_classes, in_chans=in_chans,
                             drop_path_rate=drop_path_rate)


def build_vit_classifier(arch: str, num_classes: int, img_size: int = 224, in_chans: int = 3,
                         global_pool: Literal["token", "avg"] = "avg", drop_path_rate: float = 0.0,
                         **kwargs: Any) -> VisionTransformer:
    """A randomly initialised ViT classifier with encoder `arch` (models.archs), shaped like that MAE encoder.

    global_pool "token" classifies the final-LayerNorm CLS token; "avg" averages the patch tokens and
    applies a new LayerNorm (`fc_norm`) instead of the encoder's final one, as MAE fine-tuning does.
    `kwargs` override the named size (e.g. depth=6).
    """
    return VisionTransformer(img_size=img_size, in_chans=in_chans, num_classes=num_classes, global_pool=global_pool,
                             qkv_bias=True, class_token=True, drop_path_rate=drop_path_rate,
                             **named(ENCODERS, arch, kwargs))


def load_encoder_weights(model: nn.Module, source: WeightSource) -> LoadReport:
    """Load an encoder (an MAE: ours, a fer_lib checkpoint or an official one; or any checkpoint of the same
    classifier, e.g. a contrastive pre-training) into `model`, keeping the model's own classifier head.

    The decoder is dropped, the position embedding is resized when the patch grids differ, the head
    (and `fc_norm` under average pooling) stays as initialised; with average pooling the encoder's final
    LayerNorm is unused and dropped. Raises CheckpointError naming the keys of another architecture.
    """
    own = model.state_dict()
    head = model.pretrained_cfg.get("classifier", "head") if hasattr(model, "pretrained_cfg") else "head"
    drop = MAE_ONLY_KEYS + (f"{head}.",) + (() if "norm.weight" in own or not isinstance(model, VisionTransformer)
                                            else ("norm.",))
    return load_weights(model, source, drop=drop, keep_new=(f"{head}.", "fc_norm."))


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no gradients inside the block; the model's previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def pre_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """What a timm classifier's head sees (pooled, and normalised for a ViT), in the model's current mode:
    (N, C, H, W) -> (N, D). Contrastive methods train on these."""
    return model.forward_head(model.forward_features(images), pre_logits=True)


def vit_features(vit: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Pre-head features of any timm classifier in eval mode without gradients: (N, C, H, W) -> (N, D)."""
    with evaluating(vit):
        return pre_logits(vit, images)
