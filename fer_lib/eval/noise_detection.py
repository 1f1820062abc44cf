"""Scoring a noisy-label method against the clean labels it never saw: how well p_clean finds the flipped labels,
how often relabelling recovers the clean class, and the GMM densities to draw over a loss histogram.

The split itself (the GMMs, the retrieval soft labels) lives with the method, `fer_lib.methods.noisy`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score



@dataclass(frozen=True)
class DetectionScores:
    """Noise detection: a label is flagged noisy when p_clean <= threshold.

    precision = flagged and flipped / flagged, recall = flagged and flipped / flipped, auroc = ROC AUC of -p_clean
    as a score for "flipped" (threshold-free; 0.5 = chance; not 1 - p_clean, which rounds posteriors below 1e-16
    into ties). NaN where undefined (nothing flagged, no flip)."""

    precision: float
    recall: float
    auroc: float
    flagged: int
    flipped: int

    def row(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "AUROC": self.auroc,
                "flagged": self.flagged, "flipped": self.flipped}


def detection_scores(p_clean: np.ndarray, flipped: np.ndarray, threshold: float = 0.5) -> DetectionScores:
    """Precision, recall and AUROC of p_clean (N,) as a detector of the flipped labels (N,) bool."""
    p_clean, flipped = np.asarray(p_clean, dtype=np.float64), np.asarray(flipped, dtype=bool)
    flagged = p_clean <= threshold
    caught = int((flagged & flipped).sum())
    both_kinds = 0 < flipped.sum() < len(flipped)
    return DetectionScores(precision=float(caught / flagged.sum()) if flagged.any() else float("nan"),
                           recall=float(caught / flipped.sum()) if flipped.any() else float("nan"),
                           auroc=float(roc_auc_score(flipped, -p_clean)) if both_kinds else float("nan"),
                           flagged=int(flagged.sum()), flipped=int(flipped.sum()))


def auroc_contributions(p_clean: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Per flipped label, the share of clean labels it ranks as noisier (lower p_clean; ties count half): (F,).
    Their mean is the AUROC (Mann-Whitney), so two detectors can be compared paired, flipped label by label."""
    p_clean, flipped = np.asarray(p_clean, dtype=np.float64), np.asarray(flipped, dtype=bool)
    clean = np.sort(p_clean[~flipped])
    if len(clean) == 0:
        raise ValueError("AUROC contributions need at least one clean label")
    below = np.searchsorted(clean, p_clean[flipped], side="left")
    not_above = np.searchsorted(clean, p_clean[flipped], side="right")
    return (len(clean) - not_above + 0.5 * (not_above - below)) / len(clean)


def relabel_scores(relabel: np.ndarray, noisy_labels: np.ndarray, true_labels: np.ndarray) -> dict[str, float]:
    """Relabelling against the clean labels: relabel (N,) holds the new class of each relabelled sample, -1 for
    the others. accuracy: new class == clean; was right: the noisy label already was; fixed / broken: relabelled
    right from a wrong label / wrong from a right one (counts); relabelled: how many."""
    relabel, noisy_labels, true_labels = (np.asarray(a) for a in (relabel, noisy_labels, true_labels))
    chosen = relabel >= 0
    right, was_right = relabel[chosen] == true_labels[chosen], noisy_labels[chosen] == true_labels[chosen]
    share = (lambda hits: float(hits.mean()) if chosen.any() else float("nan"))
    return {"relabelled": int(chosen.sum()), "accuracy": share(right), "was right": share(was_right),
            "fixed": int((right & ~was_right).sum()), "broken": int((~right & was_right).sum())}


def gmm_densities(losses: np.ndarray, components: np.ndarray) -> np.ndarray:
    """The weighted densities (n, 2) of a fitted 1-D GMM's [clean, noisy] components at `losses` (n,);
    components (3, 2): weight, mean, variance (as `CleanSplit.components[group]`)."""
    weight, mean, variance = components
    x = np.asarray(losses, dtype=np.float64)[:, None]
    return weight * np.exp(-(x - mean) ** 2 / (2 * variance)) / np.sqrt(2 * np.pi * variance)
