"""Folder-per-class face sets without an official split (CK+, JAFFE, any ImageFolder) and unlabeled trees.

Layout:   <root>/<class>/**/<image>                              (no split given)
      or  <root>/train/<class>/..., [<root>/val/<class>/...,] <root>/test/<class>/...
Classes:  folder names through the synonym table `common.CLASS_SYNONYMS` (case-insensitive); an unknown
          name is an error naming the folder and the accepted names; an empty class folder is a warning.
          EMOTIONS_8 when a contempt folder exists, else EMOTIONS_7 (labels are unified indices either way).
Subjects: from the file names of a known `naming` (ckplus S010_004_00000017.png, jaffe KA.AN1.39.tiff), a
          `subject_regex` or a `subject_csv` (`subjects.py`); kept as meta "subject" and "identity".
Splits:   `protocol.split_by_subject`: with subjects known, whole people go to train, val or test (val_fraction
          and test_fraction about 10% of the images each, seed 0), or fold `fold` of `folds`-fold
          cross-validation over subjects; given train/ and test/ are kept (val carved from train by subject).
          Only when the subjects are unknown is the split made image by image, and the report says so.
Faces:    detect_faces "auto" (default): the Haar detector is probed on a few images and, when they are face
          crops already, every image is taken as a crop; otherwise every image goes through detection.
Unlabeled trees (`list_unlabeled`): every image under the root, any depth, in one split "all", labels
          UNLABELED, class_names EMOTIONS_7 (so the set combines with labeled FER sets); detection off by
          default because the same loader reads general-image corpora (centre crops).
"""
from __future__ import annotations

from pathlib import Path

from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, UNLABELED, DatasetError
from fer_lib.data.real.common import (
    SPLITS, FaceDetection, Sample, SourceSplits, list_images, read_class_folders, require_dir)
from fer_lib.data.real.protocol import split_by_subject

CONTEMPT = EMOTIONS_8.index("contempt")


def list_class_folders(root: str | Path, *, subject_regex: str | None = None, subject_csv: str | None = None,
                       folds: int = 0, fold: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.1,
                       seed: int = 0, detect_faces: FaceDetection = "auto", naming: str | None = None
                       ) -> SourceSplits:
    """Samples per split of a folder-per-class face set (see the module docstring)."""
    folder = require_dir(root, "a folder of class folders (<class>/<images>, or train/ and test/ of them)")
    given = [split for split in SPLITS if (folder / split).is_dir()]
    if given and ("train" not in given or "test" not in given):
        raise DatasetError(f"{folder}: found {'/, '.join(given)}/ but a split layout needs train/ and "
                           f"test/ (val/ optional); or put class folders directly in {folder}")
    listed: dict[str, list[Sample]] = {}
    notes = [f"splits as given by {', '.join(s + '/' for s in given)}"] if given else []
    for split in given or ["all"]:
        listed[split], split_notes = read_class_folders(folder / split if given else folder)
        notes += split_notes
    splits, split_notes = split_by_subject(
        listed, folder, subject_regex=subject_regex, subject_csv=subject_csv, naming=naming, folds=folds, fold=fold,
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    has_contempt = any(s.label == CONTEMPT for samples in splits.values() for s in samples)
    return SourceSplits(EMOTIONS_8 if has_contempt else EMOTIONS_7, splits, detect_faces, notes + split_notes)


def list_unlabeled(root: str | Path, *, detect_faces: FaceDetection = False) -> SourceSplits:
    """Every image under `root` as one unlabeled split "all" (see the module docstring)."""
    folder = require_dir(root, "a folder tree of images")
    images = list_images(folder)
    if not images:
        raise DatasetError(f"{folder}: no image files found (any depth); expected e.g. .jpg or .png files")
    return SourceSplits(EMOTIONS_7, {"all": [Sample(path, UNLABELED) for path in images]}, detect_faces,
                        [f"{len(images)} images found under {folder}"])
