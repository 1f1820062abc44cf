"""Notebook 08's verdicts and take-aways: the papers' own published figures beside each claim, and a short "what
to conclude" generated from the claims over seeds and the frozen probes' per-image results."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fer_lib.eval.claims_benchmark import ClaimSummary
from fer_lib.eval.compare import compare_paired, rank_with_ties

SSFER = "SSFER (README; face MAE + FaceMix + semi, ViT-B, RAF-DB): 80.96 / 85.07 / 88.23% at 5 / 10 / 25% labels"
DR_FER = ("DR-FER (poster; the datasets' own labels, ResNet-50): RAF-DB 90.24, AffectNet-7 66.71, FERPlus 91.03%; "
          "no figure for synthetic noise")
MIMIC = "MIMIC: none in the stored sources (abstract only)"
CRS_CONT = "CRS-CONT: none in the stored sources (the paper is closed access, its README has none)"
# The papers' published figures (SSFER's and SSL-FER's READMEs, DR-FER's poster; MIMIC's tables and CRS-CONT's paper
# were not available), the only hand-typed numbers of notebook 08, keyed by the prefix of the claim keys they stand
# beside (the longest prefix wins).
PUBLISHED_FIGURES = {
    "face_mae_beats_scratch": SSFER + " (no scratch row)",
    "face_mae_beats_general_mae": SSFER + " (no ImageNet-MAE row)",
    "facemix_beats_mixup": SSFER + " (its FaceMix ablation is not in the stored sources)",
    "mixup_beats_no_mixing": SSFER + " (its mixing ablation is not in the stored sources)",
    "semi_beats_supervised": SSFER + " (its stage-3 ablation is not in the stored sources)",
    "general_mae_beats_scratch": MIMIC,
    "mix_supcon_beats_supcon": MIMIC,
    "supcon_beats_ce": MIMIC,
    "face_mae_probe_beats_majority": CRS_CONT,
    "crs_cont_transfers_as_well_as_supcon": CRS_CONT,
    "supcon_beats_simclr_probe": "SupCon is not one of the five works: no FER figure in the stored sources",
    "ssl_fer_beats_simclr_probe": ("SSL-FER (README; AffectNet-8, fine-tuned ResNet-50): SimCLR 57.7% -> all four "
                                   "options 59.3% accuracy (+1.6)"),
    "ssl_fer_lowers_identity_leakage": "SSL-FER: no identity-leakage figure in the stored sources",
    "classwise_gmm_detects_asymmetric_noise_better": DR_FER,
    "spl_relabel_recovers_half_the_noise_cost": DR_FER,
    "full_method_beats_ce_on_noisy_labels": DR_FER,
}


def published_figure(claim_key: str) -> str:
    """The paper's own figure that stands beside claim `claim_key`, or a note that there is none."""
    prefixes = [prefix for prefix in PUBLISHED_FIGURES if claim_key.startswith(prefix)]
    return PUBLISHED_FIGURES[max(prefixes, key=len)] if prefixes else "none in the stored sources"


def verdict_tally(summaries: Sequence[ClaimSummary]) -> dict[str, int]:
    """{overall verdict: number of claims}, every verdict present even when no claim has it."""
    tally = dict.fromkeys(("held", "did not hold", "not resolved (within noise)", "mixed"), 0)
    for summary in summaries:
        tally[summary.verdict] += 1
    return tally


def _listed(summaries: Sequence[ClaimSummary]) -> str:
    return "; ".join(f"{s.notebook}: {s.text} ({100 * s.effect.mean:+.1f} points, 2 SE {100 * s.noise:.1f})"
                     for s in summaries)


def conclusions(summaries: Sequence[ClaimSummary], probe_correct: Mapping[str, Mapping[float, np.ndarray]],
                floor: str) -> list[str]:
    """What the measured numbers say, sentence by sentence: the claims' verdicts over seeds (which held, which
    failed), then the frozen encoders at the fewest and at all labels: the best pre-trained one against the random
    encoder `floor`, and all of them ranked with ties (probe_correct: {encoder: {label fraction: per-test-image 0/1}})."""
    tally = verdict_tally(summaries)
    seeds = sorted({len(s.records) for s in summaries})
    lines = [f"Of {len(summaries)} claims measured on {' to '.join(map(str, dict.fromkeys(seeds[:1] + seeds[-1:])))} "
             f"seed(s), {tally['held']} held on every seed, {tally['did not hold']} failed on every seed, "
             f"{tally['not resolved (within noise)']} stayed within the noise and {tally['mixed']} were mixed."]
    held = [s for s in summaries if s.verdict == "held"]
    failed = [s for s in summaries if s.verdict == "did not hold"]
    if held:
        lines.append(f"Held: {_listed(held)}.")
    if failed:
        lines.append(f"Failed (the other side was ahead beyond the noise, or short of the required gap): {_listed(failed)}.")
    fractions = sorted(probe_correct[floor])
    for fraction in dict.fromkeys((fractions[0], fractions[-1])):
        correct = {name: curve[fraction] for name, curve in probe_correct.items()}
        best = max((name for name in correct if name != floor), key=lambda name: float(np.mean(correct[name])))
        versus = compare_paired(correct[best], correct[floor], best, floor)
        lines.append(f"Frozen, with {100 * fraction:g}% of the labels: {versus.sentence('linear-probe accuracy')} "
                     f"Ranked ('=': within 2 paired standard errors): {rank_with_ties(correct)}.")
    return lines
