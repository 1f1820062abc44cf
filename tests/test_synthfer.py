"""SynthFER: determinism, metadata contracts, label statistics, sequences, caching and the side corpora."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fer_lib.data import synthfer
from fer_lib.data.base import EMOTIONS_7, UNLABELED, FaceDataset
from fer_lib.data.general_images import GENERAL_KINDS
from fer_lib.data.registry import load_splits
from fer_lib.data.spec import DataSpec
from fer_lib.data.synthfer import (AU_NAMES, LANDMARK_NAMES, PROTOTYPES, SEQUENCE_LABEL_THRESHOLD, SynthFERSpec,
                                   generate_stills, load_general_images, load_synthfer_sequences,
                                   load_synthfer_splits, load_unlabeled_faces, render_face)
from fer_lib.data.synthfer_quality import au_oracle_accuracy, identity_leakage_accuracy, majority_class_accuracy

SPEC = SynthFERSpec(image_size=32, num_identities=40)


def small_data(**overrides: object) -> DataSpec:
    sizes = dict(image_size=32, synthfer_train=300, synthfer_val=60, synthfer_test=80, synthfer_identities=30,
                 synthfer_unlabeled=100, synthfer_general=48)
    return DataSpec(**{**sizes, **overrides})


def test_the_same_seed_renders_identical_bytes_and_another_seed_does_not() -> None:
    first, again = generate_stills(SPEC, 48, "train"), generate_stills(SPEC, 48, "train")
    other = generate_stills(dataclasses.replace(SPEC, seed=1), 48, "train")
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    assert all(np.array_equal(first.meta[key], again.meta[key]) for key in first.meta)
    assert not np.array_equal(first.images, other.images)


def test_splits_have_the_documented_sizes_shapes_and_dtypes() -> None:
    data = small_data()
    splits = load_splits(data)
    for split, size in ((splits.train, 300), (splits.val, 60), (splits.test, 80)):
        assert split.images.shape == (size, 32, 32, 3) and split.images.dtype == np.uint8
        assert split.class_names == EMOTIONS_7 and split.labels.dtype == np.int64
        assert split.soft_labels.shape == (size, 7) and split.soft_labels.dtype == np.float32
        assert split.face_boxes.shape == (size, 4) and split.face_boxes.dtype == np.float32
        expected = {"identity": ((size,), np.int64), "au": ((size, len(AU_NAMES)), np.float32),
                    "landmarks": ((size, len(LANDMARK_NAMES), 2), np.float32), "sequence_id": ((size,), np.int64),
                    "frame_index": ((size,), np.int64), "true_label": ((size,), np.int64)}
        for key, (shape, dtype) in expected.items():
            assert split.meta[key].shape == shape and split.meta[key].dtype == dtype, key
        assert (split.meta["sequence_id"] == -1).all()
        assert split.meta["identity"].max() < data.synthfer_identities
        assert 0 <= split.meta["au"].min() and split.meta["au"].max() <= 1


def test_landmarks_lie_inside_the_face_box() -> None:
    faces = generate_stills(SPEC, 200, "train")
    x, y = faces.meta["landmarks"][..., 0], faces.meta["landmarks"][..., 1]
    x0, y0, x1, y1 = (faces.face_boxes[:, None, k] for k in range(4))
    assert ((x >= x0 - 1) & (x <= x1 + 1) & (y >= y0 - 1) & (y <= y1 + 1)).all()
    assert ((faces.face_boxes >= 0) & (faces.face_boxes <= 32)).all()


@pytest.mark.parametrize("priors", [synthfer.RAFDB_CLASS_PRIORS, (1 / 7,) * 7])
def test_class_frequencies_follow_the_configured_priors(priors: tuple[float, ...]) -> None:
    spec = dataclasses.replace(SPEC, num_identities=300, class_priors=priors)
    labels = generate_stills(spec, 3000, "train").labels
    np.testing.assert_allclose(np.bincount(labels, minlength=7) / len(labels), priors, atol=0.04)


def test_label_noise_flips_the_requested_fraction_of_train_labels_only() -> None:
    splits = load_synthfer_splits(small_data(label_noise=0.3))
    flipped = splits.train.labels != splits.train.meta["true_label"]
    assert flipped.mean() == pytest.approx(0.3, abs=1 / 300)
    assert (splits.val.labels == splits.val.meta["true_label"]).all()
    assert (splits.test.labels == splits.test.meta["true_label"]).all()


def test_soft_labels_are_vote_distributions_that_mostly_agree_with_the_label() -> None:
    faces = generate_stills(SPEC, 400, "train")
    np.testing.assert_allclose(faces.soft_labels.sum(axis=1), 1, atol=1e-6)
    assert ((faces.soft_labels * 10) % 1 == 0).all()              # ten annotators' votes
    assert (faces.soft_labels.argmax(axis=1) == faces.labels).mean() > 0.6


def test_sequences_rise_from_neutral_to_the_apex_and_fall_back() -> None:
    frames = 9
    video = load_synthfer_sequences(small_data(), num_sequences=5, frames_per_sequence=frames)
    assert len(video) == 5 * frames
    assert np.array_equal(video.meta["sequence_id"], np.repeat(np.arange(5), frames))
    assert np.array_equal(video.meta["frame_index"], np.tile(np.arange(frames), 5))
    intensity = video.meta["au"].sum(axis=1).reshape(5, frames)
    assert (intensity[:, frames // 2] > intensity[:, 0]).all() and (intensity[:, frames // 2] > intensity[:, -1]).all()
    labels, classes = video.labels.reshape(5, frames), video.meta["sequence_label"].reshape(5, frames)
    assert (labels[:, [0, -1]] == 0).all() and (labels[:, frames // 2] == classes[:, 0]).all() and (classes > 0).all()
    phase = np.sin(np.pi * np.arange(frames) / (frames - 1))
    assert np.array_equal(labels != 0, np.broadcast_to(phase >= SEQUENCE_LABEL_THRESHOLD, labels.shape))
    assert (video.meta["identity"].reshape(5, frames) == video.meta["identity"][::frames, None]).all()


def test_a_second_load_reads_the_cache_without_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    data = small_data(data_seed=5)
    first = load_synthfer_splits(data)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again instead of reading the cache")

    monkeypatch.setattr(synthfer, "render_faces", fail)
    second = load_synthfer_splits(data)
    assert np.array_equal(first.train.images, second.train.images)
    assert np.array_equal(first.test.meta["landmarks"], second.test.meta["landmarks"])
    assert len(list(synthfer.cache_folder().iterdir())) >= 1


def test_unlabeled_faces_are_unlabeled_and_belong_to_other_identities() -> None:
    data = small_data()
    unlabeled, labeled = load_unlabeled_faces(data), load_synthfer_splits(data)
    assert len(unlabeled) == data.synthfer_unlabeled and (unlabeled.labels == UNLABELED).all()
    seen = np.concatenate([split.meta["identity"] for split in (labeled.train, labeled.val, labeled.test)])
    assert not set(unlabeled.meta["identity"]) & set(seen)


def test_gray_faces_have_one_channel() -> None:
    faces = generate_stills(dataclasses.replace(SPEC, channels=1), 16, "train")
    assert faces.images.shape == (16, 32, 32, 1) and faces.channels == 1


@pytest.mark.parametrize("size", [32, 48, 64])
def test_faces_render_at_each_size_with_landmarks_in_its_pixels(size: int) -> None:
    faces = generate_stills(dataclasses.replace(SPEC, image_size=size), 16, "train")
    assert faces.images.shape == (16, size, size, 3)
    assert faces.images.std() > 20                                  # not blank
    assert (faces.meta["landmarks"] > 0).all() and (faces.meta["landmarks"] < size).all()


def test_general_images_are_labeled_by_kind() -> None:
    data = small_data()
    general = load_general_images(data)
    assert general.class_names == GENERAL_KINDS and general.images.shape == (48, 32, 32, 3)
    assert general.labels.min() >= 0 and general.labels.max() < len(GENERAL_KINDS)


def test_render_face_shows_the_action_units_it_is_given() -> None:
    data = small_data()
    neutral = render_face(data, identity=3, au=np.zeros(len(AU_NAMES)))
    happy = render_face(data, identity=3, au=PROTOTYPES[EMOTIONS_7.index("happy")])
    assert neutral.shape == (32, 32, 3) and neutral.dtype == np.uint8
    assert np.array_equal(neutral, render_face(data, identity=3, au=np.zeros(len(AU_NAMES))))
    assert np.abs(neutral.astype(int) - happy).sum() > 0


def test_identity_leakage_is_perfect_when_identity_decides_the_label() -> None:
    identity = np.arange(70) % 10
    images = np.zeros((70, 4, 4, 1), np.uint8)
    data = FaceDataset(images, identity % 7, EMOTIONS_7, meta={"identity": identity})
    assert identity_leakage_accuracy(data, data) == 1.0


def test_the_au_oracle_reads_expressions_well_but_not_perfectly() -> None:
    train, test = generate_stills(SPEC, 600, "train"), generate_stills(SPEC, 300, "test")
    oracle = au_oracle_accuracy(train, test)
    assert majority_class_accuracy(train, test) + 0.2 < oracle < 1.0


def test_lab_scenes_keep_faces_in_place_on_a_plain_background_and_wild_scenes_do_not() -> None:
    lab = generate_stills(dataclasses.replace(SPEC, scenes="lab"), 100, "train")
    wild = generate_stills(SPEC, 100, "train")
    assert lab.face_boxes.std(axis=0).max() < 0.5 * wild.face_boxes.std(axis=0).max()
    corner_spread = {name: faces.images[:, :4, :4].reshape(100, -1).astype(float).std(axis=1).mean()
                     for name, faces in (("lab", lab), ("wild", wild))}
    assert corner_spread["lab"] < 0.5 * corner_spread["wild"]
    assert (lab.meta["occluder"] == 0).all()
    assert np.array_equal(lab.labels, wild.labels)  # the scene style changes nuisances, not expressions


def test_an_unknown_scene_style_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'studio'"):
        SynthFERSpec(scenes="studio")


def test_a_label_fraction_keeps_that_share_of_every_class_and_at_least_one() -> None:
    from fer_lib.data.registry import label_subset

    labels = np.array([0] * 50 + [1] * 30 + [2] * 3)
    kept = label_subset(labels, 0.1, seed=0)
    assert [int(np.sum(labels[kept] == c)) for c in (0, 1, 2)] == [5, 3, 1]
    assert np.array_equal(kept, label_subset(labels, 0.1, seed=0)) and not np.array_equal(kept, label_subset(labels, 0.1, seed=1))
    full = load_splits(small_data())
    tenth = load_splits(small_data(label_fraction=0.1))
    assert len(tenth.train) < len(full.train) / 5 and len(tenth.test) == len(full.test)
