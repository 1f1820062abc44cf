"""The separability baselines are measured once per data setting and read back from their run folder after."""
from types import SimpleNamespace

import pytest

from fer_lib.config import make_config
from fer_lib.recipes import baselines
from fer_lib.recipes.baselines import accuracies, baseline_scores, compare_baselines
from fer_lib.runs import list_runs


def test_a_second_call_with_the_same_settings_reads_the_cached_scores_without_recomputing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config("smoke")
    first = baseline_scores(cfg)
    assert {"majority_class", "pixel_logreg", "identity_leakage", "au_oracle", "small_cnn"} <= set(accuracies(first))
    assert all(0.0 <= value <= 1.0 for value in accuracies(first).values())
    assert "small_cnn_seconds" in first and "small_cnn_seconds" not in accuracies(first)

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the baselines were measured again")

    monkeypatch.setattr(baselines, "separability_report", must_not_run)
    monkeypatch.setattr(baselines, "small_cnn_accuracy", must_not_run)
    assert baseline_scores(cfg) == first


def test_another_data_setting_is_another_run_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    measured = []

    def fake_report(train: object, test: object) -> dict[str, float]:
        measured.append(train)
        return {"majority_class": 0.4}

    monkeypatch.setattr(baselines, "separability_report", fake_report)
    monkeypatch.setattr(baselines, "small_cnn_accuracy", lambda *args, **kwargs: (0.5, 1.0))
    splits = SimpleNamespace(train=["a training face"], test=["a test face", "another"])
    for cfg in (make_config("smoke"), make_config("smoke", label_noise=0.2), make_config("smoke")):
        assert baseline_scores(cfg, splits) == {"test_images": 2, "majority_class": 0.4, "small_cnn": 0.5,
                                                "small_cnn_seconds": 1.0}
    assert len(measured) == 2
    folders = list_runs("smoke", "baselines")
    assert len(folders) == 2 and all(name.startswith("baselines-synthfer-") for name in folders)


def test_baselines_compare_with_the_unpaired_noise_of_two_accuracies_on_the_test_images() -> None:
    scores = {"test_images": 1000, "majority_class": 0.40, "pixel_logreg": 0.60, "identity_leakage": 0.41}
    assert compare_baselines(scores, "pixel_logreg", "majority_class").verdict == "beats"
    tie = compare_baselines(scores, "identity_leakage", "majority_class")
    assert tie.verdict == "ties with" and tie.gap == pytest.approx(0.01)
    assert tie.standard_error == pytest.approx((0.41 * 0.59 / 999 + 0.40 * 0.60 / 999) ** 0.5, rel=1e-3)
