"""RAF-DB basic (Li et al., 2017): aligned 100x100 face crops with one of 7 labels.

Layout:  <root>/basic/EmoLabel/list_patition_label.txt   lines "train_00001.jpg 5"
         <root>/basic/Image/aligned/train_00001_aligned.jpg
         (`root` may also be the basic/ folder itself)
Splits:  train_ / test_ name prefixes give train / test; val is carved from train (stratified, seeded)
Labels:  RAF-DB 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral -> EMOTIONS_7
Faces:   aligned crops: no detection by default; face box = the central box
         A listed image that is missing or unreadable is skipped and reported.
"""
from __future__ import annotations

from pathlib import Path

from fer_lib.data.base import EMOTIONS_7, DatasetError
from fer_lib.data.real.common import Sample, SourceSplits, carve_val, parse_int, require_dir, require_file

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
ALIGNED_DIR = Path("Image") / "aligned"
# unified index of RAF-DB label 1..7 (surprise, fear, disgust, happiness, sadness, anger, neutral)
RAFDB_TO_UNIFIED = {1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 0}
PREFIX_TO_SPLIT = {"train_": "train", "test_": "test"}


def basic_folder(root: str | Path) -> Path:
    """The `basic/` folder of a RAF-DB root (the RAF-DB folder or `basic/` itself)."""
    folder = require_dir(root, "the RAF-DB folder (holding basic/) or its basic/ folder")
    return folder / "basic" if (folder / "basic").is_dir() else folder


def list_rafdb(root: str | Path, *, val_fraction: float = 0.1, seed: int = 0,
               detect_faces: bool = False) -> SourceSplits:
    """RAF-DB basic samples per split (see the module docstring)."""
    basic = basic_folder(root)
    label_file = require_file(basic / LABEL_FILE, "the RAF-DB basic label list (lines '<image name> <label 1..7>')")
    splits: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for line_number, line in enumerate(label_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label_file} line {line_number}"
        fields = line.split()
        if len(fields) != 2:
            raise DatasetError(f"{where}: expected '<image name> <label>', got {line!r}")
        name, label_text = fields
        split = next((s for prefix, s in PREFIX_TO_SPLIT.items() if name.startswith(prefix)), None)
        if split is None:
            raise DatasetError(f"{where}: image name {name!r} starts with neither train_ nor test_")
        label = RAFDB_TO_UNIFIED[parse_int(label_text, range(1, 8), where, "RAF-DB label")]
        splits[split].append(Sample(basic / ALIGNED_DIR / f"{Path(name).stem}_aligned.jpg", label))
    if not splits["train"] or not splits["test"]:
        raise DatasetError(f"{label_file}: needs train_ and test_ images, found {len(splits['train'])} and "
                           f"{len(splits['test'])}")
    note = carve_val(splits, val_fraction, seed)
    return SourceSplits(EMOTIONS_7, splits, detect_faces, [note])
