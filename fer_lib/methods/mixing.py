"""Mixing as a batch transform (timm's Mixup / CutMix): mixed images plus soft targets, composed by a recipe
as MAE's fine-tuning script does (`samples, targets = mixup_fn(samples, targets)`), learned by SupervisedCE
from batch["target"]."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timm.data import Mixup


@dataclass(frozen=True)
class MixingSettings:
    """Mixup / CutMix on the training batch; both alphas 0 = no mixing."""

    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_switch_prob: float = 0.5        # chance of CutMix instead of Mixup when both are on
    mix_mode: str = "batch"             # "batch": one lambda per batch; "pair" / "elem": per pair / sample

    @property
    def enabled(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0


class MixBatch:
    """Batch transform: batch["image"] (B, C, H, W) mixed with its flipped batch, batch["target"] (B, K) the
    matching soft targets (label-smoothed by `label_smoothing`). Draws lambda from NumPy's global RNG, which
    checkpoints save, so a run with mixing resumes exactly."""

    def __init__(self, settings: MixingSettings, num_classes: int, label_smoothing: float = 0.0) -> None:
        self.mix = Mixup(mixup_alpha=settings.mixup_alpha, cutmix_alpha=settings.cutmix_alpha,
                         switch_prob=settings.mix_switch_prob, mode=settings.mix_mode,
                         label_smoothing=label_smoothing, num_classes=num_classes)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images, target = self.mix(batch["image"], batch["label"])
        return {**batch, "image": images, "target": target}
