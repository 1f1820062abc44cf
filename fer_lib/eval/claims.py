"""A paper's claim, measured: the comparison that tests it and the verdict, for notebooks, the run report and
the claims benchmark alike."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_lib.eval.compare import Comparison, compare_paired
from fer_lib.report import metric_slug


@dataclass(frozen=True)
class Claim:
    """`text` (whose claim, in a sentence) tested by `comparison`: it holds when a beats b beyond 2 standard
    errors and, with `min_gap`, by at least that much accuracy."""

    key: str
    text: str
    comparison: Comparison
    min_gap: float = 0.0

    @property
    def verdict(self) -> str:
        """'holds', 'does not hold' or 'not resolved (within noise)'."""
        if self.comparison.significant and self.comparison.gap > 0:
            return "holds" if self.comparison.gap >= self.min_gap else "does not hold"
        return "does not hold" if self.comparison.significant else "not resolved (within noise)"

    def sentence(self) -> str:
        bar = f" by at least {100 * self.min_gap:.0f} points" if self.min_gap else ""
        return (f"{self.text}{bar}: {self.verdict}. {self.comparison.sentence('test accuracy')}")

    def record(self) -> dict[str, Any]:
        c = self.comparison
        return {"key": self.key, "claim": self.text, "a": c.name_a, "b": c.name_b, "accuracy_a": c.accuracy_a,
                "accuracy_b": c.accuracy_b, "effect": c.gap, "standard_error": c.standard_error, "n": c.n,
                "min_gap": self.min_gap, "verdict": self.verdict}


def initialisation_claims(finetune_correct: dict[str, np.ndarray], probe_correct: dict[str, np.ndarray],
                          majority_correct: np.ndarray, suffix: str = "") -> list[Claim]:
    """Notebook 03's claims from per-image test correctness (N,) of the fine-tuned models and the linear probes,
    keyed "scratch", "MAE (general)", "MAE (face)"; `suffix` tells label budgets apart (e.g. ", 10% labels")."""
    def versus(a: str, b: str, correct: dict[str, np.ndarray]) -> Comparison:
        return compare_paired(correct[a], correct[b], a, b)

    tag = metric_slug(suffix)
    return [
        Claim(f"face_mae_beats_scratch{tag and '_' + tag}", f"SSFER: a face MAE initialisation beats random weights{suffix}",
              versus("MAE (face)", "scratch", finetune_correct)),
        Claim(f"general_mae_beats_scratch{tag and '_' + tag}",
              f"MIMIC's premise: a general-image MAE initialisation beats random weights{suffix}",
              versus("MAE (general)", "scratch", finetune_correct)),
        Claim(f"face_mae_beats_general_mae{tag and '_' + tag}",
              f"SSFER: faces make a better MAE initialisation than general images{suffix}",
              versus("MAE (face)", "MAE (general)", finetune_correct)),
        Claim(f"face_mae_probe_beats_majority{tag and '_' + tag}",
              f"CRS-CONT's protocol: a linear probe on the frozen face MAE beats the majority class{suffix}",
              compare_paired(probe_correct["MAE (face)"], majority_correct, "MAE (face) probe", "majority class"),
              min_gap=0.10),
    ]
