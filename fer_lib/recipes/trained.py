"""Trained models from checkpoint files, rebuilt with a run's architecture and loaded strictly: a classifier a
fine-tuning run saved (its best.pt) and an MAE a pre-training run saved (encoder and decoder)."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from fer_lib.config import RunConfig
from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8
from fer_lib.models.checkpoints import CheckpointError, load_weights, read_state_dict
from fer_lib.models.mae import MaskedAutoencoderViT
from fer_lib.recipes.build import classifier_model, mae_model


def load_classifier(cfg: RunConfig, checkpoint: str | Path) -> tuple[nn.Module, tuple[str, ...]]:
    """The classifier of `cfg` (arch, image size, channels) with every weight of `checkpoint` (a fine-tuning run's
    best.pt, or a state dict), and its class names: the unified 7 or 8 expressions, by the size of its head."""
    state = read_state_dict(checkpoint)
    model = classifier_model(cfg, len(EMOTIONS_7))
    head = next(f"{name}.weight" for name, module in model.named_modules() if module is model.get_classifier())
    if head not in state:
        raise CheckpointError(f"{checkpoint} holds no classifier head ({head}): an encoder or an MAE, not a "
                              f"fine-tuned classifier")
    num_classes = state[head].shape[0]
    model = model if num_classes == len(EMOTIONS_7) else classifier_model(cfg, num_classes)
    load_weights(model, checkpoint)
    names = {len(EMOTIONS_7): EMOTIONS_7, len(EMOTIONS_8): EMOTIONS_8}
    return model, names.get(num_classes, tuple(f"class {index}" for index in range(num_classes)))


def load_mae(cfg: RunConfig, checkpoint: str | Path) -> MaskedAutoencoderViT:
    """The MAE of `cfg` (arch, decoder, image size, channels) with every weight of `checkpoint`, decoder included
    (a `pretrain-mae` run's mae_<domain>.pt or a zoo MAE)."""
    model = mae_model(cfg)
    load_weights(model, checkpoint)
    return model
