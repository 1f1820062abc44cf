"""Semi-supervised fine-tuning by confident pseudo-labels: SSFER's stage 3 and FixMatch, one method.

A teacher labels the weak view of each unlabeled face; the student learns that label on the strong view where
the teacher is confident:

    q = softmax(teacher(u_weak)),  y_hat = argmax q,  mask = [max q >= threshold]
    L = CE(student(x), y) + unlabeled_weight * mean_b(mask_b * CE(student(u_strong)_b, y_hat_b))

SSFER (teacher "ema"): the teacher is the EMA of the student (decay 0.999, updated every step: the engine's
`ctx.teacher`), threshold 0.7, weight 5, as many unlabeled as labeled faces per step (mu = 1), starting from the
stage-2 supervised model. FixMatch (teacher "self"): the student's own weak-view prediction without gradient
(in training mode, as in FixMatch's joint forward), threshold 0.95, weight 1, mu = 7. The mean runs over *all*
unlabeled samples of the batch, confident or not (FixMatch and SSFER alike).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fer_lib.data.requests import SampleRequest
from fer_lib.methods.base import LossOutput, Method, StepContext

TEACHERS = ("ema", "self")


def checked_teacher(teacher: str) -> str:
    """`teacher` if it names one of TEACHERS, else a ValueError listing them."""
    if teacher not in TEACHERS:
        raise ValueError(f"semi-supervised teacher must be one of {TEACHERS}, got {teacher!r}")
    return teacher


@dataclass(frozen=True)
class SemiSettings:
    """Pseudo-label fine-tuning: SSFER's constants (teacher "ema"), FixMatch's (teacher "self"), the schedule
    (the labeled stream's batch and epochs: an epoch is one pass over the labeled faces) and the label budgets."""

    teacher: str = "ema"                   # "ema": SSFER stage 3; "self": FixMatch
    threshold: float = 0.7                 # SSFER: keep a pseudo-label where the teacher's max probability >= this
    unlabeled_weight: float = 5.0          # SSFER: lambda_u
    unlabeled_ratio: int = 1               # SSFER: mu, unlabeled faces per labeled face in a step
    ema_decay: float = 0.999               # SSFER's teacher: EMA of the student, updated every step
    fixmatch_threshold: float = 0.95
    fixmatch_unlabeled_weight: float = 1.0
    fixmatch_unlabeled_ratio: int = 7
    distribution_alignment: bool = False   # ReMixMatch's alignment of q to the labeled class prior (option)
    alignment_momentum: float = 0.99       # running means of the class priors for the alignment
    epochs: int = 10
    batch_size: int = 32                   # labeled faces per step
    base_lr: float = 2e-3                  # lr = base_lr * batch_size / 256
    warmup_epochs: float = 0.0             # SSFER: constant lr, no burn-in
    crop_min: float = 0.2                  # weak view: RandomResizedCrop(crop_min..1) + flip (labeled faces too)
    rand_magnitude: float = 9.0            # strong view: weak + RandAugment m9 mstd 0.5 (timm's scale 0-10)
    rand_magnitude_std: float = 0.5
    extra_unlabeled: bool = False          # add the face corpus (face_corpus_root, or SynthFER's unlabeled faces)
    label_fraction: float = 0.1            # the notebook's label budget for curves and claims (SSFER's 10%)
    sweep_fractions: str = ""              # further budgets for the label-efficiency figure, e.g. "0.05,0.25,1"

    def __post_init__(self) -> None:
        checked_teacher(self.teacher)

    def constants(self, teacher: str) -> tuple[float, float, int]:
        """(threshold, unlabeled_weight, unlabeled_ratio) of `teacher`: SSFER's for "ema", FixMatch's for "self"."""
        if checked_teacher(teacher) == "ema":
            return self.threshold, self.unlabeled_weight, self.unlabeled_ratio
        return self.fixmatch_threshold, self.fixmatch_unlabeled_weight, self.fixmatch_unlabeled_ratio

    @property
    def fractions(self) -> tuple[float, ...]:
        """`label_fraction` and the `sweep_fractions`, sorted, without repeats."""
        extra = [float(part) for part in self.sweep_fractions.split(",") if part.strip()]
        return tuple(sorted({self.label_fraction, *extra}))


class PseudoLabelling(Method):
    """Confident pseudo-labels from a teacher (module docstring), over the streams {"labeled", "unlabeled"}.

    batch["labeled"]:   "image" (B, C, H, W), "label" (B,) int64
    batch["unlabeled"]: "image" [weak (uB, C, H, W), strong (uB, C, H, W)] (`WeakStrong`), "true_label" (uB,) int64,
                        the hidden class (UNLABELED = -1 where unknown), used only to measure the pseudo-labels
    Metrics per step: loss_labeled, loss_unlabeled, mask_rate. Over the epoch, `pseudo_confusion` (2, K + 1, K)
    counts the unlabeled samples by [confident?][true class, K = unknown][pseudo-label]; `epoch_statistics` reads
    pseudo-label accuracy (confident and all) and per-class counts from it (this process's samples).
    """

    request = SampleRequest(meta=("true_label",))

    def __init__(self, num_classes: int, teacher: str = "ema", threshold: float = 0.7, unlabeled_weight: float = 5.0,
                 label_smoothing: float = 0.0, distribution_alignment: bool = False,
                 alignment_momentum: float = 0.99) -> None:
        super().__init__()
        self.num_classes, self.teacher, self.threshold = num_classes, checked_teacher(teacher), threshold
        self.unlabeled_weight, self.label_smoothing = unlabeled_weight, label_smoothing
        self.distribution_alignment, self.alignment_momentum = distribution_alignment, alignment_momentum
        self.register_buffer("pseudo_confusion", torch.zeros(2, num_classes + 1, num_classes, dtype=torch.int64))
        self.register_buffer("labeled_prior", torch.full((num_classes,), 1.0 / num_classes))
        self.register_buffer("unlabeled_prior", torch.full((num_classes,), 1.0 / num_classes))

    def on_epoch_start(self, model: nn.Module, streams: Mapping[str, Dataset], epoch: int) -> None:
        self.pseudo_confusion.zero_()

    @torch.no_grad()
    def teacher_probabilities(self, model: nn.Module, weak: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """q = softmax(teacher(weak)) (uB, K): the EMA model (SSFER) or the student itself (FixMatch), no gradient."""
        if self.teacher == "ema" and ctx.teacher is None:
            raise ValueError("teacher 'ema' needs the engine's EMA model: set TrainSettings.ema_decay > 0")
        teacher = ctx.teacher if self.teacher == "ema" else model
        return F.softmax(teacher(weak).float(), dim=1)

    @torch.no_grad()
    def align(self, probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Distribution alignment (ReMixMatch): q * p(y) / p~(y), renormalised; p(y) and p~(y) are running means
        of the labeled one-hot labels and of q. probs (uB, K), labels (B,) -> (uB, K)."""
        momentum = self.alignment_momentum
        self.labeled_prior.mul_(momentum).add_(F.one_hot(labels, self.num_classes).float().mean(0), alpha=1 - momentum)
        self.unlabeled_prior.mul_(momentum).add_(probs.mean(0), alpha=1 - momentum)
        aligned = probs * self.labeled_prior / self.unlabeled_prior
        return aligned / aligned.sum(dim=1, keepdim=True)

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        labeled, unlabeled = batch["labeled"], batch["unlabeled"]
        weak, strong = unlabeled["image"]
        probs = self.teacher_probabilities(model, weak, ctx)
        if self.distribution_alignment:
            probs = self.align(probs, labeled["label"])
        confidence, pseudo_labels = probs.max(dim=1)
        mask = (confidence >= self.threshold).float()                                  # (uB,)
        logits = model(torch.cat([labeled["image"], strong])).float()                  # one pass: (B + uB, K)
        labeled_logits, strong_logits = logits[:len(labeled["image"])], logits[len(labeled["image"]):]
        loss_labeled = F.cross_entropy(labeled_logits, labeled["label"], label_smoothing=self.label_smoothing)
        loss_unlabeled = (F.cross_entropy(strong_logits, pseudo_labels, reduction="none") * mask).mean()
        self.count(mask.bool(), unlabeled["true_label"], pseudo_labels)
        return LossOutput(loss_labeled + self.unlabeled_weight * loss_unlabeled,
                          {"loss_labeled": loss_labeled.detach(), "loss_unlabeled": loss_unlabeled.detach(),
                           "mask_rate": mask.mean()})

    @torch.no_grad()
    def count(self, confident: torch.Tensor, true_labels: torch.Tensor, pseudo_labels: torch.Tensor) -> None:
        """Add a batch to `pseudo_confusion`: confident (uB,) bool, true_labels (uB,) (< 0 unknown), pseudo (uB,)."""
        true_row = torch.where(true_labels >= 0, true_labels, self.num_classes)
        cell = (confident.long() * (self.num_classes + 1) + true_row) * self.num_classes + pseudo_labels
        self.pseudo_confusion.view(-1).add_(torch.bincount(cell, minlength=self.pseudo_confusion.numel()))

    def epoch_statistics(self) -> dict[str, float]:
        """Since the epoch started: pseudo_acc_confident and pseudo_acc_all (over the samples whose true class is
        known; NaN without any), pseudo_count_<k> (confident pseudo-labels of class k) and true_count_<k>
        (unlabeled samples of true class k). Ratios of epoch totals: a step may hold no confident sample, so a
        per-step accuracy would be undefined there (the mask rate, always defined, is a per-step metric)."""
        confusion = self.pseudo_confusion.double().cpu()
        known = confusion[:, :self.num_classes]                                          # (2, K, K)
        confident_known, all_known = known[1], known.sum(0)

        def accuracy(counts: torch.Tensor) -> float:
            return float(counts.trace() / counts.sum()) if counts.sum() > 0 else float("nan")

        return {"pseudo_acc_confident": accuracy(confident_known), "pseudo_acc_all": accuracy(all_known),
                **{f"pseudo_count_{k}": float(count) for k, count in enumerate(confusion[1].sum(0))},
                **{f"true_count_{k}": float(count) for k, count in enumerate(all_known.sum(1))}}
