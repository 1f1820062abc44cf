"""A tiny stateful, two-stream run for the method-API tests, in-process or as a script.

The method owns a learnable temperature (a parameter), a running loss average (a buffer updated every step)
and a per-class loss table refitted by its epoch-start hook, as a GMM-refitting method would; it asks its
samples for their identity. `python tests/train_stateful.py RUN_DIR [--step-delay S]` saves RUN_DIR/final.pt.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fer_lib.data.base import FaceDataset
from fer_lib.data.requests import SampleRequest
from fer_lib.engine.train import FitResult, fit
from fer_lib.methods.base import LossOutput, Method, StepContext
from tests.train_tiny import tiny_dataset, tiny_model, tiny_settings


class StatefulEntropy(Method):
    """Cross-entropy at a learnable temperature on "labeled" + 0.1 x entropy on "unlabeled"."""

    request = SampleRequest(meta=("identity",))

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.register_buffer("loss_average", torch.zeros(()))
        self.register_buffer("class_loss", torch.zeros(num_classes))
        self.register_buffer("epochs_started", torch.zeros((), dtype=torch.long))
        self.identities_seen: list[int] = []

    def on_epoch_start(self, model: nn.Module, streams: Mapping[str, Dataset], epoch: int) -> None:
        labeled = streams["labeled"]
        samples = [labeled[i] for i in range(24)]                 # augmented with the global RNG
        with torch.no_grad():
            losses = F.cross_entropy(model(torch.stack([s["image"] for s in samples])),
                                     torch.tensor([s["label"] for s in samples]), reduction="none")
        labels = torch.tensor([s["label"] for s in samples])
        for label in labels.unique():
            self.class_loss[label] = losses[labels == label].mean()
        self.epochs_started += 1

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        labeled, unlabeled = batch["labeled"], batch["unlabeled"]
        self.identities_seen = labeled["identity"].tolist()
        loss = F.cross_entropy(model(labeled["image"]) / self.log_temperature.exp(), labeled["label"])
        probabilities = model(unlabeled["image"]).softmax(dim=1)
        loss = loss - 0.1 * (probabilities * probabilities.clamp_min(1e-8).log()).sum(dim=1).mean()
        self.loss_average.mul_(0.9).add_(0.1 * loss.detach())
        return LossOutput(loss, {"temperature": self.log_temperature.exp().detach()})


def stateful_streams() -> dict[str, FaceDataset]:
    labeled = tiny_dataset(96, seed=0)
    labeled = dataclasses.replace(labeled, meta={"identity": np.arange(96) % 12}, name="tiny-labeled")
    unlabeled = dataclasses.replace(tiny_dataset(64, seed=1), meta={"identity": np.arange(64) % 5},
                                    name="tiny-unlabeled")
    return {"labeled": labeled, "unlabeled": unlabeled}


def train_stateful(run_dir: Path, step_delay: float = 0.0, **overrides: object) -> tuple[FitResult, StatefulEntropy]:
    method = StatefulEntropy()
    on_step = (lambda step: time.sleep(step_delay)) if step_delay else None
    settings = tiny_settings(stream_batch_sizes={"unlabeled": 24}, checkpoint_every_steps=1, **overrides)
    return fit(tiny_model(), method, stateful_streams(), settings, run_dir, on_step=on_step), method


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--step-delay", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result, method = train_stateful(args.run_dir, args.step_delay, epochs=3)
    torch.save({"model": result.model.state_dict(), "method": method.state_dict()}, args.run_dir / "final.pt")


if __name__ == "__main__":
    main()
