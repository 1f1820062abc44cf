"""Tiny fake datasets in every published layout: for the tests, and for trying the loaders without the data.

Each image is a drawn cartoon face (OpenCV's Haar detector finds it) on a background whose gray tone names
the class (`CLASS_TONES`; `tone_class` reads it back), so a test can check that every image kept its
label. Label codes are written from each dataset's published description, independently of the loaders.
`write_fixture_datasets(out)` writes them all; data_scripts/make_fixture_datasets.py is its CLI.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from fer_lib.data.base import EMOTIONS_8

CLASS_TONES = {name: 20 + 15 * index for index, name in enumerate(EMOTIONS_8)}  # darker than any face
# published label orders: FER2013 codes 0..6, RAF-DB labels 1..7, AffectNet expressions 0..7
FER2013_CLASSES = ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral")
RAFDB_CLASSES = ("surprise", "fear", "disgust", "happy", "sad", "anger", "neutral")
AFFECTNET_CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# FERPlus vote columns, and the classes the first 8 of them name
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")
FERPLUS_CLASSES = ("neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt")


def draw_face(size: int, tone: int, rng: np.random.Generator, face_scale: float = 0.3,
              center: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (size, size) gray cartoon face on a uniform background of `tone` (the class code)."""
    image = np.full((size, size), tone, dtype=np.uint8)
    s = int(size * face_scale * rng.uniform(0.9, 1.1))
    cx, cy = center or (size // 2 + int(rng.integers(-2, 3)), size // 2 + int(rng.integers(-2, 3)))
    fill, dark = 210, 40
    cv2.ellipse(image, (cx, cy), (int(s * 0.8), s), 0, 0, 360, fill, -1)
    for side in (-1, 1):
        cv2.ellipse(image, (cx + side * int(s * 0.35), cy - int(s * 0.25)), (int(s * 0.18), int(s * 0.09)),
                    0, 0, 360, dark, -1)
        cv2.line(image, (cx + side * int(s * 0.15), cy - int(s * 0.45)),
                 (cx + side * int(s * 0.55), cy - int(s * 0.45)), dark, max(2, s // 12))
    cv2.line(image, (cx, cy - int(s * 0.1)), (cx, cy + int(s * 0.25)), (fill + dark) // 2, max(2, s // 15))
    cv2.ellipse(image, (cx, cy + int(s * 0.5)), (int(s * 0.3), int(s * 0.1)), 0, 0, 360, dark, -1)
    return cv2.GaussianBlur(image, (5, 5), 0)


def tone_class(image: np.ndarray) -> str:
    """The class whose tone is nearest to the top-left corner of uint8 (H, W[, C]) `image`."""
    tone = float(np.mean(image[:3, :3]))
    return min(CLASS_TONES, key=lambda name: abs(CLASS_TONES[name] - tone))


def save_image(path: Path, gray: np.ndarray, rgb: bool = True) -> Path:
    """Write a gray image as RGB (or as 1-channel gray) in the format of the file suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.repeat(gray[..., None], 3, axis=2) if rgb else gray).save(path, quality=95)
    return path


def write_fer2013_csv(path: Path, rows: Sequence[tuple[int, str, str]], seed: int = 0) -> Path:
    """fer2013.csv (emotion, pixels, Usage): one 48x48 face per (code, Usage, class drawn) row."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for code, usage, drawn in rows:
            writer.writerow([code, " ".join(map(str, draw_face(48, CLASS_TONES[drawn], rng).ravel())), usage])
    return path


def write_fer2013(root: Path, rows: Sequence[tuple[int, str]] | None = None) -> Path:
    """<root>/fer2013.csv from (FER2013 code, Usage) rows; default 3 Training, 1 PublicTest and 1
    PrivateTest row of each code."""
    if rows is None:
        rows = [(code, usage) for usage, count in (("Training", 3), ("PublicTest", 1), ("PrivateTest", 1))
                for code in range(7) for _ in range(count)]
    write_fer2013_csv(root / "fer2013.csv", [(code, usage, FER2013_CLASSES[code]) for code, usage in rows])
    return root


def ferplus_rows() -> list[tuple[str, str, tuple[int, ...]]]:
    """(Usage, Image name, 10 votes) rows: clear majorities of each emotion (2 in Training, 1 in PublicTest
    and PrivateTest), then in Training an ambiguous tie, an unknown winner, a not-a-face and an unnamed row."""
    rows = []
    for usage, count in (("Training", 2), ("PublicTest", 1), ("PrivateTest", 1)):
        for column in range(8):
            votes = [0] * 10
            votes[column], votes[(column + 1) % 8] = 8, 2
            rows += [(usage, True, tuple(votes))] * count
    rows += [("Training", True, (2, 4, 4, 0, 0, 0, 0, 0, 0, 0)),   # happiness / surprise tie: no majority
             ("Training", True, (1, 2, 0, 0, 0, 0, 0, 0, 7, 0)),   # unknown wins
             ("Training", True, (0, 0, 0, 0, 0, 0, 0, 0, 0, 10)),  # not a face
             ("Training", False, (10, 0, 0, 0, 0, 0, 0, 0, 0, 0))]  # no image name
    return [(usage, f"fer{index:07d}.png" if named else "", votes)
            for index, (usage, named, votes) in enumerate(rows)]


def write_ferplus(root: Path, rows: Sequence[tuple[str, str, tuple[int, ...]]] | None = None) -> Path:
    """<root>/fer2013.csv and <root>/fer2013new.csv (default `ferplus_rows()`); each image is drawn with
    the tone of its top-voted emotion."""
    rows = ferplus_rows() if rows is None else rows
    drawn = [FERPLUS_CLASSES[int(np.argmax(votes[:8]))] for _, _, votes in rows]
    write_fer2013_csv(root / "fer2013.csv", [(0, usage, name) for (usage, _, _), name in zip(rows, drawn)])
    with open(root / "fer2013new.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Usage", "Image name", *FERPLUS_COLUMNS])
        writer.writerows([usage, name, *votes] for usage, name, votes in rows)
    return root


def write_rafdb(root: Path, rows: Sequence[tuple[str, int]] | None = None) -> Path:
    """<root>/basic/EmoLabel/list_patition_label.txt and basic/Image/aligned/*_aligned.jpg (100x100 RGB)
    from (image name, RAF-DB label 1..7) rows; default 10 train_ and 2 test_ images per label."""
    if rows is None:
        rows = [(f"{prefix}_{index:05d}.jpg", index % 7 + 1)
                for prefix, count in (("train", 70), ("test", 14)) for index in range(1, count + 1)]
    rng = np.random.default_rng(1)
    basic = root / "basic"
    for name, label in rows:
        save_image(basic / "Image" / "aligned" / f"{Path(name).stem}_aligned.jpg",
                   draw_face(100, CLASS_TONES[RAFDB_CLASSES[label - 1]], rng, face_scale=0.4))
    (basic / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n} {l}\n" for n, l in rows))
    return root


def write_affectnet_csv(root: Path) -> Path:
    """<root>/training.csv, validation.csv and Manually_Annotated_Images/<dir>/<hash>.jpg (160x160, face off
    centre, its box in the CSV): 6 training and 2 validation rows per expression 0..7, plus one training
    row each of 8 (none), 9 (uncertain) and 10 (no-face)."""
    rng = np.random.default_rng(2)
    columns = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
               "expression", "valence", "arousal"]
    for name, count, extra in (("training.csv", 6, (8, 9, 10)), ("validation.csv", 2, ())):
        rows = []
        for index, code in enumerate([c for c in range(8) for _ in range(count)] + list(extra)):
            drawn = AFFECTNET_CLASSES[code] if code < 8 else "neutral"
            center = (int(rng.integers(60, 100)), int(rng.integers(60, 100)))
            face = draw_face(160, CLASS_TONES[drawn], rng, face_scale=0.22, center=center)
            s = int(160 * 0.22)
            path = f"{index % 3 + 1}/{name[:5]}{index:04d}.jpg"
            save_image(root / "Manually_Annotated_Images" / path, face)
            rows.append([path, center[0] - s, center[1] - s, 2 * s, 2 * s, "0.0;0.0", code,
                         round(float(rng.uniform(-1, 1)), 3), round(float(rng.uniform(-1, 1)), 3)])
        with open(root / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
    return root


def write_class_folders(root: Path, folder_names: Sequence[str], classes: Sequence[str], per_class: int,
                        size: int, suffix: str, seed: int, channels: str = "gray") -> Path:
    """<root>/<folder name>/*<suffix>: `per_class` faces of the class drawn in each folder, stored
    1-channel gray, RGB, or "mixed" (even files gray, odd files RGB)."""
    rng = np.random.default_rng(seed)
    for folder, drawn in zip(folder_names, classes):
        for index in range(per_class):
            rgb = channels == "rgb" or (channels == "mixed" and index % 2 == 1)
            save_image(root / folder / f"{drawn[:2]}{index:03d}{suffix}", draw_face(size, CLASS_TONES[drawn], rng),
                       rgb=rgb)
    return root


def write_affectnet_folders(root: Path, by_name: bool = False) -> Path:
    """<root>/train/<class>/ and <root>/val/<class>/ (112x112 RGB JPEG, 6 and 2 per class), class folders
    named by AffectNet index 0..7, or by class name with `by_name`."""
    folders = AFFECTNET_CLASSES if by_name else [str(code) for code in range(8)]
    for split, count in (("train", 6), ("val", 2)):
        write_class_folders(root / split, folders, AFFECTNET_CLASSES, count, 112, ".jpg", seed=3, channels="rgb")
    return root


CKPLUS48_FOLDERS = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
CKPLUS48_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sad", "surprise")
CKPLUS_SUBJECTS = (5, 10, 11, 14, 22, 26, 32, 37, 42, 50, 53, 55)  # S010 is in every class
# CK+ emotion codes 0..7 (its Emotion/*_emotion.txt files)
CKPLUS_CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sad", "surprise")
JAFFE_POSERS = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
JAFFE_CODES = {"anger": "AN", "disgust": "DI", "fear": "FE", "happy": "HA", "neutral": "NE", "sad": "SA",
               "surprise": "SU"}


def ckplus_sequences() -> list[tuple[int, int, str]]:
    """(subject, sequence, class) of the CK+ fixtures: in each class S010 and 3 other subjects in turn."""
    others = [subject for subject in CKPLUS_SUBJECTS if subject != 10]
    rows = []
    for index, drawn in enumerate(CKPLUS48_CLASSES):
        for subject in (10, *(others[(3 * index + k) % len(others)] for k in range(3))):
            rows.append((subject, 1 + sum(1 for s, _, _ in rows if s == subject), drawn))
    return rows


def write_ckplus(root: Path) -> Path:
    """CK+48-style <root>/<class>/S<subject>_<sequence>_<frame>.png: 48x48 gray face crops, the last 3 frames of
    4 sequences per class (S010 and 3 others in turn, 12 subjects, 84 images), no neutral class."""
    rng = np.random.default_rng(4)
    for subject, sequence, drawn in ckplus_sequences():
        folder = CKPLUS48_FOLDERS[CKPLUS48_CLASSES.index(drawn)]
        for frame in (8, 9, 10):
            save_image(root / folder / f"S{subject:03d}_{sequence:03d}_{frame:08d}.png",
                       draw_face(48, CLASS_TONES[drawn], rng, face_scale=0.42), rgb=False)
    return root


def write_ckplus_released(root: Path, frames: int = 6) -> Path:
    """CK+'s released layout: <root>/cohn-kanade-images/S<subject>/<sequence>/S..._<frame>.png (96x96 gray frames
    of a small face: neutral tone first, the class tone in the last 3) and Emotion/S.../<sequence>/
    S..._<last frame>_emotion.txt for every sequence of `ckplus_sequences()`, plus one unlabelled sequence.
    One labelled sequence has an extra frame after the one its emotion file names."""
    rng = np.random.default_rng(9)
    sequences = [*ckplus_sequences(), (5, 99, "")]
    for position, (subject, sequence, drawn) in enumerate(sequences):
        name = f"S{subject:03d}/{sequence:03d}"
        count = frames + (position == 0)
        for frame in range(1, count + 1):
            tone = CLASS_TONES[drawn if drawn and frame > frames - 3 else "neutral"]
            save_image(root / "cohn-kanade-images" / name / f"S{subject:03d}_{sequence:03d}_{frame:08d}.png",
                       draw_face(96, tone, rng, face_scale=0.2), rgb=False)
        if drawn:
            label_file = root / "Emotion" / name / f"S{subject:03d}_{sequence:03d}_{frames:08d}_emotion.txt"
            label_file.parent.mkdir(parents=True, exist_ok=True)
            label_file.write_text(f"   {CKPLUS_CODES.index(drawn):.7e}\n")
    return root


def write_jaffe(root: Path) -> Path:
    """JAFFE-style <root>/<class>/<poser>.<code><take>.<number>.tiff: one gray 128x128 head-and-shoulders shot of
    each of 10 posers per class, folders named by synonyms (angry, disgusted, fearful, happiness, neutral,
    sadness, surprised)."""
    rng = np.random.default_rng(5)
    folders = ("angry", "disgusted", "fearful", "happiness", "neutral", "sadness", "surprised")
    number = 0
    for folder, drawn in zip(folders, ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")):
        for poser in JAFFE_POSERS:
            number += 1
            save_image(root / folder / f"{poser}.{JAFFE_CODES[drawn]}1.{number}.tiff",
                       draw_face(128, CLASS_TONES[drawn], rng, face_scale=0.25), rgb=False)
    return root


def write_imagefolder(root: Path) -> Path:
    """<root>/train/<class>/ (8 per class) and <root>/test/<class>/ (2 per class) for the 7 basic classes,
    112x112 PNGs, a gray / RGB mix."""
    classes = EMOTIONS_8[:7]
    for split, count in (("train", 8), ("test", 2)):
        write_class_folders(root / split, classes, classes, count, 112, ".png", seed=6, channels="mixed")
    return root


def write_unlabeled(root: Path) -> Path:
    """An unlabeled tree: <root>/a/*.jpg (RGB) and <root>/b/c/*.png (gray), 6 faces each."""
    write_class_folders(root, ["a"], ["neutral"], 6, 96, ".jpg", seed=7, channels="rgb")
    write_class_folders(root / "b", ["c"], ["happy"], 6, 96, ".png", seed=8)
    return root


# layout name -> (registry dataset that reads it, writer)
FIXTURE_LAYOUTS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "fer2013": ("fer2013", write_fer2013),
    "ferplus": ("ferplus", write_ferplus),
    "rafdb": ("rafdb", write_rafdb),
    "affectnet_csv": ("affectnet", write_affectnet_csv),
    "affectnet_folders": ("affectnet8", write_affectnet_folders),
    "ckplus": ("ckplus", write_ckplus),
    "ckplus_released": ("ckplus", write_ckplus_released),
    "jaffe": ("jaffe", write_jaffe),
    "imagefolder": ("imagefolder", write_imagefolder),
    "unlabeled": ("unlabeled", write_unlabeled),
}


def write_fixture_datasets(out: Path, layouts: Sequence[str] = tuple(FIXTURE_LAYOUTS)) -> dict[str, Path]:
    """Write each layout to <out>/<layout>; layout name -> dataset root."""
    return {layout: FIXTURE_LAYOUTS[layout][1](Path(out) / layout) for layout in layouts}
