"""Comparisons of two models (paired on the same test images, or on two test sets), rankings that keep ties,
zero-recall classes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Comparison:
    """Accuracy of a minus accuracy of b, with the standard error of that gap.

    Paired (the same n test images): gap = mean_i (correct_a[i] - correct_b[i]), standard_error = std(ddof=1) /
    sqrt(n) of those per-image differences (0 when they are all equal). Unpaired (two test sets, e.g. one model on
    the test set and on a shifted copy): standard_error = sqrt(var_a / n_a + var_b / n_b). A gap beyond 2 standard
    errors either way is significant.
    """

    name_a: str
    name_b: str
    accuracy_a: float
    accuracy_b: float
    gap: float
    standard_error: float
    n: int
    paired: bool = True

    @property
    def significant(self) -> bool:
        return abs(self.gap) > 2 * self.standard_error

    @property
    def verdict(self) -> str:
        """'beats', 'trails' or 'ties with': a's relation to b."""
        return "ties with" if not self.significant else "beats" if self.gap > 0 else "trails"

    @property
    def holds(self) -> str:
        """Whether the claim 'a beats b' 'holds', 'does not hold' or 'is not resolved (within noise)'."""
        return {"beats": "holds", "trails": "does not hold"}.get(self.verdict, "is not resolved (within noise)")

    def sentence(self, what: str) -> str:
        """E.g. 'A beats B in test accuracy: 61.2% vs 55.0% (+6.2 points, 2 paired standard errors = 2.1 points).'"""
        return (f"{self.name_a} {self.verdict} {self.name_b} in {what}: {100 * self.accuracy_a:.1f}% vs "
                f"{100 * self.accuracy_b:.1f}% ({100 * self.gap:+.1f} points, "
                f"2 {'paired ' if self.paired else ''}standard errors = {200 * self.standard_error:.1f} points).")


def compare_paired(correct_a: np.ndarray, correct_b: np.ndarray, name_a: str, name_b: str) -> Comparison:
    """Compare two models from their per-image correctness (N,) bool or 0/1 on the same N test images."""
    correct_a, correct_b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if len(correct_a) != len(correct_b) or len(correct_a) == 0:
        raise ValueError(f"{name_a} has {len(correct_a)} test images and {name_b} has {len(correct_b)}: "
                         f"a paired comparison needs the same, non-empty set")
    difference = correct_a - correct_b                                       # per image: +1, 0 or -1
    n = len(difference)
    spread = 0.0 if np.all(difference == difference[0]) else float(difference.std(ddof=1))
    return Comparison(name_a, name_b, float(correct_a.mean()), float(correct_b.mean()),
                            float(difference.mean()), spread / np.sqrt(n), n)


def compare_unpaired(correct_a: np.ndarray, correct_b: np.ndarray, name_a: str, name_b: str) -> Comparison:
    """Compare accuracies measured on two different test sets from per-image correctness (N_a,) and (N_b,)."""
    correct_a, correct_b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if len(correct_a) < 2 or len(correct_b) < 2:
        raise ValueError(f"{name_a} has {len(correct_a)} test images and {name_b} has {len(correct_b)}: "
                         f"a standard error needs at least 2 each")
    variance = correct_a.var(ddof=1) / len(correct_a) + correct_b.var(ddof=1) / len(correct_b)
    return Comparison(name_a, name_b, float(correct_a.mean()), float(correct_b.mean()),
                      float(correct_a.mean() - correct_b.mean()), float(np.sqrt(variance)),
                      min(len(correct_a), len(correct_b)), paired=False)


def rank_with_ties(correct: dict[str, np.ndarray]) -> str:
    """'a > b = c': models by decreasing accuracy, '>' only where the paired gap to the next is significant."""
    ordered = sorted(correct, key=lambda name: float(np.mean(correct[name])), reverse=True)
    links = [">" if compare_paired(correct[higher], correct[lower], higher, lower).significant else "="
             for higher, lower in zip(ordered, ordered[1:])]
    return ordered[0] + "".join(f" {link} {name}" for link, name in zip(links, ordered[1:]))


def zero_recall_classes(confusion: np.ndarray, class_names: Sequence[str]) -> list[str]:
    """Classes with test samples none of which is predicted right; confusion (K, K), rows = true class."""
    confusion = np.asarray(confusion)
    missed = (confusion.sum(axis=1) > 0) & (confusion.diagonal() == 0)
    return [name for name, is_missed in zip(class_names, missed) if is_missed]
