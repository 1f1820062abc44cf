"""Masked autoencoding as a training method (the MAE model computes its own loss)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from fer_lib.methods.base import LossOutput, Method, StepContext


@dataclass(frozen=True)
class MAESettings:
    """The MAE method: how much to mask, the loss target and the decoder (a name in models.archs.DECODERS)."""

    mask_ratio: float = 0.75
    norm_pix_loss: bool = False        # per-patch normalised pixel targets (the reference's ViT-B/L setting)
    decoder: str = "dec64d1"


class MAE(Method):
    """L = mean over masked patches of the per-patch MSE between prediction and (normalised) pixels.

    batch["image"]: (B, C, H, W); the model is a MaskedAutoencoderViT: model(images, mask_ratio) -> (loss, pred, mask).
    """

    def __init__(self, mask_ratio: float = 0.75) -> None:
        super().__init__()
        self.mask_ratio = mask_ratio

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        loss, _, _ = model(batch["image"], self.mask_ratio)
        return LossOutput(loss)
