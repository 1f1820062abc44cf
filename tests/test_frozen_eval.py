"""The shared frozen-encoder evaluation: leave-one-out 1-NN leakage, and the whole protocol on a smoke encoder."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lib.config import make_config
from fer_lib.data.registry import load_splits
from fer_lib.recipes.frozen_eval import HELD_OUT_PEOPLE, _one_nn_accuracy, evaluate_frozen, transfer_sets


def test_leave_one_out_nearest_neighbour_never_finds_the_face_itself() -> None:
    features = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert _one_nn_accuracy(features, np.array([7, 7, 3, 3])).tolist() == [1, 1, 1, 1]
    assert _one_nn_accuracy(features, np.array([7, 3, 7, 3])).tolist() == [0, 0, 0, 0]


def test_the_protocol_scores_every_fraction_and_transfer_set_on_the_same_test_faces(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_SSL_RUNS", str(tmp_path))
    cfg = make_config("smoke", synthfer_train=128, synthfer_val=64, synthfer_test=64)
    splits = load_splits(cfg.data)
    shifted = transfer_sets(cfg)
    result = evaluate_frozen(cfg, None, splits, shifted, torch.device("cpu"), "random", fractions=(0.1, 1.0))
    assert sorted(result.label_efficiency) == [0.1, 1.0] and result.probe_accuracy == result.label_efficiency[1.0]
    assert len(result.probe_correct) == len(splits.test) and set(result.transfer) == set(shifted)
    assert HELD_OUT_PEOPLE in shifted and len(result.identity_correct) == len(shifted[HELD_OUT_PEOPLE])
    with pytest.raises(ValueError, match="must include 1.0"):
        evaluate_frozen(cfg, None, splits, {}, torch.device("cpu"), "random", fractions=(0.5,))


def test_an_evaluation_is_stored_by_what_decides_it_and_read_back_under_the_callers_label(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_SSL_RUNS", str(tmp_path))
    cfg = make_config("smoke", synthfer_train=128, synthfer_val=64, synthfer_test=64)
    splits = load_splits(cfg.data)
    people = {HELD_OUT_PEOPLE: transfer_sets(cfg)[HELD_OUT_PEOPLE]}
    first = evaluate_frozen(cfg, None, splits, people, torch.device("cpu"), "random encoder", fractions=(0.1, 1.0))
    stored = list(tmp_path.glob("smoke/frozen-random-*/evaluation.pt"))
    assert len(stored) == 1
    again = evaluate_frozen(cfg, None, splits, people, torch.device("cpu"), "scratch", fractions=(0.1, 1.0))
    assert again.label == "scratch" and again.label_efficiency == first.label_efficiency
    assert np.array_equal(again.identity_correct, first.identity_correct) and isinstance(again.probe_correct, np.ndarray)
    assert torch.equal(again.test_features, first.test_features)
    shuffled_labels = dataclasses.replace(splits.train, labels=np.roll(splits.train.labels, 1))
    relabelled = dataclasses.replace(splits, train=shuffled_labels)
    evaluate_frozen(cfg, None, relabelled, people, torch.device("cpu"), "random", fractions=(0.1, 1.0))
    evaluate_frozen(cfg.replace(seed=1), None, splits, people, torch.device("cpu"), "random", fractions=(0.1, 1.0))
    assert len(list(tmp_path.glob("smoke/frozen-random-*/evaluation.pt"))) == 3
