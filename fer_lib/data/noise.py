"""Label noise to learn through: flips drawn from a transition matrix, or labels drawn from the annotators' votes.

The clean label is always kept beside the noisy one (meta["true_label"], meta["flipped"]), so a noise detector
can be scored. A transition matrix T (K, K) holds T[i, j] = P(noisy label j | clean label i); each row sums to 1.

    symmetric   T = (1 - rate) I + rate / (K - 1) (1 - I): a flipped label goes to any other class alike
    asymmetric  FER-shaped: sad <-> neutral, fear <-> surprise, disgust <-> anger, contempt -> neutral flip with
                probability `rate`; a class without a partner (happy) keeps its label
    votes       each label drawn from its image's vote distribution (SynthFER's raters, FERPlus's annotators)

SynthFER's own `label_noise` (rater-plausible flips made when the data is generated) stays beside these.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from fer_lib.data.base import UNLABELED, DatasetError, FaceDataset

NOISE_KINDS = ("none", "symmetric", "asymmetric", "votes")

# Asymmetric flips (clean -> noisy): the confusions FER annotators make.
FER_FLIPS = (("sad", "neutral"), ("neutral", "sad"), ("fear", "surprise"), ("surprise", "fear"),
             ("disgust", "anger"), ("anger", "disgust"), ("contempt", "neutral"))


def flip_matrix(kind: str, rate: float, class_names: Sequence[str]) -> np.ndarray:
    """The transition matrix T (K, K) of `kind` ("symmetric" | "asymmetric") at flip probability `rate` (see the
    module docstring); the asymmetric pairs whose classes `class_names` lacks (contempt in 7 classes) are skipped."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    num_classes = len(class_names)
    if kind == "symmetric":
        return (1 - rate) * np.eye(num_classes) + rate / (num_classes - 1) * (1 - np.eye(num_classes))
    if kind != "asymmetric":
        raise ValueError(f"unknown flip kind {kind!r}; choose symmetric or asymmetric (or votes: `vote_noise`)")
    pairs = [(class_names.index(clean), class_names.index(noisy)) for clean, noisy in FER_FLIPS
             if clean in class_names and noisy in class_names]
    if not pairs:
        raise ValueError(f"asymmetric flips need FER classes ({', '.join(sorted({c for p in FER_FLIPS for c in p}))})"
                         f"; the classes are {', '.join(class_names)}")
    matrix = np.eye(num_classes)
    for clean, noisy in pairs:
        matrix[clean, clean], matrix[clean, noisy] = 1 - rate, rate
    return matrix


def inject_noise(train: FaceDataset, matrix: np.ndarray, seed: int) -> FaceDataset:
    """`train` with labels flipped by `matrix` (K, K): of the n_c images labeled c, exactly round((1 - T[c, c]) n_c)
    (chosen with `seed`) take a label drawn from T[c, j != c] / (1 - T[c, c]), so the rate is exact per class and
    every class pair flips at T's rate on expectation. meta["true_label"] keeps the clean labels (the ones already
    there, when the data came noisy), meta["flipped"] marks noisy != clean; unlabeled images stay unlabeled."""
    matrix = np.asarray(matrix, dtype=np.float64)
    num_classes = train.num_classes
    if matrix.shape != (num_classes, num_classes) or (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1):
        raise DatasetError(f"{train.name}: a flip matrix must be ({num_classes}, {num_classes}) for its classes "
                           f"({', '.join(train.class_names)}), non-negative, with rows summing to 1; got shape "
                           f"{matrix.shape}")
    rng = np.random.default_rng(seed)
    noisy = train.labels.copy()
    for clean in range(num_classes):
        members = np.flatnonzero(train.labels == clean)
        off_diagonal = np.delete(np.arange(num_classes), clean)
        flip_share = 1.0 - matrix[clean, clean]
        count = int(round(flip_share * len(members)))
        if count == 0:
            continue
        chosen = rng.choice(members, count, replace=False)
        noisy[chosen] = rng.choice(off_diagonal, count, p=matrix[clean, off_diagonal] / flip_share)
    return _with_labels(train, noisy, f"{train.name}-flipped")


def vote_noise(train: FaceDataset, seed: int) -> FaceDataset:
    """`train` with each label drawn (with `seed`) from its image's vote distribution `soft_labels` (N, K):
    annotator disagreement as noise. Clean labels and flips are kept as `inject_noise` keeps them."""
    if train.soft_labels is None:
        raise DatasetError(f"{train.name} has no annotator votes (soft_labels) to draw noisy labels from; vote noise "
                           f"needs a dataset with votes (SynthFER, FERPlus)")
    rng = np.random.default_rng(seed)
    votes = train.soft_labels.astype(np.float64)
    drawn = (votes.cumsum(axis=1) > rng.random((len(votes), 1)) * votes.sum(axis=1, keepdims=True)).argmax(axis=1)
    labeled = (train.labels != UNLABELED) & (votes.sum(axis=1) > 0)
    return _with_labels(train, np.where(labeled, drawn, train.labels), f"{train.name}-votes")


def noisy_training_split(train: FaceDataset, kind: str, rate: float, seed: int) -> FaceDataset:
    """The training split under noise `kind` (NOISE_KINDS; `rate` is unused by "votes" and "none")."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    if kind == "none":
        return train
    if kind == "votes":
        return vote_noise(train, seed)
    return inject_noise(train, flip_matrix(kind, rate, train.class_names), seed)


def _with_labels(train: FaceDataset, noisy: np.ndarray, name: str) -> FaceDataset:
    """A copy of `train` (arrays shared, partner lookups rebuilt) labeled `noisy`, with the clean labels in meta."""
    clean = train.meta.get("true_label", train.labels)
    meta = {**train.meta, "true_label": clean, "flipped": (noisy != clean) & (clean != UNLABELED)}
    return dataclasses.replace(train, labels=noisy, meta=meta, name=name)
