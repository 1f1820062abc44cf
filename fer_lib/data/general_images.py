"""Procedural non-face images (gradients, stripes, checkerboards, blobs, shapes, landscapes, textures, rings).

The stand-in for the "general images" (ImageNet-like) corpus of MIMIC's story: MAE pre-trained on these
sees no face at all. Each kind is drawn for a whole batch at once on (B, H, W) grids, as in `synthfer_render`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

GENERAL_KINDS = ("gradient", "stripes", "checkerboard", "blobs", "shapes", "landscape", "texture", "rings")


def render_general_images(rng: np.random.Generator, kinds: np.ndarray, size: int) -> np.ndarray:
    """One image per entry of `kinds` (indices into GENERAL_KINDS) -> float32 RGB (N, 3, H, W) in [0, 1]."""
    images = np.empty((len(kinds), 3, size, size), np.float32)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    gx, gy = grid[None, None, :], grid[None, :, None]
    for kind, draw in enumerate(_DRAW):
        idx = np.flatnonzero(kinds == kind)
        if idx.size:
            images[idx] = draw(rng, len(idx), gx, gy)
    images *= rng.uniform(0.7, 1.2, (len(kinds), 3, 1, 1)).astype(np.float32)          # white balance, exposure
    images += rng.normal(0, 0.02, (len(kinds), 1, size, size)).astype(np.float32)
    return np.clip(images, 0, 1, out=images)


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random RGB colours as (n, 3, 1, 1) for broadcasting over (n, 3, H, W)."""
    return rng.uniform(0, 1, (n, 3, 1, 1)).astype(np.float32)


def _mix(t: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two colours (n, 3, 1, 1) by weights t (n, H, W) in [0, 1] -> (n, 3, H, W)."""
    return first + t[:, None] * (second - first)


def _uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Random per-image scalars as (n, 1, 1)."""
    return rng.uniform(low, high, (n, 1, 1)).astype(np.float32)


def _direction(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Position along a random direction through the centre, (n, H, W), roughly in [-0.7, 0.7]."""
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    return ((gx - 0.5) * np.cos(angle) + (gy - 0.5) * np.sin(angle)).astype(np.float32)


def _gradient(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    vignette = (gx - 0.5) ** 2 + (gy - 0.5) ** 2
    t = np.clip(0.5 + _direction(rng, n, gx, gy) * _uniform(rng, n, 0.8, 2.0), 0, 1)
    return _mix(t, _colours(rng, n), _colours(rng, n)) * (1 - _uniform(rng, n, 0, 1.2) * vignette)[:, None]


def _stripes(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    wave = np.sin(2 * np.pi * _direction(rng, n, gx, gy) * _uniform(rng, n, 2, 14) + _uniform(rng, n, 0, 6.3))
    t = np.clip(wave * _uniform(rng, n, 1, 8) * 0.5 + 0.5, 0, 1)
    return _mix(t, _colours(rng, n), _colours(rng, n))


def _checkerboard(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    angle, cells = _uniform(rng, n, 0, np.pi / 2), _uniform(rng, n, 2, 9)
    u = ((gx - 0.5) * np.cos(angle) + (gy - 0.5) * np.sin(angle)) * cells
    v = ((gy - 0.5) * np.cos(angle) - (gx - 0.5) * np.sin(angle)) * cells
    t = np.clip(np.sin(np.pi * u) * np.sin(np.pi * v) * 20 + 0.5, 0, 1)
    return _mix(t, _colours(rng, n), _colours(rng, n))


def _blobs(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    image = np.broadcast_to(_colours(rng, n), (n, 3, gx.shape[-1], gx.shape[-1])).copy()
    for _ in range(5):
        spread = _uniform(rng, n, 0.004, 0.03)
        weight = np.exp(-((gx - _uniform(rng, n, 0, 1)) ** 2 + (gy - _uniform(rng, n, 0, 1)) ** 2) / spread)
        image += weight[:, None] * (_colours(rng, n) - image)
    return image


def _shapes(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    size = gx.shape[-1]
    image = np.broadcast_to(_colours(rng, n), (n, 3, size, size)).copy()
    for _ in range(4):
        cx, cy, radius = _uniform(rng, n, 0.1, 0.9), _uniform(rng, n, 0.1, 0.9), _uniform(rng, n, 0.06, 0.25)
        disc = radius - np.sqrt((gx - cx) ** 2 + (gy - cy) ** 2)
        box = np.minimum(radius - np.abs(gx - cx), 0.6 * radius - np.abs(gy - cy))
        triangle = np.minimum(gy - cy + radius, radius - (gy - cy) - 2 * np.abs(gx - cx))
        pick = rng.integers(0, 3, (n, 1, 1))
        distance = np.where(pick == 0, disc, np.where(pick == 1, box, triangle))
        mask = np.clip(distance * size + 0.5, 0, 1)
        image += mask[:, None] * (_colours(rng, n) - image)
    return image


def _landscape(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    size = gx.shape[-1]
    sky = _mix(np.broadcast_to(gy, (n, size, size)),
               np.float32([0.3, 0.5, 0.9])[None, :, None, None] * _uniform(rng, n, 0.6, 1.1)[:, None],
               np.float32([0.9, 0.8, 0.7])[None, :, None, None])
    sun = np.clip((_uniform(rng, n, 0.04, 0.1) - np.sqrt((gx - _uniform(rng, n, 0.1, 0.9)) ** 2
                                                      + (gy - _uniform(rng, n, 0.05, 0.35)) ** 2)) * size, 0, 1)
    image = sky + sun[:, None] * (np.float32([1.0, 0.95, 0.7])[None, :, None, None] - sky)
    for depth in range(2):
        horizon = _uniform(rng, n, 0.45, 0.7) + 0.1 * depth + _uniform(rng, n, 0.02, 0.1) * np.sin(
            2 * np.pi * (gx * _uniform(rng, n, 0.5, 3) + _uniform(rng, n, 0, 1)))
        ground = np.clip((gy - horizon) * size, 0, 1)
        colour = np.float32([0.25, 0.45, 0.2])[None, :, None, None] * rng.uniform(0.5, 1.4, (n, 3, 1, 1))
        image += ground[:, None] * (colour.astype(np.float32) - image)
    return image


def _texture(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    field = np.zeros((n, gx.shape[-1], gx.shape[-1]), np.float32)
    for octave in range(4):
        frequency = 2.0 ** octave * _uniform(rng, n, 1.5, 3)
        field += np.sin(2 * np.pi * _direction(rng, n, gx, gy) * frequency + _uniform(rng, n, 0, 6.3)) / 2 ** octave
    t = np.clip(0.5 + 0.3 * field, 0, 1)
    return _mix(t, _colours(rng, n), _colours(rng, n))


def _rings(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    radius = np.sqrt((gx - _uniform(rng, n, 0, 1)) ** 2 + (gy - _uniform(rng, n, 0, 1)) ** 2)
    t = np.clip(np.sin(2 * np.pi * radius * _uniform(rng, n, 3, 12)) * 4 + 0.5, 0, 1)
    return _mix(t, _colours(rng, n), _colours(rng, n))


_DRAW: tuple[Callable[[np.random.Generator, int, np.ndarray, np.ndarray], np.ndarray], ...] = (
    _gradient, _stripes, _checkerboard, _blobs, _shapes, _landscape, _texture, _rings)
