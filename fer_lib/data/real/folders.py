"""Folder-per-class face sets without an official split (CK+, JAFFE, any ImageFolder) and unlabeled trees.

Layout:  <root>/<class>/**/<image>                              (no split given)
     or  <root>/train/<class>/..., [<root>/val/<class>/...,] <root>/test/<class>/...
Classes: folder names through the synonym table `common.CLASS_SYNONYMS` (case-insensitive); an unknown
         name is an error naming the folder and the accepted names; an empty class folder is a warning.
         EMOTIONS_8 when a contempt folder exists, else EMOTIONS_7 (labels are unified indices either way).
Splits:  train/ and test/ are used when present (val carved from train without val/); otherwise a
         stratified split of each class: val_fraction 10%, test_fraction 10%, the rest train, seed 0.
Faces:   not assumed aligned: Haar detection by default (margin crop; several faces -> the largest,
         none -> centre crop, both reported).
Unlabeled trees (`list_unlabeled`): every image under the root, any depth, in one split "all", labels
         UNLABELED, class_names EMOTIONS_7 (so the set combines with labeled FER sets); detection off by
         default because the same loader reads general-image corpora (centre crops).
"""
from __future__ import annotations

from pathlib import Path

from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, UNLABELED, DatasetError
from fer_lib.data.real.common import (
    SPLITS, Sample, SourceSplits, carve_val, list_images, read_class_folders, require_dir, split_samples)

CONTEMPT = EMOTIONS_8.index("contempt")


def list_class_folders(root: str | Path, *, val_fraction: float = 0.1, test_fraction: float = 0.1,
                       seed: int = 0, detect_faces: bool = True) -> SourceSplits:
    """Samples per split of a folder-per-class face set (see the module docstring)."""
    folder = require_dir(root, "a folder of class folders (<class>/<images>, or train/ and test/ of them)")
    given = [split for split in SPLITS if (folder / split).is_dir()]
    if given:
        if "train" not in given or "test" not in given:
            raise DatasetError(f"{folder}: found {'/, '.join(given)}/ but a split layout needs train/ and "
                               f"test/ (val/ optional); or put class folders directly in {folder}")
        splits, notes = {"val": []}, [f"splits as given by {', '.join(s + '/' for s in given)}"]
        for split in given:
            splits[split], split_notes = read_class_folders(folder / split)
            notes += split_notes
        if "val" not in given:
            notes.append(carve_val(splits, val_fraction, seed))
    else:
        samples, notes = read_class_folders(folder)
        splits = dict(zip(("val", "test", "train"), split_samples(samples, [val_fraction, test_fraction], seed)))
        notes.append(f"no split given: stratified split of each class, val {val_fraction:.0%}, "
                     f"test {test_fraction:.0%}, the rest train, seed {seed}")
    has_contempt = any(s.label == CONTEMPT for samples in splits.values() for s in samples)
    return SourceSplits(EMOTIONS_8 if has_contempt else EMOTIONS_7, splits, detect_faces, notes)


def list_unlabeled(root: str | Path, *, detect_faces: bool = False) -> SourceSplits:
    """Every image under `root` as one unlabeled split "all" (see the module docstring)."""
    folder = require_dir(root, "a folder tree of images")
    images = list_images(folder)
    if not images:
        raise DatasetError(f"{folder}: no image files found (any depth); expected e.g. .jpg or .png files")
    return SourceSplits(EMOTIONS_7, {"all": [Sample(path, UNLABELED) for path in images]}, detect_faces,
                        [f"{len(images)} images found under {folder}"])
