"""The contract between a method and the engine.

A method is a callable `objective(model, batch, ctx) -> LossOutput`. The batch is the collated dict of
`FaceDataset` samples already on the device ("image" is a tensor or a list of views, "label", "index",
optionally "soft_label" and "face_box"). `ctx.teacher` is the EMA copy of the model when the run keeps
one (semi-supervised methods read their pseudo-labels from it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn


@dataclass
class StepContext:
    """Where the loop is: epoch, optimiser step within the epoch, steps since the start; the EMA teacher."""

    epoch: int
    step_in_epoch: int
    global_step: int
    total_steps: int
    teacher: nn.Module | None = None


@dataclass
class LossOutput:
    """The loss to minimise and scalar metrics to log (tensors are averaged over the epoch)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor | float] = field(default_factory=dict)


class Objective(Protocol):
    def __call__(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput: ...
