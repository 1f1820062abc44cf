"""Contrastive pre-training (SimCLR, SupCon, CRS-CONT, SSL-FER's variants) of the run's encoder.

One call trains one variant, named by `cfg.contrastive` (`ContrastiveSettings.variant()`), on the corpus of
`cfg.contrastive_pretrain`, and writes the encoder (the run's classifier without its head) to <run>/encoder.pt
for the probes and fine-tuning to load. A rerun with the same settings returns at once.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetError, FaceDataset
from fer_lib.data.descriptors import expression_descriptors
from fer_lib.data.face_swap import landmark_face_swapped
from fer_lib.data.registry import load_splits
from fer_lib.data.sequences import load_sequence_folder
from fer_lib.data.synthfer import LANDMARK_NAMES, load_synthfer_sequences
from fer_lib.data.transforms import contrastive_transform
from fer_lib.engine.checkpoint import save_atomic
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.methods.contrastive import Contrastive, ContrastiveSettings
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.models.vit import load_encoder_weights
from fer_lib.recipes.build import classifier_model
from fer_lib.recipes.finetune import init_identity
from fer_lib.report import write_json_atomic
from fer_lib.runs import open_run


@dataclass
class ContrastiveResult:
    """A trained variant: its name, <run>/encoder.pt, per-epoch history and the seconds its training took."""

    variant: str
    checkpoint: Path
    history: list[dict[str, float]]
    run_dir: Path
    seconds: float


def contrastive_corpus(cfg: RunConfig) -> FaceDataset:
    """The images contrastive pre-training sees (see ContrastivePretrainSettings), with what the variant needs:
    face-swapped companions (FaceSwap) and eye + mouth descriptors (MaskFN). Clear errors when data lacks them."""
    schedule, settings = cfg.contrastive_pretrain, cfg.contrastive
    temporal = settings.time_aug or settings.hard_negatives
    if cfg.data.dataset == "synthfer":
        corpus = load_synthfer_sequences(cfg.data, schedule.sequences, schedule.frames, face_swap=settings.face_swap)
    elif schedule.sequences_root:
        corpus = load_sequence_folder(Path(schedule.sequences_root), cfg.data.image_size, cfg.data.channels)
    elif temporal:
        raise DatasetError(f"{settings.variant()} needs frame sequences, and dataset {cfg.data.dataset!r} has none: "
                           f"set contrastive_pretrain_sequences_root to a folder of sequences "
                           f"(<root>/<person>/<clip>/<frames>, see data_scripts/README.md)")
    else:
        corpus = load_splits(cfg.data).train
    extra = {}
    if settings.face_swap and "face_swap" not in corpus.meta:      # real faces: SSL-FER's landmark warp
        extra["face_swap"] = landmark_face_swapped(corpus, landmark_layout(corpus), cfg.seed)
    if settings.mask_false_negatives:
        extra["expression_descriptor"] = expression_descriptors(corpus, landmark_layout(corpus))
    return dataclasses.replace(corpus, meta={**corpus.meta, **extra}) if extra else corpus


def landmark_layout(data: FaceDataset) -> tuple[str, ...] | str:
    """The names of `data`'s landmarks: SynthFER's 11, or "dlib68" for 68 points; DatasetError otherwise."""
    count = data.meta["landmarks"].shape[1] if "landmarks" in data.meta else 0
    if count == len(LANDMARK_NAMES):
        return LANDMARK_NAMES
    if count == 68:
        return "dlib68"
    raise DatasetError(f"FaceSwap and MaskFN need facial landmarks (meta 'landmarks', (N, K, 2): SynthFER's "
                       f"{len(LANDMARK_NAMES)} or dlib's 68 points); dataset {data.name!r} has "
                       + (f"{count} points" if count else "none"))


def contrastive_settings(cfg: RunConfig) -> TrainSettings:
    """The pre-training schedule with the run's engine settings."""
    schedule = cfg.contrastive_pretrain
    return TrainSettings.with_engine(cfg.engine, epochs=schedule.epochs, batch_size=schedule.batch_size,
                                     base_lr=schedule.base_lr, optimizer=schedule.optimizer,
                                     weight_decay=schedule.weight_decay, warmup_epochs=schedule.warmup_epochs,
                                     seed=cfg.seed)


