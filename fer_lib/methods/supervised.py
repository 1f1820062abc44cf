"""Supervised classification: cross-entropy with label smoothing, on hard or soft (vote) labels."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import nn

from fer_lib.methods.base import LossOutput, StepContext


class SupervisedCE:
    """L = CE(f(x), y) with label smoothing; uses batch["soft_label"] as the target when `use_soft_labels`.

    batch["image"]: (B, C, H, W); batch["label"]: (B,) int64; batch["soft_label"]: (B, K) rows summing to 1.
    """

    def __init__(self, label_smoothing: float = 0.0, use_soft_labels: bool = False) -> None:
        self.label_smoothing = label_smoothing
        self.use_soft_labels = use_soft_labels

    def __call__(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        logits = model(batch["image"])
        target = batch["soft_label"] if self.use_soft_labels else batch["label"]
        loss = F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)
        accuracy = (logits.argmax(dim=1) == batch["label"]).float().mean()
        return LossOutput(loss, {"acc": accuracy.detach()})

