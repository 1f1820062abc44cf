"""A tiny, fully seeded training run shared by the engine tests, in-process or as a script.

`python tests/train_tiny.py RUN_DIR [--step-delay S] [--micro-batch M] [--dropout P]` trains and saves the final
weights to RUN_DIR/final.pt; under torchrun it runs DDP on gloo.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_lib.data.base import EMOTIONS_7, FaceDataset
from fer_lib.data.transforms import train_transform
from fer_lib.engine.train import FitResult, TrainSettings, fit
from fer_lib.methods.supervised import SupervisedCE


def tiny_dataset(num_images: int = 96, size: int = 16, seed: int = 0) -> FaceDataset:
    """Random images whose label is readable from the mean colour, so a model can learn something."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, num_images)
    images = rng.integers(0, 80, (num_images, size, size, 3)) + (labels * 25)[:, None, None, None]
    return FaceDataset(images.astype(np.uint8), labels, EMOTIONS_7, transform=train_transform(size, scale=(0.5, 1)))


def tiny_model(seed: int = 0, dropout: float = 0.1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.GELU(), nn.Dropout(dropout), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 7))


def tiny_settings(**overrides: object) -> TrainSettings:
    base = dict(epochs=2, batch_size=16, base_lr=0.05, warmup_epochs=0.5, device="cpu", clip_grad_norm=1.0,
                ema_decay=0.9, seed=3)
    return TrainSettings(**{**base, **overrides})


def train_tiny(run_dir: Path, step_delay: float = 0.0, dropout: float = 0.1, **overrides: object) -> FitResult:
    on_step = (lambda step: time.sleep(step_delay)) if step_delay else None
    return fit(tiny_model(dropout=dropout), SupervisedCE(label_smoothing=0.1), tiny_dataset(), tiny_settings(**overrides),
               run_dir, on_step=on_step)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--micro-batch", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=0)
    parser.add_argument("--dropout", type=float, default=0.1, help="0 makes DDP match one process exactly")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = train_tiny(args.run_dir, args.step_delay, args.dropout, micro_batch_size=args.micro_batch,
                        checkpoint_every_steps=args.checkpoint_every)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        torch.save(result.model.state_dict(), args.run_dir / "final.pt")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
