"""FER2013 (Goodfellow et al., 2013): 48x48 gray faces stored as pixel strings in one CSV.

Layout:  <root>/fer2013.csv with columns emotion, pixels, Usage (pixels: 2304 space-separated ints 0..255)
Splits:  Usage Training -> train, PublicTest -> val, PrivateTest -> test (the published protocol)
Labels:  FER2013 0..6 = angry, disgust, fear, happy, sad, surprise, neutral -> EMOTIONS_7
Faces:   aligned crops: no detection by default; face box = the central box
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lib.data.base import EMOTIONS_7, DatasetError
from fer_lib.data.real.common import SPLITS, Sample, SourceSplits, parse_int, read_csv, require_dir, require_file

FER2013_CSV = "fer2013.csv"
FER2013_SIDE = 48
# unified index of FER2013 emotion code 0..6 (angry, disgust, fear, happy, sad, surprise, neutral)
FER2013_TO_UNIFIED = (6, 5, 4, 1, 2, 3, 0)
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


@dataclass(frozen=True)
class Fer2013Row:
    """One row of fer2013.csv: its line, split, 48x48 uint8 pixels and raw emotion text."""

    line: int
    split: str
    pixels: np.ndarray
    emotion: str


def parse_usage(text: str, where: str) -> str:
    """Split name of a Usage value; DatasetError naming `where` and the value otherwise."""
    if text not in USAGE_TO_SPLIT:
        raise DatasetError(f"{where}: unknown Usage {text!r}; expected one of {list(USAGE_TO_SPLIT)}")
    return USAGE_TO_SPLIT[text]


def parse_pixels(text: str, where: str) -> np.ndarray:
    """A pixels field as uint8 (48, 48); DatasetError naming `where` and the length when it is not 2304."""
    try:
        values = np.fromstring(text, dtype=np.int64, sep=" ")
    except ValueError:
        raise DatasetError(f"{where}: pixels must be space-separated integers 0..255") from None
    if len(values) != FER2013_SIDE ** 2:
        raise DatasetError(f"{where}: pixels row has {len(values)} values, expected "
                           f"{FER2013_SIDE ** 2} ({FER2013_SIDE}x{FER2013_SIDE})")
    if values.min() < 0 or values.max() > 255:
        raise DatasetError(f"{where}: pixel values must lie in 0..255, found {values.min()}..{values.max()}")
    return values.astype(np.uint8).reshape(FER2013_SIDE, FER2013_SIDE)


def read_fer2013(root: str | Path) -> tuple[Path, list[Fer2013Row]]:
    """The path of `<root>/fer2013.csv` and its parsed rows."""
    path = require_file(require_dir(root, "a folder holding fer2013.csv") / FER2013_CSV,
                        "the FER2013 CSV (columns emotion, pixels, Usage)")
    rows = [Fer2013Row(line, parse_usage(row["Usage"], f"{path} line {line}"),
                       parse_pixels(row["pixels"], f"{path} line {line}"), row["emotion"])
            for line, row in read_csv(path, ("emotion", "pixels", "Usage"))]
    if not rows:
        raise DatasetError(f"{path}: no data rows")
    return path, rows


def list_fer2013(root: str | Path, *, detect_faces: bool = False) -> SourceSplits:
    """FER2013 samples per split (see the module docstring)."""
    path, rows = read_fer2013(root)
    splits: dict[str, list[Sample]] = {split: [] for split in SPLITS}
    for row in rows:
        where = f"{path} line {row.line}"
        code = parse_int(row.emotion, range(7), where, "FER2013 emotion")
        splits[row.split].append(Sample(row.pixels, FER2013_TO_UNIFIED[code], origin=where))
    return SourceSplits(EMOTIONS_7, splits, detect_faces,
                        ["FER2013 Usage: Training -> train, PublicTest -> val, PrivateTest -> test"])
