"""Paired comparisons, rankings with ties, zero-recall classes, and the report's table and slug helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fer_lib.eval.compare import compare_paired, compare_unpaired, rank_with_ties, zero_recall_classes
from fer_lib.report import markdown_table, metric_slug


def correct_on(indices: range, n: int = 100) -> np.ndarray:
    """(n,) bool: right on exactly `indices`."""
    correct = np.zeros(n, dtype=bool)
    correct[list(indices)] = True
    return correct


def test_identical_predictions_tie() -> None:
    correct = correct_on(range(60))
    comparison = compare_paired(correct, correct, "a", "b")
    assert (comparison.gap, comparison.standard_error) == (0.0, 0.0)
    assert comparison.verdict == "ties with" and not comparison.significant


def test_a_model_right_on_every_image_the_other_gets_wrong_beats_it() -> None:
    right, wrong = correct_on(range(100)), correct_on(range(0))
    forward, backward = compare_paired(right, wrong, "a", "b"), compare_paired(wrong, right, "b", "a")
    assert (forward.verdict, forward.holds) == ("beats", "holds")
    assert (backward.verdict, backward.holds) == ("trails", "does not hold")


def test_a_1_point_gap_on_100_images_with_large_noise_is_a_tie() -> None:
    comparison = compare_paired(correct_on(range(50)), correct_on(range(50, 99)), "a", "b")
    assert comparison.gap == pytest.approx(0.01)
    assert comparison.verdict == "ties with"
    assert comparison.holds == "is not resolved (within noise)"


def test_standard_error_matches_a_hand_computed_example() -> None:
    # differences [1, 0, 0, -1, 1]: mean 0.2, squared deviations sum to 2.8, std(ddof=1) = sqrt(0.7)
    comparison = compare_paired([1, 1, 0, 0, 1], [0, 1, 0, 1, 0], "a", "b")
    assert comparison.gap == pytest.approx(0.2)
    assert comparison.standard_error == pytest.approx(math.sqrt(0.7) / math.sqrt(5))
    assert (comparison.accuracy_a, comparison.accuracy_b, comparison.n) == (0.6, 0.4, 5)
    assert comparison.sentence("test accuracy") == (
        "a ties with b in test accuracy: 60.0% vs 40.0% (+20.0 points, 2 paired standard errors = 74.8 points).")


def test_different_lengths_raise_naming_both_sizes() -> None:
    with pytest.raises(ValueError, match="scratch has 3 .* MAE has 4"):
        compare_paired([1, 0, 1], [1, 0, 1, 1], "scratch", "MAE")


def test_ranking_joins_tied_models_with_equals() -> None:
    # face is right everywhere; scratch beats general by one image out of 100, within noise
    correct = {"scratch": correct_on(range(50)), "MAE (general)": correct_on(range(49)),
               "MAE (face)": correct_on(range(100))}
    assert rank_with_ties(correct) == "MAE (face) > scratch = MAE (general)"


def test_zero_recall_classes_are_named_but_absent_classes_are_not() -> None:
    confusion = np.array([[2, 1, 0], [0, 0, 3], [0, 0, 0]])
    assert zero_recall_classes(confusion, ["happy", "sad", "fear"]) == ["sad"]


def test_markdown_table_rounds_floats_and_leaves_missing_cells_empty() -> None:
    table = markdown_table({"MAE": {"acc": 0.61234, "epochs": 3}, "scratch": {"acc": np.float32(0.5)}})
    assert table == "| | acc | epochs |\n|---|---|---|\n| MAE | 0.612 | 3 |\n| scratch | 0.500 |  |"


def test_metric_slug_lowercases_and_collapses_punctuation() -> None:
    assert metric_slug("MAE (face)", "fine-tune acc") == "mae_face_fine_tune_acc"
    assert metric_slug("10-NN acc") == "10_nn_acc"


def test_an_unpaired_comparison_adds_the_two_sampling_variances() -> None:
    shifted = compare_unpaired(np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0, 1, 0]), "test", "grayscale")
    expected = np.sqrt(np.var([1, 1, 1, 0], ddof=1) / 4 + np.var([1, 0, 0, 0, 1, 0], ddof=1) / 6)
    assert shifted.gap == pytest.approx(0.75 - 1 / 3) and shifted.standard_error == pytest.approx(expected)
    assert not shifted.paired and "2 standard errors" in shifted.sentence("accuracy")


def test_a_claim_holds_only_beyond_the_noise_and_its_minimum_gap() -> None:
    from fer_lib.eval.claims import Claim

    clear = compare_paired(correct_on(range(60)), correct_on(range(30)), "face MAE", "scratch")   # +30 points
    assert Claim("k", "faces help", clear).verdict == "holds"
    assert Claim("k", "faces help a lot", clear, min_gap=0.4).verdict == "does not hold"
    assert Claim("k", "faces help", compare_paired(correct_on(range(30)), correct_on(range(60)), "a", "b")).verdict == \
        "does not hold"
    tie = compare_paired(correct_on(range(50)), correct_on(range(1, 51)), "a", "b")
    assert Claim("k", "a helps", tie).verdict == "not resolved (within noise)"
    assert Claim("k", "faces help", clear).record()["effect"] == pytest.approx(0.3)


def test_notebook_03_claims_cover_both_maes_and_the_probe() -> None:
    from fer_lib.eval.claims import initialisation_claims

    correct = {name: correct_on(range(k)) for name, k in (("scratch", 40), ("MAE (general)", 45), ("MAE (face)", 70))}
    claims = initialisation_claims(correct, correct, correct_on(range(40)), suffix=", 10% labels")
    assert [claim.key for claim in claims] == ["face_mae_beats_scratch_10_labels", "general_mae_beats_scratch_10_labels",
                                               "face_mae_beats_general_mae_10_labels", "face_mae_probe_beats_majority_10_labels"]
    assert [claim.verdict for claim in claims] == ["holds", "holds", "holds", "holds"]
