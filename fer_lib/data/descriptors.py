"""MaskFN's expression descriptor: the appearance of the eyes (with brows) and the mouth, which carry the
expression, and little of the rest of the face, which carries the identity.

SSL-FER embeds 64x64 eye and mouth crops with a frozen ImageNet ResNet-18. No pre-trained network can be
downloaded here, so the frozen extractor is a histogram of oriented gradients (HOG, OpenCV): a classical,
training-free FER descriptor of the same crops (eyes + brows 32x16, mouth 32x16 px), concatenated and
L2-normalised. Notebook 04 measures that it separates expressions better than identities.
"""
from __future__ import annotations

import cv2
import numpy as np

from fer_lib.data.base import DatasetError, FaceDataset

CROP_SIZE = (32, 16)                 # width, height of each region crop
# Region name -> (landmark names it is centred on, width and height in inter-ocular distances, vertical shift).
REGIONS = {"eyes": (("eye_left", "eye_right", "brow_left", "brow_right"), 2.0, 1.0, 0.0),
           "mouth": (("mouth_left", "mouth_right", "lip_top", "lip_bottom"), 1.6, 0.8, 0.0)}


def _hog() -> cv2.HOGDescriptor:
    """9-bin HOG over 8x8 cells, 16x16 blocks with stride 8, on a 32x16 window: 108 values."""
    return cv2.HOGDescriptor(CROP_SIZE, (16, 16), (8, 8), (8, 8), 9)


# dlib's 68-point layout: the points averaged into each named landmark the regions use.
DLIB68 = {"eye_left": range(36, 42), "eye_right": range(42, 48), "brow_left": range(17, 22),
          "brow_right": range(22, 27), "mouth_left": (48,), "mouth_right": (54,), "lip_top": (51,), "lip_bottom": (57,)}


def named_points(landmarks: np.ndarray, landmark_names: tuple[str, ...] | str) -> dict[str, np.ndarray]:
    """{name: (x, y)} of one face's landmarks (K, 2): named as `landmark_names`, or "dlib68" (68 points)."""
    if landmark_names == "dlib68":
        return {name: landmarks[list(indices)].mean(axis=0) for name, indices in DLIB68.items()}
    return {name: landmarks[index] for index, name in enumerate(landmark_names)}


def region_crops(image: np.ndarray, landmarks: np.ndarray, landmark_names: tuple[str, ...] | str
                 ) -> dict[str, np.ndarray]:
    """Gray uint8 crops (16, 32) of the eyes-and-brows and the mouth. image (H, W, C) uint8, landmarks (K, 2) x, y
    named by `landmark_names` (or "dlib68")."""
    gray = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    point = named_points(landmarks, landmark_names)
    inter_ocular = max(float(np.linalg.norm(point["eye_left"] - point["eye_right"])), 1.0)
    crops = {}
    for region, (names, width, height, shift) in REGIONS.items():
        centre = np.mean([point[name] for name in names], axis=0) + np.array([0.0, shift * inter_ocular])
        size = (max(int(round(width * inter_ocular)), 2), max(int(round(height * inter_ocular)), 2))
        patch = cv2.getRectSubPix(np.ascontiguousarray(gray), size, (float(centre[0]), float(centre[1])))
        crops[region] = cv2.resize(patch, CROP_SIZE, interpolation=cv2.INTER_AREA)
    return crops


def expression_descriptors(dataset: FaceDataset, landmark_names: tuple[str, ...] | str) -> np.ndarray:
    """(N, 216) float32 L2-normalised HOG of each image's eye and mouth crops; needs meta["landmarks"] (N, K, 2)."""
    if "landmarks" not in dataset.meta:
        raise DatasetError(f"MaskFN needs facial landmarks (meta 'landmarks', (N, K, 2) x, y) from dataset "
                           f"{dataset.name!r}, which has {', '.join(dataset.meta) or 'no metadata'}")
    hog = _hog()
    rows = [np.concatenate([hog.compute(crop).ravel() for crop in
                            region_crops(dataset.images[i], dataset.meta["landmarks"][i], landmark_names).values()])
            for i in range(len(dataset))]
    descriptors = np.asarray(rows, dtype=np.float32)
    return descriptors / np.maximum(np.linalg.norm(descriptors, axis=1, keepdims=True), 1e-8)
