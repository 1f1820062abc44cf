"""SSL-FER's FaceSwap by landmark warping (after Matthew Earl's `faceswap.py`), for data that carries landmarks.

The expression regions of one face (eyes + brows, nose + mouth) are pasted onto another person's face:
1. a Procrustes similarity maps the expression face's brow / eye / nose / mouth landmarks onto the other face's;
2. the expression image is warped by it (`cv2.warpAffine`);
3. its colours are corrected: warped * G(face) / G(warped), G a Gaussian blur of 0.6 inter-ocular distances;
4. it is blended in through a feathered mask: the convex hulls of both faces' regions, grown and blurred.
Same expression, another face. SynthFER has an exact FaceSwap (`synthfer.face_swapped`); this one serves real data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from fer_lib.data.base import DatasetError, FaceDataset
from fer_lib.progress import progress

DLIB68 = "dlib68"
COLOUR_BLUR = 0.6          # colour-correction blur, in inter-ocular distances (Earl's COLOUR_CORRECT_BLUR_FRAC)
FEATHER = 0.25             # mask feathering blur, in inter-ocular distances (Earl: 11 px)
NAMED_HULL_PAD = 0.25      # how far the hulls of named (feature-centre) landmarks are grown, in inter-ocular distances
# A named landmark belongs to a part when one of the words of its name (split at non-letters) is listed here.
PART_KEYWORDS = {"eyes": ("eye", "pupil", "iris"), "brows": ("brow", "eyebrow"),
                 "nose": ("nose", "nostril"), "mouth": ("mouth", "lip", "lips")}


@dataclass(frozen=True)
class SwapLayout:
    """Landmark indices of the pasted regions (eyes + brows, nose + mouth; their union is the alignment set) and of
    the eyes (for the inter-ocular distance); `hull_pad`: how far each region's hull is grown, in inter-ocular
    distances."""

    regions: tuple[np.ndarray, np.ndarray]
    eyes: np.ndarray
    hull_pad: float

    @property
    def align(self) -> np.ndarray:
        return np.unique(np.concatenate(self.regions))


def swap_layout(landmark_names: Sequence[str] | str, num_landmarks: int) -> SwapLayout:
    """The regions of a landmark layout: "dlib68" by index (brows 17-26, eyes 36-47, nose 27-35, mouth 48-67), or a
    name per landmark, matched to PART_KEYWORDS ('eye_left' -> eyes, 'lip_top' -> mouth; 'chin' is in no region).

    Named landmarks (SynthFER's 11) mark the centres of features, not their outlines, so their hulls are grown by
    NAMED_HULL_PAD inter-ocular distances: the eye + brow hull becomes a rounded box around both eyes and brows.
    """
    if isinstance(landmark_names, str):
        if landmark_names != DLIB68 or num_landmarks != 68:
            raise ValueError(f"landmark_names must be {DLIB68!r} for 68 landmarks or one name per landmark; got "
                             f"{landmark_names!r} for {num_landmarks} landmarks")
        return SwapLayout(regions=(np.r_[17:27, 36:48], np.r_[27:36, 48:68]), eyes=np.arange(36, 48), hull_pad=0.0)
    if len(landmark_names) != num_landmarks:
        raise ValueError(f"{len(landmark_names)} landmark names {list(landmark_names)} for {num_landmarks} landmarks")
    words = [set(re.split(r"[^a-z]+", name.lower())) for name in landmark_names]

    def having(*parts: str) -> np.ndarray:
        keys = {key for part in parts for key in PART_KEYWORDS[part]}
        return np.array([i for i, name_words in enumerate(words) if name_words & keys], dtype=np.int64)

    layout = SwapLayout(regions=(having("eyes", "brows"), having("nose", "mouth")), eyes=having("eyes"),
                        hull_pad=NAMED_HULL_PAD)
    for region, indices in zip(("eyes + brows", "nose + mouth"), layout.regions):
        if len(indices) < 3:
            raise ValueError(f"the {region} region needs at least 3 landmarks; names {list(landmark_names)} give "
                             f"{len(indices)} (keywords {PART_KEYWORDS})")
    if len(layout.eyes) < 2:
        raise ValueError(f"at least 2 eye landmarks are needed (one per eye); names {list(landmark_names)} give "
                         f"{len(layout.eyes)}")
    return layout


def similarity_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Procrustes fit (Umeyama 1991): the similarity x -> s R x + t minimising sum_i |s R p_i + t - q_i|^2.

    source, target: (K, 2) points p_i, q_i. Returns the (2, 3) matrix [s R | t] for cv2.warpAffine. With the SVD
    U D V^T of the cross-covariance of centred q and p: R = U S V^T, S = diag(1, det(U V^T)),
    s = tr(D S) / sum_i |p_i - mean p|^2, t = mean q - s R mean p.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(centred_target.T @ centred_source)
    reflection = np.diag([1.0, 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0])
    rotation = u @ reflection @ vt
    scale = np.trace(np.diag(singular) @ reflection) / max((centred_source ** 2).sum(), 1e-12)
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def inter_ocular_distance(landmarks: np.ndarray, eyes: np.ndarray) -> float:
    """Distance between the two eye centres of one face: its eye landmarks (E, 2) split at their mean x."""
    eye_points = landmarks[eyes]
    is_left = eye_points[:, 0] < eye_points[:, 0].mean()
    if is_left.all() or not is_left.any():
        raise ValueError("eye landmarks must lie on both eyes to measure the inter-ocular distance")
    return float(np.linalg.norm(eye_points[is_left].mean(axis=0) - eye_points[~is_left].mean(axis=0)))


def odd_kernel(size: float) -> int:
    """An odd Gaussian kernel width for `size` pixels: int(size), plus 1 when even; at least 3."""
    return max(3, int(size) // 2 * 2 + 1)


def region_mask(point_sets: Sequence[np.ndarray], layout: SwapLayout, shape: tuple[int, int],
                inter_ocular: float) -> np.ndarray:
    """Feathered float32 mask (H, W) in [0, 1]: the convex hulls of each landmark set's (K, 2) regions, grown by
    hull_pad inter-ocular distances plus the feather radius (Earl: blur, > 0), then blurred by FEATHER."""
    mask = np.zeros(shape, np.uint8)
    for points in point_sets:
        for region in layout.regions:
            hull = cv2.convexHull(np.round(points[region] * 16).astype(np.int32))      # 4 fractional bits
            cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    feather = odd_kernel(FEATHER * inter_ocular)
    radius = int(round(layout.hull_pad * inter_ocular)) + feather // 2
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return cv2.GaussianBlur(mask.astype(np.float32), (feather, feather), 0)


def correct_colours(warped: np.ndarray, face: np.ndarray, inter_ocular: float) -> np.ndarray:
    """Earl's colour correction, float32 (H, W, C): warped * G(face) / G(warped), G a Gaussian blur of COLOUR_BLUR
    inter-ocular distances (the divisor floored at 1 against division by zero)."""
    kernel = (odd_kernel(COLOUR_BLUR * inter_ocular),) * 2
    face_blur = cv2.GaussianBlur(face, kernel, 0).reshape(face.shape)
    warped_blur = cv2.GaussianBlur(warped, kernel, 0).reshape(warped.shape)
    return warped * face_blur / np.maximum(warped_blur, 1.0)


def _swap(expression_image: np.ndarray, expression_landmarks: np.ndarray, face_image: np.ndarray,
          face_landmarks: np.ndarray, layout: SwapLayout) -> np.ndarray:
    """swap_expression with the layout resolved."""
    align = layout.align
    matrix = similarity_from_points(expression_landmarks[align], face_landmarks[align])     # expression -> face
    height, width, _ = face_image.shape
    face = face_image.astype(np.float32)
    warped = cv2.warpAffine(expression_image.astype(np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).reshape(face.shape)
    aligned_landmarks = expression_landmarks @ matrix[:, :2].T + matrix[:, 2]
    inter_ocular = max(inter_ocular_distance(face_landmarks, layout.eyes), 1.0)
    mask = region_mask([face_landmarks, aligned_landmarks], layout, (height, width), inter_ocular)[..., None]
    blended = face * (1 - mask) + correct_colours(warped, face, inter_ocular) * mask
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def swap_expression(expression_image: np.ndarray, expression_landmarks: np.ndarray, face_image: np.ndarray,
                    face_landmarks: np.ndarray, landmark_names: Sequence[str] | str) -> np.ndarray:
    """`face_image` with the expression regions (eyes + brows, nose + mouth) of `expression_image` warped on.

    Images uint8 (H, W, C), same C (sizes may differ); landmarks (K, 2) x, y in pixels of their image;
    `landmark_names`: one name per landmark (see `swap_layout`) or "dlib68". Returns uint8 (H, W, C) of the face.
    Pixels beyond the grown, feathered hulls of both faces' regions are the face's own. Named layouts (SynthFER's
    11 feature-centre points) grow their hulls by NAMED_HULL_PAD inter-ocular distances (`swap_layout`).
    """
    expression_landmarks = np.asarray(expression_landmarks, np.float64)
    face_landmarks = np.asarray(face_landmarks, np.float64)
    for name, image in (("expression_image", expression_image), ("face_image", face_image)):
        if image.ndim != 3 or image.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8 (H, W, C), got {image.dtype} {image.shape}")
    if expression_image.shape[-1] != face_image.shape[-1]:
        raise ValueError(f"expression_image has {expression_image.shape[-1]} channels, face_image "
                         f"{face_image.shape[-1]}: they must match")
    if expression_landmarks.shape != face_landmarks.shape or expression_landmarks.ndim != 2 \
            or expression_landmarks.shape[1] != 2:
        raise ValueError(f"landmarks must be (K, 2) x, y for both faces, got {expression_landmarks.shape} and "
                         f"{face_landmarks.shape}")
    layout = swap_layout(landmark_names, len(face_landmarks))
    return _swap(expression_image, expression_landmarks, face_image, face_landmarks, layout)


def other_identity_partners(identity: np.ndarray, seed: int) -> np.ndarray:
    """For each row i, a uniform random row j with identity[j] != identity[i]: int64 (N,).

    Rows sorted by identity put each identity's rows in one run [start, stop); a draw r among the N - (stop -
    start) others maps to sorted position r (before the run) or r + (stop - start) (after it).
    """
    order = np.argsort(identity, kind="stable")
    sorted_identity = identity[order]
    start = np.searchsorted(sorted_identity, identity, "left")
    run = np.searchsorted(sorted_identity, identity, "right") - start
    others = len(identity) - run
    if (others == 0).any():
        raise ValueError("every image must have another identity to swap onto; all images share one")
    draw = np.random.default_rng(seed).integers(0, others)
    return order[np.where(draw < start, draw, draw + run)]


def landmark_face_swapped(dataset: FaceDataset, landmark_names: Sequence[str] | str, seed: int) -> np.ndarray:
    """SSL-FER's FaceSwap by landmark warping: each image's expression (`swap_expression`) on a random image of
    another identity (meta "identity"; without it, another random image). uint8 (N, H, W, C).

    Needs meta "landmarks" (N, K, 2) x, y in pixels; `landmark_names` as in `swap_layout`. Every image is swapped:
    SSL-FER's p = .8 of using the swap is the training recipe's choice.
    """
    if "landmarks" not in dataset.meta:
        raise DatasetError(f"FaceSwap needs facial landmarks (meta 'landmarks', (N, K, 2) x, y) from dataset "
                           f"{dataset.name!r}, which has {', '.join(dataset.meta) or 'no metadata'}")
    landmarks = np.asarray(dataset.meta["landmarks"], np.float64)
    if landmarks.ndim != 3 or landmarks.shape[2] != 2:
        raise DatasetError(f"dataset {dataset.name!r}: meta 'landmarks' must be (N, K, 2) x, y, got {landmarks.shape}")
    identity = np.asarray(dataset.meta.get("identity", np.arange(len(dataset))))
    try:
        layout = swap_layout(landmark_names, landmarks.shape[1])
        partners = other_identity_partners(identity, seed)
    except ValueError as error:
        raise DatasetError(f"dataset {dataset.name!r}: {error}") from None
    swapped = np.empty(dataset.images.shape, np.uint8)
    for index in progress(range(len(dataset)), desc=f"FaceSwap {dataset.name}", unit="img"):
        face = partners[index]
        swapped[index] = _swap(np.asarray(dataset.images[index]), landmarks[index], np.asarray(dataset.images[face]),
                               landmarks[face], layout)
    return swapped
