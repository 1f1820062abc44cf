"""Supervised classification: cross-entropy with label smoothing, on hard, vote or mixed (soft) targets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import nn

from fer_lib.data.requests import SampleRequest
from fer_lib.methods.base import LossOutput, Method, StepContext


@dataclass(frozen=True)
class SupervisedSettings:
    """Cross-entropy's settings."""

    label_smoothing: float = 0.1
    soft_labels: bool = False          # learn the annotators' vote distribution (FERPlus-style) instead of the label


class SupervisedCE(Method):
    """L = CE(f(x), y) with label smoothing.

    The target is batch["target"] (B, K) when a batch transform (Mixup, CutMix) left soft targets there, else
    batch["soft_label"] (B, K) with `soft_labels`, else batch["label"] (B,) int64. batch["image"]: (B, C, H, W).
    """

    def __init__(self, label_smoothing: float = 0.0, soft_labels: bool = False) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.soft_labels = soft_labels
        self.request = SampleRequest(meta=("soft_label",) if soft_labels else ())

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        logits = model(batch["image"])
        if "target" in batch:                       # mixed soft targets already carry their smoothing
            loss = -(batch["target"] * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
        else:
            target = batch["soft_label"] if self.soft_labels else batch["label"]
            loss = F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)
        accuracy = (logits.argmax(dim=1) == batch["label"]).float().mean()
        return LossOutput(loss, {"acc": accuracy.detach()})
