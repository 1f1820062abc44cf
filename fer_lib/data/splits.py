"""Subject-independent splits: whole people go to train, val or test, never to two of them.

Frames of one person (a CK+ sequence, a JAFFE poser's takes) are near-duplicates, so a split that cuts per image
puts the same face on both sides and measures recognition of people, not of expressions. These helpers take one
subject per sample (N,) and its label (N,) and return index arrays; every part holds whole subjects, and
scikit-learn's `StratifiedGroupKFold` keeps the class proportions as close as whole subjects allow.

    subject_holdout(subjects, labels, [0.1, 0.1], seed)   -> val, test, train   (about 10%, 10%, the rest)
    subject_folds(subjects, labels, 10, seed)             -> the test indices of each of 10 folds
    subject_fold(subjects, labels, 10, k, 0.1, seed)      -> val, test, train of fold k
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from fer_lib.data.base import DatasetError


def _group_folds(n_splits: int, subjects: np.ndarray, labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """Test positions of each `StratifiedGroupKFold` fold, without its warning about classes rarer than n_splits
    (stratification is only as close as whole subjects allow anyway)."""
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return [test for _, test in splitter.split(subjects, labels, subjects)]


def _check(subjects: np.ndarray, labels: np.ndarray, parts: int, what: str) -> None:
    if len(subjects) != len(labels):
        raise ValueError(f"subjects has {len(subjects)} entries and labels {len(labels)}; expected one each per image")
    people = len(np.unique(subjects))
    if people < parts:
        raise DatasetError(f"{what} needs at least {parts} subjects (one per part); the images name only {people}")


def _carve(subjects: np.ndarray, labels: np.ndarray, pool: np.ndarray, share: float, seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Whole subjects holding about `share` of `pool` (indices), and the rest of the pool: both sorted."""
    people = len(np.unique(subjects[pool]))
    held = _group_folds(min(max(2, round(1 / share)), people), subjects[pool], labels[pool], seed)[0]
    return np.sort(pool[held]), np.sort(np.delete(pool, held))


def subject_holdout(subjects: np.ndarray, labels: np.ndarray, fractions: Sequence[float], seed: int
                    ) -> list[np.ndarray]:
    """Sorted indices of parts made of whole subjects: one per fraction (about that share of the images), then
    the rest (len(fractions) + 1 parts). Each part is carved from what the previous ones left."""
    subjects, labels = np.asarray(subjects), np.asarray(labels)
    if any(f <= 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"split fractions must be > 0 and sum below 1, got {list(fractions)}")
    _check(subjects, labels, len(fractions) + 1, "a subject-independent split")
    parts, pool, left = [], np.arange(len(subjects)), 1.0
    for fraction in fractions:
        part, pool = _carve(subjects, labels, pool, fraction / left, seed)
        parts.append(part)
        left -= fraction
    return [*parts, pool]


def subject_folds(subjects: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Sorted test indices of each of `folds` folds: every subject in exactly one fold (k-fold over subjects)."""
    subjects, labels = np.asarray(subjects), np.asarray(labels)
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    _check(subjects, labels, folds, f"{folds}-fold cross-validation over subjects")
    tests = [np.sort(test) for test in _group_folds(folds, subjects, labels, seed)]
    empty = [k for k, test in enumerate(tests) if len(test) == 0]
    if empty:
        raise DatasetError(f"{folds} folds over {len(np.unique(subjects))} subjects leave fold(s) {empty} empty; "
                           f"use fewer folds")
    return tests


def subject_fold(subjects: np.ndarray, labels: np.ndarray, folds: int, fold: int, val_fraction: float, seed: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted val, test, train indices of fold `fold` (0-based) of `folds`: test is that fold's subjects, val whole
    subjects of the other folds holding about `val_fraction` of all images, train the rest."""
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1} for {folds} folds, got {fold}")
    subjects, labels = np.asarray(subjects), np.asarray(labels)
    test = subject_folds(subjects, labels, folds, seed)[fold]
    rest = np.setdiff1d(np.arange(len(subjects)), test)
    _check(subjects[rest], labels[rest], 2, f"fold {fold} (val and train from the other folds)")
    val, train = _carve(subjects, labels, rest, min(val_fraction / (len(rest) / len(subjects)), 0.5), seed)
    return val, test, train
