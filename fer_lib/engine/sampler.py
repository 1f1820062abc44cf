"""Deterministic batches for resumable, multi-process training.

Each epoch's order is a permutation fixed by (seed, epoch). A global batch is cut into
world_size * accum_steps equal micro-batches; rank r's a-th micro-batch is chunk a * world_size + r, so
2 processes with half the batch see exactly the samples one process sees. Every sample carries its own
augmentation seed, so augmentations do not depend on worker count or on where a run was resumed.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A per-(seed, epoch, sample) augmentation seed."""
    return (seed * 2_654_435_761 + epoch * 97_531 + index * 40_503 + 1) % (2**63 - 1)


class SeededBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields this rank's micro-batches of (index, augmentation seed); the last partial batch is dropped."""

    def __init__(self, num_samples: int, global_batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1, accum_steps: int = 1, shuffle: bool = True) -> None:
        chunks = world_size * accum_steps
        if global_batch_size % chunks:
            raise ValueError(f"batch size {global_batch_size} is not divisible by processes x accumulation "
                             f"steps = {world_size} x {accum_steps}")
        if num_samples < global_batch_size:
            raise ValueError(f"dataset has {num_samples} samples, fewer than one batch of {global_batch_size}; "
                             f"lower the batch size or use more data")
        self.num_samples, self.global_batch_size, self.seed = num_samples, global_batch_size, seed
        self.rank, self.world_size, self.accum_steps, self.shuffle = rank, world_size, accum_steps, shuffle
        self.micro_batch_size = global_batch_size // chunks
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.global_batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first `start_batch` global batches (resume)."""
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.accum_steps

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        micro = self.micro_batch_size
        for batch in range(self.start_batch, self.batches_per_epoch):
            start = batch * self.global_batch_size
            for accum in range(self.accum_steps):
                chunk = start + (accum * self.world_size + self.rank) * micro
                yield [(i, sample_seed(self.seed, self.epoch, i)) for i in order[chunk:chunk + micro]]
