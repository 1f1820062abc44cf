"""Separability baselines of a run's data (majority class, identity only, pixel logistic regression, a small
CNN, the AU oracle), computed once per data setting and cached in a run folder.

Notebook 01 measures them and later notebooks compare their models with them: the same numbers on the same test
split, whichever notebook asks first. What each baseline is: `fer_lib.data.synthfer_quality`.
"""
from __future__ import annotations

import json

import numpy as np

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits
from fer_lib.data.registry import load_splits
from fer_lib.data.synthfer_quality import separability_report, small_cnn_accuracy
from fer_lib.eval.compare import Comparison, compare_unpaired
from fer_lib.report import write_json_atomic
from fer_lib.runs import open_run

VERSION = "1"                                  # change it when a baseline changes, so cached scores are redone
CNN_EPOCHS = {"smoke": 3, "quick": 8}          # the small CNN's epochs per profile; any other profile: 30
NOT_ACCURACIES = ("small_cnn_seconds", "vote_agreement", "test_images")   # the entries that are not test accuracies
BASELINE_NAMES = {"majority_class": "majority class", "identity_leakage": "identity only",
                  "pixel_logreg": "pixel logistic regression", "small_cnn": "small CNN", "au_oracle": "AU oracle",
                  "vote_agreement": "vote agreement", "small_cnn_seconds": "small CNN training seconds",
                  "test_images": "test images"}


def baseline_cnn_epochs(profile: str) -> int:
    """How long the small CNN baseline trains at `profile`."""
    return CNN_EPOCHS.get(profile, 30)


def baseline_scores(cfg: RunConfig, splits: DatasetSplits | None = None) -> dict[str, float]:
    """Test accuracies of the baselines that apply to the data of `cfg`, plus the number of test images, the CNN's
    training seconds and the annotators' vote agreement where there are votes (`accuracies` keeps the accuracies).

    Cached as <run>/scores.json in runs/<profile>/baselines-<dataset>-<hash>/, the hash covering the data spec,
    the CNN's epochs, the seed and VERSION: the first call computes (about a minute at `quick`), later calls read.
    `splits` saves loading them again and must be `load_splits(cfg.data)`.
    """
    epochs = baseline_cnn_epochs(cfg.profile)
    identity = {"recipe": "baselines", "data": cfg.data, "cnn_epochs": epochs, "seed": cfg.seed, "version": VERSION}
    cached = open_run(cfg.profile, cfg.seed, "baselines", cfg.data.dataset, identity) / "scores.json"
    if not cached.is_file():
        write_json_atomic(cached, _measure(cfg, splits if splits is not None else load_splits(cfg.data), epochs))
    return json.loads(cached.read_text())


def _measure(cfg: RunConfig, splits: DatasetSplits, epochs: int) -> dict[str, float]:
    """Every baseline of `separability_report`, with the small CNN seeded from the run's seed."""
    scores = {"test_images": len(splits.test), **separability_report(splits.train, splits.test)}
    scores["small_cnn"], scores["small_cnn_seconds"] = small_cnn_accuracy(splits.train, splits.test, epochs=epochs,
                                                                          seed=cfg.seed)
    return scores


def accuracies(scores: dict[str, float]) -> dict[str, float]:
    """The test accuracies among `baseline_scores` (without the seconds and the vote agreement)."""
    return {name: value for name, value in scores.items() if name not in NOT_ACCURACIES}


def compare_baselines(scores: dict[str, float], name_a: str, name_b: str) -> Comparison:
    """Baseline `name_a` against `name_b` (keys of `scores`), with the unpaired standard error of two accuracies on
    the test images: the baselines keep no per-image results, and the unpaired error needs only each accuracy and
    the number of images (any 0/1 vectors with those counts give it). A paired one would be smaller, so a tie here
    may hide a real gap."""
    images = int(scores["test_images"])
    correct = {name: np.arange(images) < round(scores[name] * images) for name in (name_a, name_b)}
    return compare_unpaired(correct[name_a], correct[name_b], BASELINE_NAMES.get(name_a, name_a),
                            BASELINE_NAMES.get(name_b, name_b))
