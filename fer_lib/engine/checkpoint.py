"""Atomic, resumable training checkpoints loaded with `weights_only=True`.

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


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU with weights_only=True; a clear error for missing or bad files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"checkpoint {path} could not be read as a weights-only torch file: {error}") from error


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict(strict) with an error that names missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mis_shaped = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or mis_shaped:
        def few(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
        raise CheckpointError(
            f"{source} does not fit {type(module).__name__} (another architecture?): "
            f"missing keys [{few(missing)}]; unexpected keys [{few(unexpected)}]; "
            f"mismatched shapes [{few(mis_shaped)}]")
    module.load_state_dict(state)


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
