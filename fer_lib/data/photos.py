"""A photo of one's own, ready for the models: read it, then find and crop every face as the real-data loaders do.

    photo = read_photo("astronaut")            # a path, uploaded bytes, or a scikit-image sample image
    faces = photo_faces(photo, size=48)        # largest face first; one centre crop when none is found
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fer_lib.data.faces import FaceCrop, crop_face, detect_faces, square_around

DEFAULT_PHOTO = "astronaut"   # scikit-image's portrait of Eileen Collins (NASA, public domain): works offline


@dataclass(frozen=True)
class PhotoFace:
    """One face of a photo: its crop as a dataset would store it, and where both lie in the photo.

    crop:   the stored image (size, size, 3), its face box, outcome "one_face" or "no_face" (the centre crop)
    box:    the detector's face box x0, y0, x1, y1 in photo pixels, float32 (4,); None for the centre crop
    square: the cropped square (left, top, side) in photo pixels
    """

    crop: FaceCrop
    box: np.ndarray | None
    square: tuple[int, int, int]


def read_photo(source: str | Path | bytes = DEFAULT_PHOTO) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file, of encoded bytes (an upload), or of a scikit-image sample named
    `source` ("astronaut", "chelsea", ...); the camera's EXIF orientation is applied, so a phone photo stands up."""
    if isinstance(source, bytes):
        return _decoded(Image.open(io.BytesIO(source)))
    if Path(source).is_file():
        return _decoded(Image.open(source))
    from skimage import data

    if not callable(getattr(data, str(source), None)):
        raise FileNotFoundError(f"{source!r} is neither an image file nor a scikit-image sample (skimage.data)")
    pixels = np.asarray(getattr(data, str(source))())
    pixels = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels[..., :3]
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _decoded(image: Image.Image) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)


def photo_faces(photo: np.ndarray, size: int, margin: float = 0.2) -> list[PhotoFace]:
    """Every Haar face of uint8 (H, W, 3) `photo`, largest first, each cropped as the real-data loaders crop a
    detected face (a square (1 + 2 margin) times the face box's longer side, resized to `size`); when the
    detector finds none, one centre crop with outcome "no_face"."""
    height, width = photo.shape[:2]
    boxes = detect_faces(photo)
    if len(boxes) == 0:
        side = min(height, width)
        centre = crop_face(photo, size)
        return [PhotoFace(FaceCrop(centre.image, centre.box, "no_face"), None,
                          ((width - side) // 2, (height - side) // 2, side))]
    boxes = boxes[np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
    faces = []
    for box in boxes:
        crop = crop_face(photo, size, box, margin=margin)
        faces.append(PhotoFace(FaceCrop(crop.image, crop.box, "one_face"), box,
                               square_around(box, margin, width, height)))
    return faces