def contrastive_pretrain(cfg: RunConfig, init: Path | str | None = None, label: str | None = None) -> ContrastiveResult:
    """Train the variant of `cfg.contrastive` from `init` (None: random weights, as the papers do; or an encoder
    checkpoint, e.g. the zoo's face MAE); `label` names the run (default: the variant)."""
    variant = cfg.contrastive.variant()
    init = None if init is None else Path(init)
    identity = {"recipe": "contrastive", "init": init_identity(init), "data": cfg.data, "arch": cfg.arch,
                "contrastive": cfg.contrastive,
                "schedule": cfg.contrastive_pretrain, "seed": cfg.seed, "amp": cfg.engine.amp,
                "clip_grad_norm": cfg.engine.clip_grad_norm}
    run_dir = open_run(cfg.profile, cfg.seed, "contrastive", label or variant, identity)
    checkpoint = run_dir / "encoder.pt"
    if checkpoint.is_file():
        summary = read_checkpoint(checkpoint)
        return ContrastiveResult(variant, checkpoint, summary["history"], run_dir, summary["seconds"])
    corpus = contrastive_corpus(cfg)
    settings = cfg.contrastive
    views = corpus.with_transform(contrastive_transform(cfg.data.image_size, cfg.data.channels, settings.crop_min,
                                                        settings.jitter, settings.grayscale_prob, settings.blur_prob))
    model = classifier_model(cfg, num_classes=0)                     # headless: model(images) are the features
    if init is not None:
        load_encoder_weights(model, init)
    method = Contrastive(settings, model.num_features, corpus.class_names)
    started = time.perf_counter()
    result = fit(model, method, views, contrastive_settings(cfg), run_dir)
    seconds = time.perf_counter() - started
    save_atomic({"model": result.model.state_dict(), "history": result.history, "variant": variant,
                 "seconds": seconds}, checkpoint)
    write_json_atomic(run_dir / "summary.json", {"variant": variant, "seconds": seconds, "history": result.history})
    return ContrastiveResult(variant, checkpoint, result.history, run_dir, seconds)


# The ablation of notebook 04, as flat config overrides per variant. CORE runs by default; ABLATION adds the rest.
SSL_FER_ALL = {"contrastive_time_aug": True, "contrastive_hard_negatives": True, "contrastive_face_swap": True,
               "contrastive_mask_false_negatives": True}
CORE_VARIANTS: dict[str, dict[str, object]] = {
    "SimCLR": {},
    "SimCLR+TimeAug+HardNeg+FaceSwap+MaskFN": SSL_FER_ALL,
    "SupCon (fine)": {"contrastive_loss": "supcon"},
    "CRS-CONT": {"contrastive_loss": "crs_cont"},
}
ABLATION_VARIANTS: dict[str, dict[str, object]] = {
    "SimCLR": {},
    "SimCLR+TimeAug": {"contrastive_time_aug": True},
    "SimCLR+TimeAug+HardNeg": {"contrastive_time_aug": True, "contrastive_hard_negatives": True},
    "SimCLR+FaceSwap": {"contrastive_face_swap": True},
    "SimCLR+MaskFN": {"contrastive_mask_false_negatives": True},
    "SimCLR+TimeAug+HardNeg+FaceSwap+MaskFN": SSL_FER_ALL,
    "SupCon (fine)": {"contrastive_loss": "supcon"},
    "SupCon (coarse)": {"contrastive_loss": "supcon", "contrastive_labels": "coarse"},
    "CRS-CONT": {"contrastive_loss": "crs_cont"},
    "CRS-CONT (weight 1.0)": {"contrastive_loss": "crs_cont", "contrastive_negative_class_weight": 1.0},
}


VARIANT_SWITCHES = ("loss", "labels", "time_aug", "hard_negatives", "face_swap", "mask_false_negatives",
                    "negative_class_weight")


def variant_config(cfg: RunConfig, overrides: dict[str, object]) -> RunConfig:
    """The run's config for one variant: the switches of VARIANT_SWITCHES back at their defaults, then the
    variant's `overrides` (the run's temperature, augmentation and schedule stay)."""
    defaults = ContrastiveSettings()
    reset = {f"contrastive_{name}": getattr(defaults, name) for name in VARIANT_SWITCHES}
    return cfg.replace(**{**reset, **overrides})
