"""Face crops for stored images: Haar detection, a square margin crop, and the face box inside the crop.

Boxes are float (x0, y0, x1, y1) in pixels. `crop_face` turns one decoded image into the stored image
(size, size, 3) and the face box in its pixels (FaceMix weighs mixed pairs by the IoU of these boxes).
How the face is found is the crop's `outcome`:

    aligned        already a face crop: centre square, box = `central_box`
    annotated      the dataset gives a box (AffectNet CSV): margin crop around it
    one_face       the detector found one face: margin crop around it
    several_faces  fallback, the detector found several: margin crop around the largest
    no_face        fallback, the detector found none: centre square, box = `central_box`
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

FaceOutcome = Literal["aligned", "annotated", "one_face", "several_faces", "no_face"]
# the detector's fallbacks and what was done, as the conversion report words them
FALLBACKS: dict[FaceOutcome, str] = {"several_faces": "several faces, cropped the largest",
                                     "no_face": "no face found, centre crop"}

# SSFER's fallback face box [25, 25, 220, 220] on 224 px images, as fractions of the side.
CENTRAL_BOX = np.array([25, 25, 220, 220], dtype=np.float32) / 224
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
DETECT_MAX_SIDE = 640  # larger images are shrunk before detection (speed); boxes are scaled back


@dataclass(frozen=True)
class FaceCrop:
    """A stored image, uint8 (size, size, 3); its face box, float32 (4,); how the face was found."""

    image: np.ndarray
    box: np.ndarray
    outcome: FaceOutcome


def central_box(size: int) -> np.ndarray:
    """The fixed face box of aligned crops and centre-crop fallbacks: float32 (4,) in a size x size image."""
    return CENTRAL_BOX * size


@functools.cache
def _haar_cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADE)


def detect_faces(image: np.ndarray) -> np.ndarray:
    """OpenCV Haar frontal faces in uint8 (H, W, 3) RGB: float32 (K, 4) boxes x0, y0, x1, y1; K may be 0."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, DETECT_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = _haar_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
    boxes = np.asarray(found, dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # x, y, w, h -> x0, y0, x1, y1
    return boxes / scale


def square_around(box: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int]:
    """Square (x0, y0, side) centred on `box`, side = (1 + 2 margin) * longer box side, kept in the image.

    The side is capped at the shorter image side and the square shifted inside, so no padding is needed.
    """
    x0, y0, x1, y1 = box
    side = max(1, min(round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)), width, height))
    left = int(np.clip(round((x0 + x1 - side) / 2), 0, width - side))
    top = int(np.clip(round((y0 + y1 - side) / 2), 0, height - side))
    return left, top, side


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """A square uint8 (S, S, 3) image resized to (size, size, 3): area when shrinking, cubic when enlarging."""
    if image.shape[0] == size:
        return np.ascontiguousarray(image)
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def crop_face(image: np.ndarray, size: int, box: np.ndarray | tuple[float, ...] | None = None,
              detect: bool = False, margin: float = 0.2) -> FaceCrop:
    """Stored image and face box from uint8 (H, W, 3) `image` (see the module docstring for the outcomes).

    box:    annotated face box x0, y0, x1, y1 in `image` pixels (takes precedence over detection)
    detect: run the Haar detector when no box is given; otherwise the image is taken as an aligned crop
    margin: crop side = (1 + 2 margin) * longer face-box side
    """
    height, width = image.shape[:2]
    outcome: FaceOutcome = "annotated" if box is not None else "aligned"
    if box is None and detect:
        boxes = detect_faces(image)
        outcome = "no_face" if len(boxes) == 0 else "one_face" if len(boxes) == 1 else "several_faces"
        if len(boxes):
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            box = boxes[np.argmax(areas)]
    if box is None:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        face_box = central_box(size)
    else:
        box = np.asarray(box, dtype=np.float32)
        left, top, side = square_around(box, margin, width, height)
        face_box = np.clip((box - [left, top, left, top]) * (size / side), 0, size).astype(np.float32)
    crop = resize_square(image[top:top + side, left:left + side], size)
    return FaceCrop(crop, face_box, outcome)
