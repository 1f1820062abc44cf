"""A paper's claim, measured: the comparison that tests it and the verdict, for notebooks, the run report and
the claims benchmark alike."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_lib.eval.compare import Comparison, compare_paired
from fer_lib.report import metric_slug


def claim_text(record: dict) -> str:
    """A recorded claim's sentence (`Claim.record()`), with its minimum gap when it has one."""
    return record["claim"] + (f" (by at least {100 * record['min_gap']:.0f} points)" if record["min_gap"] else "")


@dataclass(frozen=True)
class Claim:
    """`text` (whose claim, in a sentence) tested by `comparison`: it holds when a beats b beyond 2 standard
    errors and, with `min_gap`, by at least that much accuracy. An `at_least_as_good` claim ("a is no worse than
    b") holds unless b beats a beyond 2 standard errors."""

    key: str
    text: str
    comparison: Comparison
    min_gap: float = 0.0
    at_least_as_good: bool = False
    measure: str = "test accuracy"     # what the per-item scores are (e.g. "identity 1-NN accuracy", "AUROC share")

    @property
    def verdict(self) -> str:
        """'holds', 'does not hold' or 'not resolved (within noise)'."""
        if self.at_least_as_good:
            return "does not hold" if self.comparison.significant and self.comparison.gap < 0 else "holds"
        if self.comparison.significant and self.comparison.gap > 0:
            return "holds" if self.comparison.gap >= self.min_gap else "does not hold"
        return "does not hold" if self.comparison.significant else "not resolved (within noise)"

    def sentence(self) -> str:
        bar = f" by at least {100 * self.min_gap:.0f} points" if self.min_gap else ""
        return f"{self.text}{bar}: {self.verdict}. {self.comparison.sentence(self.measure)}"

    def record(self) -> dict[str, Any]:
        c = self.comparison
        return {"key": self.key, "claim": self.text, "a": c.name_a, "b": c.name_b, "accuracy_a": c.accuracy_a,
                "accuracy_b": c.accuracy_b, "effect": c.gap, "standard_error": c.standard_error, "n": c.n,
                "min_gap": self.min_gap, "at_least_as_good": self.at_least_as_good, "measure": self.measure,
                "verdict": self.verdict}


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


def contrastive_claims(probe_correct: dict[str, np.ndarray], identity_correct: dict[str, np.ndarray],
                       transfer_correct: dict[str, np.ndarray]) -> list[Claim]:
    """Notebook 04's claims from per-image 0/1 arrays keyed by variant name ("SimCLR", "SupCon (fine)",
    "CRS-CONT", and SSL-FER's variant with all four options, "SimCLR+TimeAug+HardNeg+FaceSwap+MaskFN"):
    probe correctness on test, identity 1-NN correctness on held-out people, probe correctness on a transfer set.
    A claim whose variants were not run is left out."""
    ssl_fer = "SimCLR+TimeAug+HardNeg+FaceSwap+MaskFN"
    claims = []
    if {"SupCon (fine)", "SimCLR"} <= probe_correct.keys():
        claims.append(Claim("supcon_beats_simclr_probe", "SupCon: labels make a better frozen encoder than SimCLR "
                            "(linear probe)", compare_paired(probe_correct["SupCon (fine)"], probe_correct["SimCLR"],
                                                             "SupCon (fine)", "SimCLR"),
                            measure="linear-probe accuracy"))
    if {ssl_fer, "SimCLR"} <= probe_correct.keys():
        claims.append(Claim("ssl_fer_beats_simclr_probe", "SSL-FER: TimeAug, HardNeg, FaceSwap and MaskFN raise "
                            "expression accuracy over SimCLR (linear probe)",
                            compare_paired(probe_correct[ssl_fer], probe_correct["SimCLR"], ssl_fer, "SimCLR"),
                            measure="linear-probe accuracy"))
    if {ssl_fer, "SimCLR"} <= identity_correct.keys():
        claims.append(Claim("ssl_fer_lowers_identity_leakage", "SSL-FER: its variants lower identity 1-NN accuracy "
                            "on held-out people relative to SimCLR (SimCLR's identity accuracy is the higher)",
                            compare_paired(identity_correct["SimCLR"], identity_correct[ssl_fer], "SimCLR", ssl_fer),
                            measure="identity 1-NN accuracy"))
    if {"CRS-CONT", "SupCon (fine)"} <= transfer_correct.keys():
        claims.append(Claim("crs_cont_transfers_as_well_as_supcon", "CRS-CONT: coarse SupCon with the weight vector "
                            "transfers across datasets at least as well as fine SupCon",
                            compare_paired(transfer_correct["CRS-CONT"], transfer_correct["SupCon (fine)"], "CRS-CONT",
                                           "SupCon (fine)"), at_least_as_good=True, measure="transfer accuracy"))
    return claims
