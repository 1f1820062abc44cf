"""Fine-tuning through noisy labels (DR-FER, our reconstruction): `finetune_and_evaluate` with `SelfPacedRelabel`,
then what the method saw at every epoch start, and after training, scored against the clean labels.

The noise itself is part of the data (`noise_kind`, `noise_rate`, applied to the training split by `load_splits`),
so every noise setting is its own run; the clean labels travel in the training split's meta ("true_label",
"flipped"), which the method never reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits, FaceDataset
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform
from fer_lib.eval.noise_detection import DetectionScores, detection_scores, relabel_scores
from fer_lib.methods.noisy import NoisySettings, SelfPacedRelabel, SplitRecord
from fer_lib.models.checkpoints import load_weights, read_state_dict
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.recipes.finetune import FinetuneResult, finetune_and_evaluate


@dataclass
class NoisyResult:
    """A fine-tuning through noisy labels: its result (`finetune`), the training labels (N,) as learned (`noisy`),
    the clean ones (`clean`) and which differ (`flipped`); `splits`: the method's split at each epoch start, then
    one more with the selected (best-val) model after training; per split, the detection scores of p_clean
    against the flips and the relabelling scores against the clean labels."""

    finetune: FinetuneResult
    noisy: np.ndarray
    clean: np.ndarray
    flipped: np.ndarray
    splits: list[SplitRecord]
    detection: list[DetectionScores]
    relabel: list[dict[str, float]]
    gmm: str


def mim_decoder(cfg: RunConfig, init: Path | str | None) -> MaskedAutoencoderViT:
    """The MIM task's decoder: an MAE of the run's arch and decoder with no encoder blocks (the classifier is the
    encoder); its decoder and the encoder's final norm come from `init` when that is an MAE checkpoint with a
    decoder."""
    decoder = build_mae(cfg.arch, cfg.mae.decoder, img_size=cfg.data.image_size, in_chans=cfg.data.channels,
                        norm_pix_loss=cfg.mae.norm_pix_loss, depth=0)
    state = None if init is None else read_state_dict(init)
    if state is not None and any(key.startswith("decoder_") for key in state):
        load_weights(decoder, state, drop=("blocks.",))
    return decoder


def noisy_method(cfg: RunConfig, train: FaceDataset, settings: NoisySettings,
                 init: Path | str | None = None) -> SelfPacedRelabel:
    """SelfPacedRelabel for the run: splits on `train` with the eval transform, the run's label smoothing and
    epochs, and the MIM decoder (`mim_decoder`) when its weight is on."""
    return SelfPacedRelabel(settings, train.with_transform(eval_transform(cfg.data.image_size, cfg.data.channels)),
                            cfg.finetune.epochs, cfg.supervised.label_smoothing,
                            mim_decoder(cfg, init) if settings.mim_weight > 0 else None, cfg.mae.mask_ratio)


def noisy_label_finetune(cfg: RunConfig, init: Path | str | None = None, splits: DatasetSplits | None = None,
                         method_settings: NoisySettings | None = None, label: str | None = None) -> NoisyResult:
    """Fine-tune from `init` on `splits` (default: `load_splits(cfg.data)`, noise included; splits given by hand
    must be what cfg.data describes, which names the run) with SelfPacedRelabel under `method_settings` (default
    cfg.noisy), keep the best-val epoch, and score every split of the training set against its clean labels."""
    splits = splits if splits is not None else load_splits(cfg.data)
    settings = method_settings if method_settings is not None else cfg.noisy
    method = noisy_method(cfg, splits.train, settings, init)
    result = finetune_and_evaluate(cfg, init, splits, method, label)
    train = splits.train
    clean = train.meta.get("true_label", train.labels)
    flipped = train.meta.get("flipped", train.labels != clean)
    records = [*method.records(), method.split(result.model, cfg.finetune.epochs).record()]
    return NoisyResult(result, train.labels, clean, flipped, records,
                       [detection_scores(record.p_clean, flipped, settings.clean_threshold) for record in records],
                       [relabel_scores(record.relabel, train.labels, clean) for record in records], settings.gmm)
