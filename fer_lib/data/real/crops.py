"""One face-crop path per dataset: are the images face crops already, or do they need the detector?

Running a detector on images that are already tight face crops (CK+48, FER2013-style 48 px sets) preprocesses
one dataset two ways: the detector finds a face in some images (margin crop around it) and misses it in
others (centre crop). With detect_faces "auto" the decision is made once, from a probe: the Haar detector
runs on PROBE_IMAGES images spread evenly over the dataset, and the images count as face crops when the
median detected face box covers at least CROPPED_COVERAGE of the image's centre square (the area where the
default 0.2 margin crop already spans the whole image), or when no probed image shows a face at all. Then every
image is stored as a crop (outcome "aligned"); otherwise every image goes through detection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fer_lib.data.faces import detect_faces
from fer_lib.data.real.common import Sample, SourceSplits, UnreadableImage
from fer_lib.data.real.convert import sample_pixels

PROBE_IMAGES = 32
CROPPED_COVERAGE = 0.5  # face-box area / area of the image's centre square at which an image is a face crop


@dataclass(frozen=True)
class CropDecision:
    """Whether to run the detector on the whole dataset, and why (for the report)."""

    detect: bool
    reason: str


def face_coverage(image: np.ndarray) -> float | None:
    """Area of the largest Haar face in uint8 (H, W, 3) `image` over min(H, W)^2; None when none is found."""
    boxes = detect_faces(image)
    if len(boxes) == 0:
        return None
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return float(areas.max() / min(image.shape[:2]) ** 2)


def decide_face_detection(samples: Sequence[Sample], probe_images: int = PROBE_IMAGES) -> CropDecision:
    """Detect faces in every image, or in none: the rule of the module docstring on evenly spread `samples`."""
    picked = np.unique(np.linspace(0, len(samples) - 1, min(probe_images, len(samples))).round().astype(int))
    coverages, readable = [], 0
    for index in picked:
        try:
            image = sample_pixels(samples[index])
        except UnreadableImage:
            continue
        readable += 1
        coverage = face_coverage(image)
        if coverage is not None:
            coverages.append(coverage)
    probe = f"probe of {readable} images"
    if not coverages:
        return CropDecision(False, f"face crops, no detection ({probe}: the detector found no face in any)")
    median = float(np.median(coverages))
    found = f"{probe}: faces found in {len(coverages)}, median face box {median:.0%} of the image"
    if median >= CROPPED_COVERAGE:
        return CropDecision(False, f"face crops, no detection ({found}, at least {CROPPED_COVERAGE:.0%})")
    return CropDecision(True, f"Haar detection on every image ({found}, below {CROPPED_COVERAGE:.0%})")


def face_crop_path(source: SourceSplits) -> CropDecision:
    """The face-crop path of a whole dataset: its lister's detect_faces, with "auto" decided by a probe."""
    unboxed = [s for samples in source.splits.values() for s in samples if s.box is None]
    if not unboxed:
        return CropDecision(False, "annotated face box for every image: no detection needed")
    if source.detect_faces == "auto":
        return decide_face_detection(unboxed)
    if source.detect_faces is True:
        return CropDecision(True, "Haar detection on every image without an annotated box (detect_faces=True)")
    if source.detect_faces is False:
        return CropDecision(False, "no detection (detect_faces=False): annotated boxes where the dataset gives "
                                   "them, else every image is taken as a face crop")
    raise ValueError(f"detect_faces must be true, false or \"auto\", got {source.detect_faces!r}")

