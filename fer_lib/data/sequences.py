"""A folder of face-frame sequences (VoxCeleb-style clips) for SSL-FER's temporal positives and negatives.

Layout: <root>/<person>/<clip>/<frame images>, frames in file-name order, images already face crops (as
VoxCeleb's face tracks are); each is resized to a square `image_size`. Unlabeled: meta "identity" (person
folder), "sequence_id" (clip) and "frame_index" (position in the clip).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_lib.data.base import EMOTIONS_7, UNLABELED, DatasetError, FaceDataset
from fer_lib.data.real.common import list_images, read_rgb, require_dir


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """The central square of `image` (H, W, 3) resized to (size, size, 3)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(image[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)


def load_sequence_folder(root: Path, image_size: int, channels: int = 3) -> FaceDataset:
    """Every frame of every clip under `root` (see the module docstring); DatasetError naming what is missing."""
    folder = require_dir(root, "a folder of frame sequences (<person>/<clip>/<frames>)")
    frames, identity, sequence, index = [], [], [], []
    clips = sorted(clip for person in sorted(folder.iterdir()) if person.is_dir() and not person.name.startswith(".")
                   for clip in sorted(person.iterdir()) if clip.is_dir() and not clip.name.startswith("."))
    people = {name: number for number, name in enumerate(sorted({clip.parent.name for clip in clips}))}
    for clip_number, clip in enumerate(clips):
        for frame_number, path in enumerate(list_images(clip)):
            frames.append(_square(read_rgb(path), image_size))
            identity.append(people[clip.parent.name])
            sequence.append(clip_number)
            index.append(frame_number)
    if not frames:
        raise DatasetError(f"{folder}: no frames found; expected <person>/<clip>/<frame images> below it")
    images = np.stack(frames)
    images = images if channels == 3 else images.mean(axis=3, keepdims=True).round().astype(np.uint8)
    return FaceDataset(images, np.full(len(images), UNLABELED), EMOTIONS_7, name=f"sequences:{folder.name}",
                       meta={"identity": np.array(identity), "sequence_id": np.array(sequence),
                             "frame_index": np.array(index)})
