"""Facial-region masks from landmarks, and how much of a map (attention, reconstruction error) falls in each.

A region is the union of discs around its landmarks, of radius `radius` x the inter-ocular distance of
that face, so it scales with the face. Regions may overlap (brows and eyes do at large radii).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fer_lib.eval.metrics import ArrayLike, as_numpy

# A landmark belongs to a region when one of the words of its name (split at non-letters) is listed here.
REGION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "eyes": ("eye", "pupil", "iris"),
    "brows": ("brow", "eyebrow"),
    "nose": ("nose", "nostril"),
    "mouth": ("mouth", "lip", "lips"),
}


@dataclass(frozen=True)
class RegionShare:
    """mass: mean fraction of a map's total inside the region; area: mean fraction of the image it covers.

    `area` is the chance level: a map spread uniformly over the image has mass == area.
    """

    mass: float
    area: float


def landmark_regions(landmark_names: Sequence[str],
                     keywords: Mapping[str, Sequence[str]] = REGION_KEYWORDS) -> dict[str, list[int]]:
    """Landmark indices per region, matching name words to `keywords` ('left_eye_outer' -> eyes)."""
    words = [set(re.split(r"[^a-z]+", name.lower())) for name in landmark_names]
    regions = {region: [i for i, name_words in enumerate(words) if name_words & set(keys)]
               for region, keys in keywords.items()}
    empty = [region for region, indices in regions.items() if not indices]
    if empty:
        raise ValueError(f"no landmark named for regions {empty} among {list(landmark_names)}; pass `keywords`")
    return regions


def inter_ocular_distance(eye_points: np.ndarray) -> np.ndarray:
    """Distance between the two eye centres (N,): eye landmarks (N, E, 2) are split at their mean x."""
    x = eye_points[..., 0]
    is_left = x < x.mean(axis=1, keepdims=True)                                  # (N, E)
    counts = np.stack([is_left.sum(axis=1), (~is_left).sum(axis=1)])
    if (counts == 0).any():
        raise ValueError("eye landmarks must lie on both eyes to measure the inter-ocular distance")
    left = (eye_points * is_left[..., None]).sum(axis=1) / counts[0, :, None]
    right = (eye_points * ~is_left[..., None]).sum(axis=1) / counts[1, :, None]
    return np.linalg.norm(left - right, axis=1)


def region_masks(landmarks: ArrayLike, landmark_names: Sequence[str], image_shape: tuple[int, int],
                 radius: float = 0.25, keywords: Mapping[str, Sequence[str]] = REGION_KEYWORDS
                 ) -> dict[str, np.ndarray]:
    """Boolean pixel masks (N, H, W) per region from landmarks (N, K, 2) given as (x, y) = (column, row).

    A pixel is in a region when it lies within radius x inter-ocular distance of one of the region's
    landmarks; the inter-ocular distance comes from the 'eyes' landmarks, so `keywords` must define 'eyes'.
    """
    points = as_numpy(landmarks).astype(np.float32)
    regions = landmark_regions(landmark_names, keywords)
    if "eyes" not in regions:
        raise ValueError("the regions need an 'eyes' entry to measure the inter-ocular distance")
    squared_radius = (radius * inter_ocular_distance(points[:, regions["eyes"]]))[:, None, None] ** 2
    rows, cols = np.mgrid[:image_shape[0], :image_shape[1]].astype(np.float32)   # (H, W) each
    masks = {}
    for region, indices in regions.items():
        mask = np.zeros((len(points), *image_shape), dtype=bool)
        for x, y in points[:, indices].transpose(1, 2, 0):                       # (N,) each, per landmark
            mask |= (cols - x[:, None, None]) ** 2 + (rows - y[:, None, None]) ** 2 <= squared_radius
        masks[region] = mask
    return masks


def region_mass(maps: ArrayLike, masks: Mapping[str, np.ndarray]) -> dict[str, RegionShare]:
    """Share of non-negative maps (N, h, w) inside each region mask (N, H, W), and the region's area.

    The maps may be coarser than the masks (attention or reconstruction error per patch): each mask is
    averaged over the map's cells first, so a cell half inside the region counts half.
    """
    maps = torch.as_tensor(as_numpy(maps), dtype=torch.float64)
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (attention weights, squared errors)")
    total = maps.sum(dim=(1, 2))                                                  # (N,)
    shares = {}
    for region, mask in masks.items():
        coverage = F.adaptive_avg_pool2d(torch.as_tensor(mask, dtype=torch.float64)[:, None], maps.shape[1:])[:, 0]
        shares[region] = RegionShare(mass=float(((maps * coverage).sum(dim=(1, 2)) / total).mean()),
                                     area=float(coverage.mean()))
    return shares
