"""The contract between a method and the engine.

A method is an `nn.Module`: `forward(model, batch, ctx) -> LossOutput`. Its own parameters (a projection
head, a learnable temperature) are optimised with the model's, and its buffers and extra state (per-class
GMMs, a relabel table, a feature queue) live in its `state_dict`, which every checkpoint saves, so a run
resumes exactly. `on_epoch_start` runs before each epoch with the model and the training streams (to refit
a GMM on per-sample losses, or rebuild a retrieval gallery). `request` says what each sample must carry
(metadata keys, extra views, partner images); `fit` asks every stream for it.

The batch is the collated dict of `FaceDataset` samples on the device ("image", "label", "index", plus what
the request adds; "target" holds soft targets after a mixing batch transform). With several streams it is
{stream name: batch}. `ctx.teacher` is the EMA copy of the model when the run keeps one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from fer_lib.data.requests import SampleRequest


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


class Method(nn.Module):
    """Base class of every training method (see the module docstring)."""

    request: SampleRequest = SampleRequest()

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        raise NotImplementedError

    def on_epoch_start(self, model: nn.Module, streams: Mapping[str, Dataset], epoch: int) -> None:
        """Called before epoch `epoch` (0-based) starts; the default does nothing."""

    def settings(self) -> dict[str, Any]:
        """The method's public scalar settings (e.g. temperature, threshold): part of a run's identity."""
        return {"method": type(self).__name__, **{
            name: value for name, value in sorted(vars(self).items())
            if not name.startswith("_") and name != "training" and isinstance(value, (bool, int, float, str, tuple))}}
