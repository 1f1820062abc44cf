"""Notebook 08's reading of the claims benchmark, of run folders' costs, and its generated conclusions."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from fer_lib.eval.claims_benchmark import (FINETUNED_SERIES, FinetunedSeries, SeedStats, claim_summaries,
                                           claims_results, finetuned_curves, notebook_claims, notebook_metric)
from fer_lib.eval.costs import TrainingCost, history_cost, run_costs
from fer_lib.eval.whole_picture import conclusions, published_figure, verdict_tally
from fer_lib.viz.whole_picture import cost_bars, label_efficiency_panels


def claim(key: str, effect: float, verdict: str, a: str = "A", b: str = "B", accuracy_a: float = 0.5,
          accuracy_b: float = 0.4, **extra: object) -> dict:
    return {"key": key, "claim": f"claim {key}", "a": a, "b": b, "accuracy_a": accuracy_a, "accuracy_b": accuracy_b,
            "effect": effect, "standard_error": 0.01, "verdict": verdict, "min_gap": 0.0, **extra}


RESULTS = {"profile": "quick", "notebooks": {
    "03": {"0": {"claims": [claim("face_mae_beats_scratch", 0.10, "holds", "MAE (face)", "scratch", 0.60, 0.50),
                            claim("probe", 0.01, "does not hold", "MAE (face) probe", "majority class", 0.41, 0.40)]},
           "1": {"claims": [claim("face_mae_beats_scratch", 0.20, "holds", "MAE (face)", "scratch", 0.70, 0.50),
                            claim("probe", 0.02, "does not hold", "MAE (face) probe", "majority class", 0.42, 0.40)]}},
    "03-10pct-labels": {"0": {"claims": [claim("face_mae_beats_scratch_10_labels", 0.05, "holds", "MAE (face)",
                                               "scratch", 0.45, 0.40)]}},
    "05": {"0": {"claims": [claim("facemix_beats_mixup_25_labels", -0.03, "not resolved (within noise)")],
                 "metrics": {"face_facemix_0_25_test_acc": 0.45, "face_facemix_as_released_0_25_test_acc": 0.99,
                             "face_facemix_1_test_acc": 0.55}},
           "1": {"claims": [claim("facemix_beats_mixup_25_labels", 0.04, "holds")],
                 "metrics": {"face_facemix_0_25_test_acc": 0.47}}},
    "06": {"0": {"claims": [], "metrics": {"mae_face_ssfer_10_labels_test_acc": 0.38,
                                           "mae_face_ssfer_2_5_labels_test_acc": 0.30,
                                           "mae_face_ssfer_test_acc": 0.99}}},
    "07": {"0": {"claims": [], "metrics": {"all_test_acc": float("nan"), "noise_rate": 0.4}}}}}


def series(label: str) -> FinetunedSeries:
    return next(s for s in FINETUNED_SERIES if s.label == label)


def test_seed_stats_give_the_mean_and_the_sample_standard_deviation_and_no_spread_for_one_seed() -> None:
    stats = SeedStats((0.4, 0.5, 0.6))
    assert stats.n == 3 and stats.mean == pytest.approx(0.5) and stats.spread == pytest.approx(0.1)
    assert stats.text() == "50.0 ± 10.0 (3 seeds)"
    single = SeedStats((0.42,))
    assert math.isnan(single.spread) and single.text() == "42.0 (1 seed)"
    assert SeedStats((-0.03,)).text(signed=True) == "-3.0 (1 seed)" and SeedStats((0.02,)).text(signed=True)[0] == "+"


def test_a_claim_is_summarised_over_its_seeds_with_the_strict_verdict_rule() -> None:
    summaries = {s.key: s for s in claim_summaries(RESULTS)}
    assert list(summaries) == ["face_mae_beats_scratch", "probe", "face_mae_beats_scratch_10_labels",
                               "facemix_beats_mixup_25_labels"]
    face = summaries["face_mae_beats_scratch"]
    assert face.notebook == "03" and face.effect.mean == pytest.approx(0.15) and face.noise == pytest.approx(0.02)
    assert face.held == 2 and face.verdict == "held" and face.expected == "MAE (face) > scratch"
    assert face.measured == "MAE (face) ahead"
    assert summaries["probe"].verdict == "did not hold"
    assert summaries["probe"].measured == "tie (within 2 SE)"                # 1.5 points against 2 SE of 2 points
    assert summaries["facemix_beats_mixup_25_labels"].verdict == "mixed"
    assert verdict_tally(list(summaries.values())) == {"held": 2, "did not hold": 1,
                                                       "not resolved (within noise)": 0, "mixed": 1}


def test_fine_tuned_curves_take_each_method_at_its_label_share_over_seeds_and_never_invent_a_cell() -> None:
    curves = finetuned_curves(RESULTS)
    face = curves[series("MAE (face)")]
    assert sorted(face) == [0.1, 1.0] and face[1.0].values == (0.6, 0.7) and face[0.1].values == (0.45,)
    assert curves[series("scratch")][1.0].values == (0.5, 0.5)
    facemix = curves[series("FaceMix")]                         # the "as released" rows are another method
    assert sorted(facemix) == [0.25, 1.0] and facemix[0.25].values == (0.45, 0.47)
    assert curves[series("SSFER (semi)")] == {0.025: SeedStats((0.30,)), 0.1: SeedStats((0.38,))}
    assert curves[series("DR-FER (ours), noisy labels")] == {}                 # NaN is not a measurement
    assert curves[series("FixMatch (semi)")] == {}
    assert notebook_metric(RESULTS, "07", "noise_rate") == SeedStats((0.4,))
    assert notebook_metric(RESULTS, "07", "missing") is None and notebook_metric(RESULTS, "08", "noise_rate") is None


def test_the_results_file_with_the_most_seeds_is_read_and_quick_stands_in_for_a_profile_without_one(
        tmp_path: Path) -> None:
    few = {"profile": "quick", "notebooks": {"03": {"0": {}}}}
    many = {"profile": "quick", "notebooks": {"03": {"0": {}, "1": {}}, "04": {"0": {}}}}
    (tmp_path / "claims_quick_cpu_threads2.json").write_text(json.dumps(few))
    (tmp_path / "claims_quick_cpu_threads1.json").write_text(json.dumps(many))
    path, results = claims_results("smoke", tmp_path)
    assert path.name == "claims_quick_cpu_threads1.json" and results == many
    with pytest.raises(FileNotFoundError, match="bench_claims"):
        claims_results("smoke", tmp_path / "empty")


def test_a_notebook_reads_its_own_claims_over_seeds_as_table_rows(tmp_path: Path) -> None:
    (tmp_path / "claims_quick_cpu_threads1.json").write_text(json.dumps(RESULTS))
    path, rows = notebook_claims("03", "smoke", tmp_path)
    assert path.name == "claims_quick_cpu_threads1.json"
    assert list(rows) == ["03: claim face_mae_beats_scratch", "03: claim probe",
                          "03-10pct-labels: claim face_mae_beats_scratch_10_labels"]
    row = rows["03: claim face_mae_beats_scratch"]
    assert row["held on"] == "2 of 2 seeds" and row["verdict"] == "held" and row["effect (points)"].startswith("+15.0")
    assert row["expected"] == "MAE (face) > scratch" and row["measured at quick"] == "MAE (face) ahead"
    assert list(notebook_claims("05", "quick", tmp_path)[1]) == ["05: claim facemix_beats_mixup_25_labels"]
    assert notebook_claims("09", "quick", tmp_path)[1] == {}
    gap = claim_summaries({"notebooks": {"03": {"0": {"claims": [claim("k", 0.2, "holds", min_gap=0.1)]}}}})
    assert [summary.title for summary in gap] == ["03: claim k (by at least 10 points)"]


def test_published_figures_are_found_by_the_longest_key_prefix_and_otherwise_said_to_be_missing() -> None:
    assert "88.23" in published_figure("face_mae_beats_scratch_10_labels")
    assert "59.3" in published_figure("ssl_fer_beats_simclr_probe")
    assert "90.24" in published_figure("full_method_beats_ce_on_noisy_labels")
    assert published_figure("mix_supcon_beats_supcon_face_mae_25_labels").startswith("MIMIC")
    assert published_figure("supcon_beats_simclr_probe") != published_figure("supcon_beats_ce_face_mae_25_labels")
    assert published_figure("an_unknown_claim") == "none in the stored sources"


def history(seconds: float, rate: float, epochs: int, val: list[float] | None = None) -> list[dict]:
    return [{"epoch": e + 1, "epoch_seconds": seconds, "images_per_second": rate,
             **({"val_acc": val[e]} if val else {})} for e in range(epochs)]


def test_the_cost_of_a_history_adds_its_epochs_and_costs_add_up() -> None:
    cost = history_cost(history(2.0, 100.0, 3))
    assert cost == TrainingCost(6.0, 600, 3)
    assert cost + TrainingCost(4.0, 400, 1) == TrainingCost(10.0, 1000, 4)


def write_run(root: Path, folder: str, kind: str, label: str, identity: dict, records: list[dict], mtime: float) -> None:
    path = root / folder
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"kind": kind, "label": label, "identity": identity}))
    (path / "history.json").write_text(json.dumps(records))
    os.utime(path / "history.json", (mtime, mtime))


def test_run_costs_keep_the_latest_run_per_label_and_share_of_one_seed(tmp_path: Path) -> None:
    tuned = {"seed": 0, "data": {"label_fraction": 0.25}}
    write_run(tmp_path, "finetune-facemix-old", "finetune", "facemix", tuned, history(9.0, 10.0, 1, [0.1]), 1000)
    write_run(tmp_path, "finetune-facemix-new", "finetune", "facemix", tuned, history(3.0, 10.0, 2, [0.3, 0.4]), 2000)
    write_run(tmp_path, "semi-ssfer-a", "semi", "ssfer", {"seed": 0, "fraction": 0.1, "data": {"label_fraction": 1.0}},
              history(1.0, 10.0, 1, [0.2]), 1000)
    write_run(tmp_path, "finetune-facemix-seed1", "finetune", "facemix", {**tuned, "seed": 1}, history(1.0, 1.0, 1), 3000)
    write_run(tmp_path, "mae-face-a", "mae", "face", {"seed": 0}, history(50.0, 10.0, 1), 1000)
    found = run_costs(tmp_path, seed=0)
    assert [(r.folder, r.label_fraction) for r in found] == [("semi-ssfer-a", 0.1), ("finetune-facemix-new", 0.25)]
    assert found[1].cost == TrainingCost(6.0, 60, 2) and found[1].best_val_accuracy == pytest.approx(0.4)
    assert len(run_costs(tmp_path)) == 3 and math.isnan(run_costs(tmp_path, seed=1)[0].best_val_accuracy)


def test_conclusions_count_the_verdicts_and_rank_the_frozen_encoders_with_paired_noise() -> None:
    rng = np.random.default_rng(0)
    floor = {0.01: rng.random(400) < 0.40, 1.0: rng.random(400) < 0.40}
    strong = {0.01: floor[0.01] | (rng.random(400) < 0.5), 1.0: floor[1.0].copy()}
    lines = conclusions(claim_summaries(RESULTS), {"random": floor, "MAE": strong}, floor="random")
    assert lines[0] == ("Of 4 claims measured on 1 to 2 seed(s), 2 held on every seed, 1 failed on every seed, "
                        "0 stayed within the noise and 1 were mixed.")
    assert lines[1].startswith("Held: 03: claim face_mae_beats_scratch (+15.0 points, 2 SE 2.0)")
    assert lines[2].startswith("Failed") and "claim probe" in lines[2]
    assert lines[3].startswith("Frozen, with 1% of the labels: MAE beats random") and "MAE > random" in lines[3]
    assert lines[4].startswith("Frozen, with 100% of the labels: MAE ties with random") and "random = MAE" in lines[4]


def test_the_figures_draw_one_line_per_measured_method_and_one_bar_per_run() -> None:
    fig = label_efficiency_panels({"FaceMix [05]": {0.25: SeedStats((0.4, 0.5))}, "none [07]": {}},
                                  {"FaceMix [05]": "05", "none [07]": "07"},
                                  {"random": {0.01: 0.3, 1.0: 0.4}}, {"random": {0.01: 0.02, 1.0: 0.02}},
                                  tuned_references={"majority": 0.35})
    tuned, probe = fig.axes
    assert tuned.get_legend_handles_labels()[1] == ["majority (0.35)", "FaceMix [05]"]
    assert probe.get_legend_handles_labels()[1] == ["random"]
    bars = cost_bars({"a": (1.0, 0.5), "b": (2.0, 0.6)}, {"a": "10% labels", "b": "25% labels"}, "minutes", "val")
    assert len(bars.axes[0].patches) == 2 and bars.axes[0].get_legend_handles_labels()[1] == ["10% labels", "25% labels"]
