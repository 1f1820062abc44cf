"""Masked autoencoding as a training objective (the MAE model computes its own loss)."""
from __future__ import annotations

from typing import Any

from torch import nn

from fer_lib.methods.base import LossOutput, StepContext


class MAEObjective:
    """L = mean over masked patches of the per-patch MSE between prediction and (normalised) pixels.

    batch["image"]: (B, C, H, W); the model is a MaskedAutoencoderViT: model(images, mask_ratio) -> (loss, pred, mask).
    """

    def __init__(self, mask_ratio: float = 0.75) -> None:
        self.mask_ratio = mask_ratio

    def __call__(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        loss, _, _ = model(batch["image"], self.mask_ratio)
        return LossOutput(loss)
