"""Expected calibration error and reliability bins on hand-computed cases; the paired comparison of two models'
calibration; the reliability diagram draws."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fer_lib.eval.calibration import compare_calibration, expected_calibration_error, reliability_bins  # noqa: E402
from fer_lib.viz.calibration import reliability_diagram  # noqa: E402

# Four predictions, 5 bins of width 0.2: confidences 0.9, 0.9 (one right, one wrong) and 0.6, 0.6 (both right).
PROBS = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
LABELS = np.array([0, 1, 1, 1])


def test_ece_weighs_each_bins_gap_between_accuracy_and_confidence_by_its_share() -> None:
    # bin (0.8, 1]: accuracy 1/2, confidence 0.9, gap 0.4; bin (0.4, 0.6]: accuracy 1, confidence 0.6, gap 0.4
    assert expected_calibration_error(PROBS, LABELS, bins=5) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_reliability_bins_hold_counts_accuracy_and_mean_confidence_per_bin() -> None:
    bins = reliability_bins(PROBS, LABELS, bins=5)
    assert bins.edges.tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert bins.counts.tolist() == [0, 0, 2, 0, 2]
    assert bins.accuracy[[2, 4]].tolist() == [1.0, 0.5] and np.isnan(bins.accuracy[[0, 1, 3]]).all()
    assert bins.confidence[[2, 4]].tolist() == pytest.approx([0.6, 0.9])


def test_a_confidence_on_a_bin_edge_belongs_to_the_lower_bin() -> None:
    assert reliability_bins(np.array([[0.5, 0.5]]), np.array([0]), bins=2).counts.tolist() == [1, 0]


def test_a_model_right_three_times_in_four_at_confidence_three_quarters_is_calibrated() -> None:
    probs = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_mismatched_probabilities_and_labels_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        expected_calibration_error(PROBS, LABELS[:3])


def test_a_calibrated_model_beats_an_overconfident_one_beyond_the_paired_noise() -> None:
    labels = np.tile([0, 0, 0, 1], 50)                                # 200 images, class 0 right 3 times in 4
    calibrated = np.tile([0.75, 0.25], (200, 1))                      # ECE 0
    overconfident = np.tile([0.99, 0.01], (200, 1))                   # ECE |0.75 - 0.99| = 0.24
    comparison = compare_calibration(calibrated, overconfident, labels, "calibrated", "overconfident", resamples=200)
    assert comparison.gap == pytest.approx(0.24)
    assert comparison.accuracy_a == pytest.approx(1.0) and comparison.accuracy_b == pytest.approx(0.76)
    assert comparison.verdict == "beats"


def test_a_model_compared_with_itself_ties_with_no_noise() -> None:
    comparison = compare_calibration(PROBS, PROBS, LABELS, "a", "a copy", resamples=50)
    assert comparison.gap == 0.0 and comparison.standard_error == 0.0 and comparison.verdict == "ties with"


def test_the_reliability_diagram_draws_one_panel_per_model() -> None:
    figure = reliability_diagram({"a": reliability_bins(PROBS, LABELS, 5), "b": reliability_bins(PROBS, LABELS, 5)})
    assert len(figure.axes) == 2 and "ECE 40.0%" in figure.axes[0].get_title()
