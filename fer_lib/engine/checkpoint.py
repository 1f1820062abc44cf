"""Atomic, resumable training checkpoints (read back with models.checkpoints.read_checkpoint, weights_only).

A checkpoint holds the model, optimiser, grad-scaler and EMA states, the position in training
(epoch, global batches done in that epoch, global step), every RNG state and the metric history.
It is written to a temporary file in the same folder, fsynced, then renamed over the old one, so a
run killed while saving keeps its previous checkpoint.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def save_atomic(payload: dict[str, Any], path: Path) -> Path:
    """torch.save `payload` to `path` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def rng_state() -> dict[str, Any]:
    """Every RNG's state in a weights_only-loadable form."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:])}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
