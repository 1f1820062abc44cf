"""AffectNet (Mollahosseini et al., 2017), in its CSV layout or a folder-per-class layout.

CSV layout:     <root>/training.csv, <root>/validation.csv (or in <root>/Manually_Annotated_file_lists/)
                with columns subDirectory_filePath, face_x, face_y, face_width, face_height,
                facial_landmarks, expression, valence, arousal;
                images at <root>/Manually_Annotated_Images/<subDirectory_filePath>
Folder layout:  <root>/train/<class>/*.jpg and <root>/val/<class>/*.jpg, class folders named by AffectNet
                index 0..10 or by class name (synonym table of `common.CLASS_SYNONYMS`)
Splits:  training -> train; the published validation set -> test; val is carved from train (stratified, seeded)
Labels:  AffectNet 0..7 = neutral, happy, sad, surprise, fear, disgust, anger, contempt (the unified order);
         8..10 (none, uncertain, no-face) are dropped; `num_classes=7` (registry name affectnet) also drops
         contempt, `num_classes=8` (affectnet8) keeps it
Faces:   CSV: margin crop around the annotated face box; folders: taken as aligned crops (no detection by
         default). meta valence / arousal (float32) in the CSV layout. Missing images are skipped and reported.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lib.data.base import EMOTIONS_8, DatasetError
from fer_lib.data.real.common import (
    Sample, SourceSplits, carve_val, class_index, parse_int, read_class_folders, read_csv, require_dir, require_file)

CSV_NAMES = {"train": "training.csv", "test": "validation.csv"}
LIST_DIR = "Manually_Annotated_file_lists"
IMAGE_DIR = "Manually_Annotated_Images"
FOLDER_NAMES = {"train": "train", "test": "val"}
CSV_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression",
               "valence", "arousal")
NUM_CODES = 11  # 0..7 expressions, 8 none, 9 uncertain, 10 no-face


def list_affectnet(root: str | Path, *, num_classes: int = 7, val_fraction: float = 0.1, seed: int = 0,
                   detect_faces: bool = False) -> SourceSplits:
    """AffectNet samples per split from whichever layout `root` holds (see the module docstring)."""
    if num_classes not in (7, 8):
        raise ValueError(f"AffectNet num_classes must be 7 or 8, got {num_classes}")
    folder = require_dir(root, "the AffectNet folder (training.csv + Manually_Annotated_Images/, or train/ + val/)")
    csv_folder = next((f for f in (folder, folder / LIST_DIR) if (f / CSV_NAMES["train"]).is_file()), None)
    if csv_folder is not None:
        splits, notes = _read_csv_layout(folder, csv_folder, num_classes)
    elif all((folder / name).is_dir() for name in FOLDER_NAMES.values()):
        splits, notes = _read_folder_layout(folder, num_classes)
    else:
        raise DatasetError(f"{folder}: no AffectNet layout found; expected {CSV_NAMES['train']} and "
                           f"{CSV_NAMES['test']} (at the root or in {LIST_DIR}/) with {IMAGE_DIR}/, "
                           f"or train/ and val/ class folders")
    notes.append("AffectNet's published validation set is the test split")
    notes.append(carve_val(splits, val_fraction, seed))
    return SourceSplits(EMOTIONS_8[:num_classes], splits, detect_faces, notes)


def _read_csv_layout(root: Path, csv_folder: Path, num_classes: int) -> tuple[dict[str, list[Sample]], list[str]]:
    splits: dict[str, list[Sample]] = {"val": []}
    notes = []
    for split, name in CSV_NAMES.items():
        path = require_file(csv_folder / name, f"the AffectNet {split} list (columns {', '.join(CSV_COLUMNS)})")
        splits[split], dropped = [], np.zeros(NUM_CODES, dtype=int)
        for line, row in read_csv(path, CSV_COLUMNS):
            where = f"{path} line {line}"
            code = parse_int(row["expression"], range(NUM_CODES), where, "AffectNet expression")
            if code >= num_classes:
                dropped[code] += 1
                continue
            x, y, width, height, valence, arousal = (
                _parse_float(row[c], where, c) for c in ("face_x", "face_y", "face_width", "face_height",
                                                         "valence", "arousal"))
            if width <= 0 or height <= 0:
                raise DatasetError(f"{where}: face box {width}x{height}; expected a positive width and height")
            splits[split].append(Sample(root / IMAGE_DIR / row["subDirectory_filePath"], code,
                                        box=(x, y, x + width, y + height),
                                        meta={"valence": np.float32(valence), "arousal": np.float32(arousal)}))
        counts = ", ".join(f"{n} of expression {code}" for code, n in enumerate(dropped) if n)
        notes.append(f"{name}: dropped rows: {counts or 'none'}")
    return splits, notes


def _read_folder_layout(root: Path, num_classes: int) -> tuple[dict[str, list[Sample]], list[str]]:
    def resolve(folder: Path) -> int | None:
        """AffectNet index (0..10) or class name of a class folder; None drops it (>= num_classes)."""
        code = (parse_int(folder.name, range(NUM_CODES), str(folder), "AffectNet class folder index")
                if folder.name.isdigit() else class_index(folder))
        return code if code < num_classes else None

    splits: dict[str, list[Sample]] = {"val": []}
    notes: list[str] = []
    for split, name in FOLDER_NAMES.items():
        splits[split], split_notes = read_class_folders(root / name, resolve)
        notes += split_notes
    return splits, notes


def _parse_float(text: str, where: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: column {column} holds {text!r}; expected a number") from None

