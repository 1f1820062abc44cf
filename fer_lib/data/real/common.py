"""What the real-dataset listers share: the source-sample record, file checks and CSV parsing with named
errors, image decoding that refuses corrupt files, the class-name synonym table and seeded stratified splits.

A lister reads a dataset's label files and returns `SourceSplits` (what to decode, with which label);
`fer_lib.data.real.convert` decodes, crops and caches them.
"""
from __future__ import annotations

import contextlib
import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
from PIL import Image, ImageFile, ImageOps

from fer_lib.data.base import EMOTIONS_8, DatasetError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# run the face detector (True), take every image as a face crop (False), or probe and decide once ("auto")
FaceDetection = bool | Literal["auto"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})

# Accepted class-folder names (case-insensitive) for each unified class.
CLASS_SYNONYMS = {
    "neutral": ("neutral",),
    "happy": ("happy", "happiness"),
    "sad": ("sad", "sadness"),
    "surprise": ("surprise", "surprised"),
    "fear": ("fear", "fearful"),
    "disgust": ("disgust", "disgusted"),
    "anger": ("anger", "angry"),
    "contempt": ("contempt",),
}
_SYNONYM_INDEX = {alias: EMOTIONS_8.index(name) for name, aliases in CLASS_SYNONYMS.items() for alias in aliases}


class UnreadableImage(DatasetError):
    """One image file is missing, corrupt or truncated: the converter skips it and reports it."""


@dataclass(frozen=True)
class Sample:
    """One image to convert.

    source:     image file, or decoded uint8 pixels (H, W) / (H, W, 3) (FER2013 CSV rows)
    label:      unified class index, or UNLABELED
    soft_label: float32 (K,) vote distribution, or None
    box:        annotated face box x0, y0, x1, y1 in source pixels, or None
    meta:       per-sample values stored as FaceDataset.meta (same keys for every sample of a dataset)
    origin:     where array pixels come from, for reports ("fer2013.csv line 12")
    """

    source: Path | np.ndarray
    label: int
    soft_label: np.ndarray | None = None
    box: tuple[float, float, float, float] | None = None
    meta: dict[str, np.ndarray | float] = field(default_factory=dict)
    origin: str = ""

    @property
    def where(self) -> str:
        return self.origin or str(self.source)


@dataclass
class SourceSplits:
    """A dataset as listed from its label files: samples per split, before any image is decoded.

    detect_faces: run the face detector on samples without an annotated box (True), take them as face crops
                  (False), or decide once for the whole dataset from a probe ("auto", `crops.decide_face_detection`)
    notes:        how labels, subjects and splits were derived (dropped rows, carved val...), copied into the report
    """

    class_names: tuple[str, ...]
    splits: dict[str, list[Sample]]
    detect_faces: FaceDetection
    notes: list[str] = field(default_factory=list)


def require_dir(path: str | Path, what: str) -> Path:
    """`path` as an existing directory, else DatasetError naming it and what was expected there."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: directory not found; expected {what}")
    return folder


def require_file(path: Path, what: str) -> Path:
    """`path` as an existing file, else DatasetError naming it and what it should hold."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; expected {what}")
    return path


def read_csv(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of `path`; DatasetError when a column in `columns` is missing
    or a row is short (a truncated download)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        found = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in columns if name not in found]
        if missing:
            raise DatasetError(f"{path}: missing columns {missing}; found columns {found}; "
                               f"expected at least {list(columns)}")
        reader.fieldnames = found
        for row in reader:
            if None in row.values():
                raise DatasetError(f"{path} line {reader.line_num}: {sum(v is not None for v in row.values())} "
                                   f"fields, expected {len(found)} ({', '.join(found)})")
            yield reader.line_num, row


def parse_int(text: str, allowed: range, where: str, what: str) -> int:
    """`text` as an int in `allowed`, else DatasetError naming `where` (file and line) and the value."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value not in allowed:
        raise DatasetError(f"{where}: unknown {what} {text!r}; expected an integer in "
                           f"{allowed.start}..{allowed.stop - 1}")
    return value


@contextlib.contextmanager
def _refuse_truncated_images() -> Iterator[None]:
    """Make PIL raise on truncated files (a notebook may have set LOAD_TRUNCATED_IMAGES = True)."""
    previous, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image file to uint8 (H, W, 3) RGB (gray and palette images are converted, EXIF rotation
    applied); UnreadableImage when the file is missing, not an image, corrupt or truncated."""
    try:
        with _refuse_truncated_images():
            with Image.open(path) as image:
                image.verify()
            with Image.open(path) as image:
                image.load()
                return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except FileNotFoundError:
        raise UnreadableImage(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImage(f"{path}: corrupt or truncated image ({error})") from None


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, 1) gray -> (H, W, 3); RGB passes through."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursive, sorted, hidden files and folders skipped)."""
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES
                  and path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def class_index(folder: Path) -> int:
    """Unified class index of a class folder, by the synonym table; DatasetError naming the folder."""
    index = _SYNONYM_INDEX.get(folder.name.lower())
    if index is None:
        accepted = ", ".join(f"{name} ({'/'.join(aliases)})" for name, aliases in CLASS_SYNONYMS.items())
        raise DatasetError(f"{folder}: unknown class folder {folder.name!r}; accepted names: {accepted}")
    return index


def read_class_folders(root: Path, resolve: Callable[[Path], int | None] = class_index
                       ) -> tuple[list[Sample], list[str]]:
    """Samples of a folder-per-class tree and notes. `resolve` maps a class folder to a unified index, or
    None to drop its images. An empty class folder is a warning (logged and noted), not an error."""
    samples: list[Sample] = []
    notes: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = resolve(folder)
        images = list_images(folder)
        if not images:
            notes.append(f"empty class folder {folder} (no image files): the class has no images here")
            logger.warning(notes[-1])
        elif label is None:
            notes.append(f"dropped {len(images)} images of class folder {folder}")
        else:
            samples += [Sample(path, label) for path in images]
    if not samples:
        raise DatasetError(f"{root}: no images in class folders; expected <class name>/<image files>")
    return samples, notes


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split indices per class: one sorted index array per fraction, then the rest (len(fractions) + 1).

    Each class is shuffled with `seed` and cut at round(cumulative fraction * class size), so every part
    keeps the class proportions and the split depends only on the labels, their order and the seed.
    """
    if any(f < 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"split fractions must be >= 0 and sum below 1, got {list(fractions)}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.round(np.cumsum(fractions) * len(members)).astype(int)
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.append(chunk)
    return [np.sort(np.concatenate(part)) for part in parts]


def split_samples(samples: list[Sample], fractions: Sequence[float], seed: int) -> list[list[Sample]]:
    """`stratified_split` of samples by label: one list per fraction, then the rest."""
    parts = stratified_split(np.array([s.label for s in samples]), fractions, seed)
    return [[samples[i] for i in part] for part in parts]


def carve_val(splits: dict[str, list[Sample]], val_fraction: float, seed: int) -> str:
    """Move a stratified `val_fraction` of `splits['train']` into `splits['val']`; returns the note."""
    splits["val"], splits["train"] = split_samples(splits["train"], [val_fraction], seed)
    return f"val carved from train: {val_fraction:.0%} of each class, seed {seed} (test is never used for it)"
