"""Semi-supervised fine-tuning (SSFER stage 3, FixMatch) with model selection on val, and the teacher's
pseudo-labels scored against a threshold sweep.

`semi_supervised_finetune` draws SSFER's labeled part of the training split (the same draw as
`load_splits` with `label_fraction`, so a stage-2 fine-tune at that fraction saw exactly these labels), makes the
rest the unlabeled stream, starts from `init` (a stage-2 model's best.pt, or an MAE) and trains `PseudoLabelling`
with `fit` on the streams {"labeled", "unlabeled"}. Like `finetune_and_evaluate`, the epoch with the best
validation accuracy (of the student) is kept and the test split is scored once, with it. Each epoch's record adds
the pseudo-label statistics (`PseudoLabelling.epoch_statistics`) to the engine's metrics.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits, FaceDataset
from fer_lib.data.label_split import TRUE_LABEL, append_unlabeled, labeled_unlabeled_split
from fer_lib.data.registry import load_pretrain_corpus, load_splits
from fer_lib.data.transforms import WeakStrong, eval_transform, strong_transform, train_transform
from fer_lib.engine.devices import resolve_device
from fer_lib.engine.train import fit
from fer_lib.eval.predict import predict_logits
from fer_lib.methods.semi import PseudoLabelling
from fer_lib.models.checkpoints import LoadReport, WeightSource, load_weights, read_state_dict
from fer_lib.models.vit import load_encoder_weights
from fer_lib.recipes.build import classifier_model
from fer_lib.recipes.finetune import FinetuneResult, best_reports, finetune_settings, init_identity, val_accuracy
from fer_lib.runs import open_run

# What decides a stage-3 run beyond the method's own settings (the notebook's label budgets and the other teacher's
# constants do not, so changing them never retrains a finished run).
SCHEDULE_SETTINGS = ("epochs", "batch_size", "base_lr", "warmup_epochs", "crop_min", "rand_magnitude",
                     "rand_magnitude_std", "extra_unlabeled")
FINETUNE_SETTINGS_USED = ("weight_decay", "layer_decay", "min_lr", "drop_path", "global_pool")


@dataclass
class SemiResult(FinetuneResult):
    """A fine-tuning result (the best-val student, its val / test reports, the history with the pseudo-label
    statistics) plus the teacher (SSFER: the final EMA model; FixMatch: the student itself, i.e. the best-val
    student) and the two streams (without transforms)."""

    teacher: nn.Module | None = None
    labeled: FaceDataset | None = None
    unlabeled: FaceDataset | None = None


def load_init(model: nn.Module, init: WeightSource) -> LoadReport:
    """A checkpoint of this very classifier (a stage-2 fine-tune's best.pt: same keys and shapes) loads whole,
    head included; anything else (an MAE, another head) loads as an encoder under a new head."""
    state, own = read_state_dict(init), model.state_dict()
    whole = state.keys() == own.keys() and all(state[key].shape == own[key].shape for key in own)
    return load_weights(model, state) if whole else load_encoder_weights(model, state)


def unlabeled_corpus(cfg: RunConfig) -> FaceDataset | None:
    """The extra unlabeled faces of `semi_extra_unlabeled`: `face_corpus_root` when set, SynthFER's unlabeled
    faces for SynthFER, else None (a real dataset's own training images are already in the unlabeled stream)."""
    if cfg.data.face_corpus_root or cfg.data.dataset == "synthfer":
        return load_pretrain_corpus(cfg.data, "face")
    return None


def semi_streams(cfg: RunConfig, splits: DatasetSplits, fraction: float) -> tuple[FaceDataset, FaceDataset]:
    """(labeled, unlabeled) of the full training split at `fraction` (seed `data_seed`), plus the extra corpus."""
    labeled, unlabeled = labeled_unlabeled_split(splits.train, fraction, cfg.data.data_seed)
    extra = unlabeled_corpus(cfg) if cfg.semi.extra_unlabeled else None
    if extra is not None:
        unlabeled = append_unlabeled(unlabeled, extra)
    if len(unlabeled) == 0:
        raise ValueError(f"label fraction {fraction:g} leaves no unlabeled training image: lower it, or set "
                         f"semi_extra_unlabeled (with face_corpus_root for a real dataset)")
    return labeled, unlabeled


def semi_supervised_finetune(cfg: RunConfig, init: Path | str | None, splits: DatasetSplits | None = None,
                             fraction: float | None = None, teacher: str | None = None,
                             label: str | None = None) -> SemiResult:
    """Pseudo-label fine-tuning from `init` (None = random weights) with `fraction` of the labels (default
    `semi_label_fraction`) and `teacher` "ema" (SSFER) or "self" (FixMatch) (default `semi_teacher`).

    `splits` are the full labeled splits (`label_fraction` 1; default: loaded so, whatever cfg.data says).
    `label` names the run (default "<ssfer|fixmatch>-<init file stem or scratch>").
    """
    init = None if init is None else Path(init)
    fraction = cfg.semi.label_fraction if fraction is None else fraction
    teacher = teacher or cfg.semi.teacher
    threshold, unlabeled_weight, unlabeled_ratio = cfg.semi.constants(teacher)
    label = label or f"{'ssfer' if teacher == 'ema' else 'fixmatch'}-{'scratch' if init is None else init.stem}"
    data = dataclasses.replace(cfg.data, label_fraction=1.0)
    splits = splits if splits is not None else load_splits(data)
    method = PseudoLabelling(splits.train.num_classes, teacher, threshold, unlabeled_weight,
                             cfg.supervised.label_smoothing, cfg.semi.distribution_alignment,
                             cfg.semi.alignment_momentum)
    size, channels, semi = cfg.data.image_size, cfg.data.channels, cfg.semi
    ema_decay = semi.ema_decay if teacher == "ema" else 0.0
    identity = {"recipe": "semi", "init": init_identity(init), "data": data, "fraction": fraction, "arch": cfg.arch,
                "schedule": {name: getattr(semi, name) for name in SCHEDULE_SETTINGS},
                "unlabeled_ratio": unlabeled_ratio, "ema_decay": ema_decay,
                "finetune": {name: getattr(cfg.finetune, name) for name in FINETUNE_SETTINGS_USED},
                "method": method.settings(), "seed": cfg.seed, "amp": cfg.engine.amp,
                "clip_grad_norm": cfg.engine.clip_grad_norm}
    run_dir = open_run(cfg.profile, cfg.seed, "semi", label, identity)   # seeds before the model is built
    labeled, unlabeled = semi_streams(cfg, splits, fraction)
    if len(unlabeled) < unlabeled_ratio * semi.batch_size:
        raise ValueError(f"{len(unlabeled)} unlabeled images are fewer than one unlabeled batch of {unlabeled_ratio} x "
                         f"{semi.batch_size}: lower semi_batch_size or the teacher's unlabeled_ratio, or set "
                         f"semi_extra_unlabeled")
    weak = train_transform(size, channels, (semi.crop_min, 1.0))
    strong = strong_transform(size, channels, (semi.crop_min, 1.0), semi.rand_magnitude, semi.rand_magnitude_std)
    streams = {"labeled": labeled.with_transform(weak), "unlabeled": unlabeled.with_transform(WeakStrong(weak, strong))}
    val = splits.val.with_transform(eval_transform(size, channels))
    test = splits.test.with_transform(eval_transform(size, channels))
    device = resolve_device(cfg.engine.device)
    model = classifier_model(cfg, splits.train.num_classes)
    if init is not None:
        load_init(model, init)

    def evaluate(candidate: nn.Module) -> dict[str, float]:
        scores = {"val_acc": val_accuracy(candidate, val, device)}
        if candidate is model:                      # the student's record also gets the epoch's pseudo-labels
            scores |= {f"train_{name}": value for name, value in method.epoch_statistics().items()}
        return scores

    settings = dataclasses.replace(
        finetune_settings(cfg, init is not None), epochs=semi.epochs, batch_size=semi.batch_size,
        base_lr=semi.base_lr, warmup_epochs=semi.warmup_epochs, ema_decay=ema_decay,
        stream_batch_sizes={"unlabeled": unlabeled_ratio * semi.batch_size})
    result = fit(model, method, streams, settings, run_dir, evaluate=evaluate)
    final_teacher = result.ema_model if teacher == "ema" else result.model
    best_epoch, val_report, test_report = best_reports(model, run_dir, val, test, device, splits.train.class_names)
    return SemiResult(label, model, result.history, best_epoch, val_report, test_report, run_dir,
                      teacher=final_teacher, labeled=labeled, unlabeled=unlabeled)


@dataclass(frozen=True)
class ThresholdSweep:
    """Confident pseudo-labels at each threshold t: coverage = share of unlabeled images with max q >= t,
    precision = share of those whose pseudo-label is the true class (NaN where none is confident).

    thresholds (T,); coverage, precision (T,); class_coverage (T, K): share of true class k's images that are
    confident; class_precision (T, K): share of the confident pseudo-labels *of class k* that are right;
    class_counts (T, K): confident pseudo-labels of class k. Only images with a known true class count.
    """

    thresholds: np.ndarray
    coverage: np.ndarray
    precision: np.ndarray
    class_coverage: np.ndarray
    class_precision: np.ndarray
    class_counts: np.ndarray


def threshold_sweep(probs: np.ndarray, true_labels: np.ndarray, thresholds: np.ndarray) -> ThresholdSweep:
    """Score pseudo-labels argmax q of probabilities q (N, K) against true labels (N,) (< 0 unknown, skipped)."""
    known = np.asarray(true_labels) >= 0
    probs, true_labels, thresholds = np.asarray(probs)[known], np.asarray(true_labels)[known], np.asarray(thresholds)
    num_classes = probs.shape[1]
    pseudo, confidence = probs.argmax(axis=1), probs.max(axis=1)
    confident = confidence[None, :] >= thresholds[:, None]                                   # (T, N)
    correct = confident & (pseudo == true_labels)[None, :]
    true_one_hot = np.eye(num_classes, dtype=bool)[true_labels]                              # (N, K)
    pseudo_one_hot = np.eye(num_classes, dtype=bool)[pseudo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ThresholdSweep(
            thresholds=thresholds, coverage=confident.mean(axis=1),
            precision=correct.sum(axis=1) / confident.sum(axis=1),
            class_coverage=(confident.astype(float) @ true_one_hot) / true_one_hot.sum(axis=0),
            class_precision=(correct.astype(float) @ pseudo_one_hot) / (confident.astype(float) @ pseudo_one_hot),
            class_counts=confident.astype(float) @ pseudo_one_hot)


@torch.no_grad()
def teacher_pseudo_labels(teacher: nn.Module, unlabeled: FaceDataset, image_size: int, channels: int,
                          device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's probabilities q (N, K) on the unlabeled faces (resized, no augmentation: the weak view
    without its randomness) and their hidden true labels (N,) for `threshold_sweep`."""
    logits, _ = predict_logits(teacher, unlabeled.with_transform(eval_transform(image_size, channels)), device)
    return torch.softmax(logits, dim=1).numpy(), np.asarray(unlabeled.meta[TRUE_LABEL])
