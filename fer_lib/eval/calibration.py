"""Calibration: does a model's confidence match its accuracy? Expected calibration error (Guo et al. 2017), the
data of a reliability diagram, and a paired bootstrap of the ECE gap between two models on the same test images.

A prediction's confidence is its largest class probability. Predictions are binned by confidence into `bins`
equal-width bins (b-1)/B < conf <= b/B; ECE = sum_b (n_b / N) |acc_b - conf_b|, with acc_b the accuracy and conf_b
the mean confidence of bin b.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_lib.eval.compare import Comparison


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin accuracy and mean confidence (NaN in empty bins) and counts; `edges` (bins + 1,) from 0 to 1."""

    edges: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        """sum_b (n_b / N) |acc_b - conf_b| over the non-empty bins."""
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float((self.counts[filled] * gaps).sum() / self.counts.sum())


def _confidence_and_correct(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) largest probability and (N,) whether its class is the label; probs (N, K), labels (N,)."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(f"expected probabilities (N, K) and labels (N,) with N > 0, got {probs.shape} and "
                         f"{labels.shape}")
    return probs.max(axis=1), probs.argmax(axis=1) == labels


def _binned(confidence: np.ndarray, correct: np.ndarray, bins: int) -> ReliabilityBins:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=correct.astype(float), minlength=bins) / counts
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
    return ReliabilityBins(edges, accuracy, mean_confidence, counts)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> ReliabilityBins:
    """The reliability diagram's data of class probabilities (N, K) against labels (N,)."""
    return _binned(*_confidence_and_correct(probs, labels), bins)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE = sum_b (n_b / N) |acc_b - conf_b| of class probabilities (N, K) against labels (N,), in [0, 1]."""
    return reliability_bins(probs, labels, bins).ece


def compare_calibration(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray, name_a: str, name_b: str,
                        bins: int = 15, resamples: int = 1000, seed: int = 0) -> Comparison:
    """Calibration (1 - ECE, higher is better) of model a against model b on the same test images: probs (N, K)
    each, labels (N,). The standard error of the gap ECE_b - ECE_a is the spread of that gap over `resamples`
    paired bootstrap resamples of the test images (both models scored on the same resampled images)."""
    confidence_a, correct_a = _confidence_and_correct(probs_a, labels)
    confidence_b, correct_b = _confidence_and_correct(probs_b, labels)
    if len(confidence_a) != len(confidence_b):
        raise ValueError(f"{name_a} has {len(confidence_a)} test images and {name_b} has {len(confidence_b)}: "
                         f"a paired comparison needs the same set")
    ece_a, ece_b = _binned(confidence_a, correct_a, bins).ece, _binned(confidence_b, correct_b, bins).ece
    rng = np.random.default_rng(seed)
    gaps = [_binned(confidence_b[sample], correct_b[sample], bins).ece
            - _binned(confidence_a[sample], correct_a[sample], bins).ece
            for sample in rng.integers(0, len(labels), size=(resamples, len(labels)))]
    return Comparison(name_a, name_b, 1.0 - ece_a, 1.0 - ece_b, ece_b - ece_a, float(np.std(gaps, ddof=1)),
                      len(labels))
