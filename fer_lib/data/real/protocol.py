"""The split protocol of face sets that name their people (CK+, JAFFE, image folders with a subject source).

`split_by_subject` turns listed samples into train / val / test:
    no split given ({"all": samples}):  by subject, val / test about val_fraction / test_fraction of the images;
                                        with `folds`, fold `fold` of k-fold cross-validation over subjects;
                                        per image (stratified) only when the subjects are unknown
    splits given (train, test[, val]):  kept; val, when missing, is carved from train by subject
Every sample gets meta "subject" and "identity" when its subject is known (`subjects.assign_subjects`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lib.data.base import DatasetError
from fer_lib.data.real.common import Sample, carve_val, stratified_split
from fer_lib.data.real.subjects import SUBJECT_PATTERNS, add_identities, assign_subjects
from fer_lib.data.splits import subject_fold, subject_holdout


def split_by_subject(listed: dict[str, list[Sample]], root: Path, *, subject_regex: str | None,
                     subject_csv: str | None, naming: str | None, folds: int, fold: int, val_fraction: float,
                     test_fraction: float, seed: int) -> tuple[dict[str, list[Sample]], list[str]]:
    """train / val / test of `listed` (see the module docstring) and the notes saying how they were made."""
    if naming is not None and naming not in SUBJECT_PATTERNS:
        raise ValueError(f"unknown naming {naming!r}; known: {sorted(SUBJECT_PATTERNS)} or None")
    pool = [sample for samples in listed.values() for sample in samples]
    tagged, subject_note = assign_subjects(pool, root, subject_regex, subject_csv, naming)
    known = "subject" in tagged[0].meta
    bounds = np.cumsum([0, *(len(samples) for samples in listed.values())])
    listed = {split: tagged[start:stop] for split, start, stop in zip(listed, bounds[:-1], bounds[1:])}
    if folds and not known:
        raise DatasetError(f"{root}: {folds}-fold cross-validation over subjects needs the subject of every image; "
                           f"{subject_note}")
    if "all" in listed:
        splits, note = _split_pool(listed["all"], known, folds, fold, val_fraction, test_fraction, seed)
    elif folds:
        raise DatasetError(f"{root}: the folder gives {', '.join(s + '/' for s in listed)}; k-fold cross-validation "
                           f"needs one pool of class folders (<class>/<images>), so drop folds or the split folders")
    elif "val" in listed:
        splits, note = listed, None
    else:
        splits = {"val": [], **listed}
        note = _carve_val_by_subject(splits, val_fraction, seed) if known else carve_val(splits, val_fraction, seed)
    notes = [subject_note] if note is None else [subject_note, note]
    return add_identities({split: splits[split] for split in ("train", "val", "test")}), notes


def _split_pool(samples: list[Sample], known: bool, folds: int, fold: int, val_fraction: float,
                test_fraction: float, seed: int) -> tuple[dict[str, list[Sample]], str]:
    labels = np.array([s.label for s in samples])
    subjects = np.array([s.meta.get("subject", "") for s in samples])
    if folds:
        parts = subject_fold(subjects, labels, folds, fold, val_fraction, seed)
        note = (f"fold {fold} of {folds}-fold cross-validation over subjects, seed {seed}: test holds that fold's "
                f"people, val people of the other folds (about {val_fraction:.0%} of the images), train the rest")
    elif known:
        parts = subject_holdout(subjects, labels, [val_fraction, test_fraction], seed)
        note = (f"no split given: split by subject, whole people in val (about {val_fraction:.0%} of the images) "
                f"and test (about {test_fraction:.0%}), the rest train, class proportions kept as far as people "
                f"allow, seed {seed}")
    else:
        parts = stratified_split(labels, [val_fraction, test_fraction], seed)
        note = (f"no split given: stratified split of each class image by image, val {val_fraction:.0%}, "
                f"test {test_fraction:.0%}, the rest train, seed {seed}")
    return {split: [samples[i] for i in part] for split, part in zip(("val", "test", "train"), parts)}, note


def _carve_val_by_subject(splits: dict[str, list[Sample]], val_fraction: float, seed: int) -> str:
    """Move whole subjects holding about `val_fraction` of splits['train'] into splits['val']; returns the note."""
    train = splits["train"]
    val, rest = subject_holdout(np.array([s.meta["subject"] for s in train]), np.array([s.label for s in train]),
                                [val_fraction], seed)
    splits["val"], splits["train"] = [train[i] for i in val], [train[i] for i in rest]
    return f"val carved from train by subject: whole people, about {val_fraction:.0%} of the images, seed {seed}"
