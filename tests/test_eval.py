"""Evaluation: metrics, probes on frozen features, cross-dataset scoring, facial regions, neighbour purity."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, FaceDataset
from fer_lib.eval.embedding import neighbour_purity, umap_embedding
from fer_lib.eval.metrics import classification_report, evaluate_cross_dataset
from fer_lib.eval.probes import knn_classify, linear_probe
from fer_lib.eval.regions import landmark_regions, region_mass, region_masks

THREE = ("a", "b", "c")
# labels 0 0 0 1 1 2, predictions 0 0 1 1 2 2: confusion rows [2 1 0] [0 1 1] [0 0 1]
HAND_LABELS = np.array([0, 0, 0, 1, 1, 2])
HAND_PREDS = np.array([0, 0, 1, 1, 2, 2])


def test_metrics_match_a_hand_computed_three_class_example() -> None:
    report = classification_report(HAND_PREDS, HAND_LABELS, THREE)
    np.testing.assert_array_equal(report.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # F1 per class: precision 1, 1/2, 1/2 and recall 2/3, 1/2, 1 -> 0.8, 0.5, 2/3
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report.per_class_accuracy == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0})
    assert report.scalars() == {"accuracy": report.accuracy, "balanced_accuracy": report.balanced_accuracy,
                                "macro_f1": report.macro_f1}


def test_logits_give_the_same_report_as_their_argmax() -> None:
    logits = torch.nn.functional.one_hot(torch.as_tensor(HAND_PREDS), 3).float() + torch.rand(6, 3) * 0.9
    from_logits = classification_report(logits, torch.as_tensor(HAND_LABELS), THREE)
    from_preds = classification_report(HAND_PREDS, HAND_LABELS, THREE)
    assert from_logits.scalars() == from_preds.scalars()
    np.testing.assert_array_equal(from_logits.confusion, from_preds.confusion)


def test_balanced_accuracy_exposes_a_majority_class_predictor_on_imbalanced_data() -> None:
    labels = np.r_[np.zeros(90, int), np.ones(10, int)]
    report = classification_report(np.zeros(100, int), labels, ("common", "rare"))
    assert report.accuracy == pytest.approx(0.9)
    assert report.balanced_accuracy == pytest.approx(0.5)


def test_a_class_absent_from_the_labels_is_left_out_of_the_class_averages() -> None:
    report = classification_report(np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1]), THREE)
    assert np.isnan(report.per_class_accuracy["c"])
    assert report.balanced_accuracy == pytest.approx((1 + 2 / 3) / 2)
    assert report.confusion[2].sum() == 0 and report.confusion[1, 2] == 1


def test_out_of_range_labels_are_rejected() -> None:
    with pytest.raises(ValueError, match="labels"):
        classification_report(np.array([0, 1]), np.array([0, -1]), THREE)


def faces(labels: np.ndarray, name: str) -> FaceDataset:
    return FaceDataset(np.zeros((len(labels), 4, 4, 3), np.uint8), labels, EMOTIONS_7, name=name)


def test_cross_dataset_masks_contempt_when_an_8_class_model_meets_7_class_sets() -> None:
    datasets = {"one": faces(np.array([0, 1, 2]), "one"), "two": faces(np.array([1, 1]), "two")}
    logits_by_set = {name: torch.zeros(len(ds), 8) for name, ds in datasets.items()}
    for name, ds in datasets.items():
        logits_by_set[name][torch.arange(len(ds)), torch.as_tensor(ds.labels)] = 1.0   # right answer second
        logits_by_set[name][:, EMOTIONS_8.index("contempt")] = 9.0                    # contempt always top
    reports = evaluate_cross_dataset(lambda ds: logits_by_set[ds.name], datasets, EMOTIONS_8)
    assert set(reports) == {"one", "two"}
    assert all(report.accuracy == 1.0 and report.masked_classes == ("contempt",) for report in reports.values())
    assert reports["two"].num_samples == 2


def test_a_model_missing_a_test_class_is_an_error() -> None:
    with pytest.raises(ValueError, match="no output"):
        evaluate_cross_dataset(lambda ds: torch.zeros(len(ds), 3), {"x": faces(np.array([0]), "x")}, THREE)


def clusters(num_per_class: int, num_classes: int, dim: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around random unit centres: features (N, dim), labels (N,)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(num_classes), num_per_class)
    return (centres[labels] + spread * rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def test_linear_probe_is_near_perfect_on_linearly_separable_features() -> None:
    features, labels = clusters(90, 7, 32, 0.1, seed=0)
    splits = [(features[i::3], labels[i::3]) for i in range(3)]                # train, val, test
    result = linear_probe(*splits[0], *splits[1], *splits[2], EMOTIONS_7)
    assert result.test.accuracy > 0.95 and result.val_accuracy > 0.95
    assert result.c in result.val_accuracy_per_c


def test_linear_probe_chooses_c_on_validation_even_when_test_disagrees() -> None:
    # Imbalanced 1-D data: a tiny C ignores the feature and predicts the majority class 0 everywhere,
    # a large C predicts class 1 near x = 2. Val and test hold the same points near x = 2, labelled oppositely.
    rng = np.random.default_rng(0)
    train = np.r_[rng.normal(-1, 1, 180), rng.normal(2, 0.5, 20)][:, None]
    train_labels = np.r_[np.zeros(180, int), np.ones(20, int)]
    points = rng.normal(2, 0.3, (50, 1))
    zeros, ones = np.zeros(50, int), np.ones(50, int)
    for val_labels, test_labels, expected_c in ((zeros, ones, 1e-4), (ones, zeros, 100.0)):
        result = linear_probe(train, train_labels, points, val_labels, points, test_labels, ("x", "y"),
                              c_grid=(1e-4, 100.0))
        assert result.c == expected_c
        assert result.val_accuracy > 0.9 and result.test.accuracy < 0.1


def test_knn_with_k_1_returns_the_label_of_the_nearest_neighbour() -> None:
    generator = torch.Generator().manual_seed(0)
    train, queries = torch.randn(50, 8, generator=generator), torch.randn(20, 8, generator=generator)
    train_labels = torch.randint(0, 5, (50,), generator=generator)
    cosine = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(train, dim=1).T
    scores = knn_classify(train, train_labels, queries, k=1, num_classes=5, batch_size=7)
    assert scores.shape == (20, 5)
    torch.testing.assert_close(scores.argmax(1), train_labels[cosine.argmax(1)])


def test_knn_vote_lets_one_very_close_neighbour_outweigh_two_farther_ones() -> None:
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6]])           # cosines to the query: 1, .8, .8
    scores = knn_classify(train, torch.tensor([0, 1, 1]), torch.tensor([[2.0, 0.0]]), k=3, num_classes=2)
    assert scores.argmax().item() == 0
    torch.testing.assert_close(scores[0], torch.tensor([np.exp(1 / 0.07), 2 * np.exp(0.8 / 0.07)]).float())


# SynthFER's landmark names (fer_lib.data.synthfer), copied so these tests do not depend on the renderer.
LANDMARK_NAMES = ("eye_left", "eye_right", "brow_left", "brow_right", "nose_tip", "mouth_left", "mouth_right",
                  "mouth_centre", "lip_top", "lip_bottom", "chin")
MOUTH = [5, 6, 7, 8, 9]


def face_landmarks(num_faces: int, size: int = 48) -> np.ndarray:
    """(N, 11, 2) (x, y) landmarks of a frontal face, shifted a little per face."""
    base = np.array([[16, 18], [32, 18], [16, 13], [32, 13], [24, 27], [17, 36], [31, 36], [24, 36], [24, 33],
                     [24, 39], [24, 45]], dtype=np.float32) * size / 48
    return base + np.random.default_rng(0).uniform(-2, 2, (num_faces, 1, 2)).astype(np.float32)


def test_landmark_names_are_grouped_by_their_words() -> None:
    assert landmark_regions(LANDMARK_NAMES) == {"eyes": [0, 1], "brows": [2, 3], "nose": [4], "mouth": MOUTH}
    dlib_style = landmark_regions(["left_eyebrow_inner", "left_eye_outer", "right_eye", "nose", "upper_lip"])
    assert dlib_style == {"eyes": [1, 2], "brows": [0], "nose": [3], "mouth": [4]}


def test_region_masks_cover_their_landmarks_and_stay_small() -> None:
    landmarks = face_landmarks(5)
    masks = region_masks(landmarks, LANDMARK_NAMES, (48, 48))
    groups = landmark_regions(LANDMARK_NAMES)
    for region, mask in masks.items():
        assert mask.shape == (5, 48, 48) and mask.dtype == bool
        x, y = np.rint(landmarks[:, groups[region]]).astype(int).transpose(2, 0, 1)   # (N, R) each
        assert mask[np.arange(5)[:, None], y, x].all(), region
        assert mask.mean() < 0.2, region


def test_attention_on_the_mouth_puts_most_mass_in_the_mouth_region() -> None:
    landmarks = face_landmarks(4)
    masks = region_masks(landmarks, LANDMARK_NAMES, (48, 48))
    attention = np.full((4, 8, 8), 1e-3)                                     # 8x8 patch grid of 6x6 pixels
    mouth = landmarks[:, MOUTH].mean(axis=1) // 6                            # (N, 2) patch (col, row)
    attention[np.arange(4), mouth[:, 1].astype(int), mouth[:, 0].astype(int)] = 1.0
    shares = region_mass(attention, masks)
    assert shares["mouth"].mass > 0.8 and shares["mouth"].area < 0.2
    assert shares["mouth"].mass > max(shares[region].mass for region in ("eyes", "brows"))


def test_a_uniform_map_puts_mass_equal_to_area_in_every_region() -> None:
    masks = region_masks(face_landmarks(3), LANDMARK_NAMES, (48, 48))
    for share in region_mass(np.ones((3, 12, 12)), masks).values():
        assert share.mass == pytest.approx(share.area)


def test_neighbour_purity_is_one_for_clusters_and_chance_for_random_labels() -> None:
    features, labels = clusters(50, 4, 16, 0.05, seed=0)
    assert neighbour_purity(features, labels, k=5) == 1.0
    random_labels = np.random.default_rng(1).integers(0, 4, len(labels))
    assert neighbour_purity(np.random.default_rng(2).normal(size=(200, 16)), random_labels, k=10) == \
        pytest.approx(0.25, abs=0.06)


def test_umap_embedding_falls_back_to_pca_when_umap_cannot_be_imported(monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)                          # makes `import umap` raise
    embedding = umap_embedding(np.random.default_rng(0).normal(size=(30, 8)), seed=0)
    assert embedding.shape == (30, 2)
    assert "PCA" in capsys.readouterr().out
