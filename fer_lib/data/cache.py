"""On-disk dataset cache: uint8 images as one .npy (memory-mapped on load) plus labels and metadata.

Layout of a cache folder:
    images.npy      uint8 (N, H, W, C)
    arrays.npz      labels, optional soft_labels / face_boxes, meta_<name> arrays
    manifest.json   format version, name, class_names, counts; written last
A cache is written into a temporary sibling folder and renamed into place, so an interrupted write never
leaves a folder that later loads as valid.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from fer_lib.data.base import DatasetError, FaceDataset

CACHE_VERSION = 1


def cache_exists(folder: Path) -> bool:
    """True when `folder` holds a complete cache (its manifest is written last)."""
    return (Path(folder) / "manifest.json").is_file()


def save_cache(folder: Path, dataset: FaceDataset, extra: dict[str, Any] | None = None) -> Path:
    """Write `dataset` (without its transform) to `folder` atomically; `extra` goes into the manifest.

    A complete cache already at `folder` is kept (delete it first to rebuild).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        np.save(tmp / "images.npy", np.ascontiguousarray(dataset.images))
        arrays = {"labels": dataset.labels, **{f"meta_{k}": v for k, v in dataset.meta.items()}}
        if dataset.soft_labels is not None:
            arrays["soft_labels"] = dataset.soft_labels
        if dataset.face_boxes is not None:
            arrays["face_boxes"] = dataset.face_boxes
        np.savez(tmp / "arrays.npz", **arrays)
        manifest = {"version": CACHE_VERSION, "name": dataset.name, "class_names": list(dataset.class_names),
                    "num_images": len(dataset), "image_shape": list(dataset.images.shape[1:]),
                    "extra": extra or {}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if folder.exists() and not cache_exists(folder):
            shutil.rmtree(folder)  # leftovers of a foreign or broken write
        try:
            os.replace(tmp, folder)
        except OSError:
            if not cache_exists(folder):
                raise
            # another process finished the same cache first: keep its copy
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_cache(folder: Path, mmap: bool = True) -> FaceDataset:
    """Load a cache written by `save_cache`; images are memory-mapped read-only unless `mmap` is False."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise DatasetError(f"{folder}: not a dataset cache (no manifest.json; an interrupted conversion "
                           f"leaves none). Re-run the conversion.")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("version") != CACHE_VERSION:
        raise DatasetError(f"{manifest_path}: cache version {manifest.get('version')}, expected {CACHE_VERSION}")
    try:
        images = np.load(folder / "images.npy", mmap_mode="r" if mmap else None)
        with np.load(folder / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as error:
        raise DatasetError(f"{folder}: cache files unreadable ({error}); delete the folder and convert again")
    if list(images.shape[1:]) != manifest["image_shape"] or len(images) != manifest["num_images"]:
        raise DatasetError(f"{folder / 'images.npy'}: shape {images.shape} does not match manifest "
                           f"({manifest['num_images']}, *{manifest['image_shape']})")
    meta = {k[len("meta_"):]: v for k, v in arrays.items() if k.startswith("meta_")}
    return FaceDataset(images=images, labels=arrays["labels"], class_names=tuple(manifest["class_names"]),
                       soft_labels=arrays.get("soft_labels"), face_boxes=arrays.get("face_boxes"),
                       meta=meta, name=manifest["name"])


def read_manifest_extra(folder: Path) -> dict[str, Any]:
    """The `extra` dict stored with a cache (conversion report: skipped files, detector counts...)."""
    return json.loads((Path(folder) / "manifest.json").read_text())["extra"]
