"""Run a model over a dataset in eval mode and collect outputs."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


@torch.no_grad()
def collect_outputs(fn: Callable[[torch.Tensor], torch.Tensor], dataset: Dataset, device: torch.device,
                    batch_size: int = 256, num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply `fn` (logits or features of a batch) to every sample; ((N, D) float32, (N,) labels) on the CPU."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    outputs, labels = [], []
    for batch in loader:
        outputs.append(fn(batch["image"].to(device)).float().cpu())
        labels.append(batch["label"])
    return torch.cat(outputs), torch.cat(labels)


def predict_logits(model: nn.Module, dataset: Dataset, device: torch.device,
                   batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, K) and labels (N,) of `dataset` under `model` in eval mode (training mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        return collect_outputs(model, dataset, device, batch_size)
    finally:
        model.train(was_training)
