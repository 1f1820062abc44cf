"""Weights from checkpoints into models, with errors that say what does not fit.

A source is a path to a torch file (official MAE checkpoints and fer_lib checkpoints keep the state dict
under 'model'; a bare state dict works too) or the same thing already in memory. Files are read with
`torch.load(path, map_location="cpu", weights_only=True)`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from fer_lib.models.pos_embed import interpolate_pos_embed

WeightSource = Union[str, Path, Mapping[str, Any]]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


@dataclass
class LoadReport:
    """What `load_weights` did with each key."""

    loaded: list[str]
    kept_new: list[str]   # model keys the checkpoint lacks, left as initialised (e.g. a new head)
    dropped: list[str]    # checkpoint keys ignored (e.g. the MAE decoder, an old head)
    resized: list[str]    # position embeddings interpolated to the model's patch grid

    def __str__(self) -> str:
        return (f"loaded {len(self.loaded)} tensors; kept new: {_few(self.kept_new)}; "
                f"dropped: {_few(self.dropped)}; resized: {_few(self.resized)}")


def read_checkpoint(path: str | Path) -> Any:
    """Everything a torch checkpoint file holds, loaded on the CPU with weights_only=True."""
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path} could not be read as a weights-only torch checkpoint: {error}") from error


def read_state_dict(source: WeightSource) -> dict[str, torch.Tensor]:
    """The state dict held by `source` ({'model': state_dict, ...} or a bare state dict)."""
    if isinstance(source, (str, Path)):
        name, payload = str(source), read_checkpoint(source)
    else:
        name, payload = "the given state dict", source
    state = payload.get("model", payload) if isinstance(payload, Mapping) else payload
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name} holds no state dict: expected {{'model': state_dict}} or a mapping "
                              f"of parameter names to tensors")
    return dict(state)


def load_weights(model: nn.Module, source: WeightSource, drop: tuple[str, ...] = (),
                 keep_new: tuple[str, ...] = ()) -> LoadReport:
    """Load `source` into `model`: every key must match in name and shape except those named here.

    drop:     prefixes of checkpoint keys to ignore (e.g. "decoder_" for the MAE decoder).
    keep_new: prefixes of model keys that may be absent from the checkpoint (e.g. "head.").
    Position embeddings ("*pos_embed") trained on another patch grid are resized bicubically to the
    model's grid. Anything else that differs raises CheckpointError naming the keys and shapes.
    """
    state = read_state_dict(source)
    source_name = str(source) if isinstance(source, (str, Path)) else "the given state dict"
    own = model.state_dict()
    dropped = [k for k in state if k.startswith(drop)]
    state = {k: v for k, v in state.items() if not k.startswith(drop)}
    resized = [k for k in state if k.endswith("pos_embed") and k in own and _resizable(state[k], own[k])]
    for key in resized:
        state[key] = interpolate_pos_embed(state[key], model.patch_embed.grid_size,
                                           num_prefix_tokens=own[key].shape[1] - model.patch_embed.num_patches)
    kept_new = [k for k in own if k not in state and k.startswith(keep_new)]
    missing = [k for k in own if k not in state and k not in kept_new]
    unexpected = [k for k in state if k not in own]
    mis_shaped = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in state if k in own and state[k].shape != own[k].shape]
    problems = [f"{kind} [{_few(keys)}]" for kind, keys in
                (("missing keys", missing), ("unexpected keys", unexpected), ("mismatched shapes", mis_shaped)) if keys]
    if problems:
        raise CheckpointError(f"{source_name} does not fit {type(model).__name__} (another architecture?): "
                              + "; ".join(problems))
    model.load_state_dict(state, strict=False)
    return LoadReport(loaded=list(state), kept_new=kept_new, dropped=dropped, resized=resized)


def _resizable(checkpoint: torch.Tensor, model: torch.Tensor) -> bool:
    """Same embedding width, another number of tokens: (1, T', D) vs (1, T, D)."""
    return checkpoint.ndim == 3 and checkpoint.shape[::2] == model.shape[::2] and checkpoint.shape[1] != model.shape[1]


def _few(keys: list[str], limit: int = 8) -> str:
    """The first `limit` keys in natural order (blocks.2 before blocks.10), then how many more."""
    if not keys:
        return "none"
    keys = sorted(keys, key=lambda k: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", k)])
    return ", ".join(keys[:limit]) + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")
