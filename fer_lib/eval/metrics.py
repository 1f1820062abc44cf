"""Classification metrics: accuracy, mean per-class accuracy, macro F1 and the confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score

from fer_lib.data.base import FaceDataset

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class ClassificationReport:
    """Metrics of one prediction set.

    balanced_accuracy and macro_f1 average over the classes present in the labels only (a class with no
    test image has no recall); per_class_accuracy is NaN for such classes. confusion: (K, K) int64 counts,
    rows = true class, columns = predicted class. masked_classes: logit columns dropped by name (e.g. a
    model's 'contempt' on a 7-class test set).
    """

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    per_class_accuracy: dict[str, float]
    confusion: np.ndarray
    class_names: tuple[str, ...]
    masked_classes: tuple[str, ...] = ()

    @property
    def num_samples(self) -> int:
        return int(self.confusion.sum())

    def scalars(self) -> dict[str, float]:
        """The headline metrics as a flat dict, for tables and metric JSON."""
        return {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy, "macro_f1": self.macro_f1}


def align_logits(logits: ArrayLike, logit_names: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Columns of `logits` (N, len(logit_names)) reordered to `class_names` -> (N, len(class_names)).

    Classes the model has but the labels lack (e.g. 'contempt') are dropped, which is the same as masking
    their logit to -inf before the argmax. A label class the model cannot predict is an error.
    """
    logits, logit_names = as_numpy(logits), list(logit_names)
    if logits.ndim != 2 or logits.shape[1] != len(logit_names):
        raise ValueError(f"logits of shape {logits.shape} do not have one column per name in {logit_names}")
    missing = [name for name in class_names if name not in logit_names]
    if missing:
        raise ValueError(f"the model has no output for {missing}; its classes are {logit_names}")
    return logits[:, [logit_names.index(name) for name in class_names]]


def classification_report(logits_or_preds: ArrayLike, labels: ArrayLike, class_names: Sequence[str],
                          logit_names: Sequence[str] | None = None) -> ClassificationReport:
    """Metrics of predictions (N,) int or of scores (N, K) (argmax taken) against labels (N,) int.

    With `logit_names` (the model's class order) the score columns are matched to `class_names` by name
    and the model's extra classes are masked (see `align_logits`).
    """
    class_names = tuple(class_names)
    outputs = as_numpy(logits_or_preds)
    masked: tuple[str, ...] = ()
    if logit_names is not None:
        outputs = align_logits(outputs, logit_names, class_names)
        masked = tuple(name for name in logit_names if name not in class_names)
    num_classes = len(class_names)
    if outputs.ndim == 2 and outputs.shape[1] != num_classes:
        raise ValueError(f"scores have {outputs.shape[1]} columns for {num_classes} classes; pass logit_names")
    preds = outputs.argmax(axis=1) if outputs.ndim == 2 else outputs.astype(np.int64)
    labels = as_numpy(labels).astype(np.int64)
    for name, values in (("labels", labels), ("predictions", preds)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got {values.min()}..{values.max()}")

    confusion = confusion_matrix(labels, preds, labels=np.arange(num_classes))
    support = confusion.sum(axis=1)
    present = np.flatnonzero(support)
    recall = np.full(num_classes, np.nan)
    recall[present] = confusion.diagonal()[present] / support[present]
    return ClassificationReport(
        accuracy=float((preds == labels).mean()),
        balanced_accuracy=float(recall[present].mean()),
        macro_f1=float(f1_score(labels, preds, labels=present, average="macro", zero_division=0)),
        per_class_accuracy=dict(zip(class_names, recall.tolist())),
        confusion=confusion, class_names=class_names, masked_classes=masked)


def evaluate_cross_dataset(logits_fn: Callable[[FaceDataset], ArrayLike], datasets: Mapping[str, FaceDataset],
                           logit_names: Sequence[str]) -> dict[str, ClassificationReport]:
    """One report per test set for a classifier whose outputs are named `logit_names` (e.g. EMOTIONS_8).

    logits_fn: dataset -> (N, len(logit_names)) scores, e.g.
        `lambda ds: predict_logits(model, ds.with_transform(eval_transform(48)), device)[0]`.
    Each set is scored in its own `class_names`; model classes a set lacks are masked and printed.
    """
    reports = {}
    for name, dataset in datasets.items():
        report = classification_report(logits_fn(dataset), dataset.labels, dataset.class_names, logit_names)
        masked = f" (masked logits: {', '.join(report.masked_classes)})" if report.masked_classes else ""
        print(f"{name}: n={report.num_samples} accuracy={report.accuracy:.4f} "
              f"balanced_accuracy={report.balanced_accuracy:.4f} macro_f1={report.macro_f1:.4f}{masked}")
        reports[name] = report
    return reports


def as_numpy(values: ArrayLike) -> np.ndarray:
    """A tensor (any device) or array-like as a NumPy array."""
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
