"""Convert listed samples into the on-disk cache: decode, crop the face, resize, save with its report.

Images are written into a memory-mapped scratch file next to the cache (so a dataset larger than RAM
converts), then `save_cache` moves them into place atomically; an interrupted conversion leaves no cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fer_lib.data.base import UNLABELED, DatasetError, FaceDataset
from fer_lib.data.cache import save_cache
from fer_lib.data.faces import FALLBACKS, crop_face
from fer_lib.data.real.common import Sample, UnreadableImage, as_rgb, read_rgb
from fer_lib.data.real.report import ConversionReport, SplitReport
from fer_lib.paths import cache_dir
from fer_lib.progress import progress

logger = logging.getLogger(__name__)

CONVERTER_VERSION = 2  # part of the cache key: bump when conversion output changes


def real_cache_folder(name: str, resolved_root: Path, image_size: int, options: dict[str, Any]) -> Path:
    """cache_dir()/real/<name>-<image_size>-<hash of the resolved root, options and converter version>."""
    key = json.dumps({"root": str(resolved_root), "options": options, "version": CONVERTER_VERSION},
                     sort_keys=True)
    return cache_dir() / "real" / f"{name}-{image_size}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def sample_pixels(sample: Sample) -> np.ndarray:
    """uint8 (H, W, 3) RGB of a sample; UnreadableImage for a bad file."""
    return as_rgb(sample.source) if isinstance(sample.source, np.ndarray) else read_rgb(sample.source)


def file_name(sample: Sample, root: Path) -> str:
    """Where a sample comes from, relative to the dataset root: "anger/S010_004_00000017.png",
    "fer2013.csv line 12" (meta "file" of the stored image)."""
    prefix = str(root).rstrip(os.sep) + os.sep
    return sample.where.removeprefix(prefix).replace(os.sep, "/")


def _class_counts(labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, int]:
    if (labels == UNLABELED).all():
        return {"unlabeled": len(labels)}
    return {name: int((labels == index).sum()) for index, name in enumerate(class_names)}


def convert_split(samples: Sequence[Sample], folder: Path, split: str, header: ConversionReport,
                  class_names: tuple[str, ...], detect: bool, margin: float, root: Path) -> SplitReport:
    """Decode, crop and resize `samples` to header.image_size and save them as the cache `folder`.

    Each stored image keeps meta "file" (its source relative to `root`) and "face_outcome" (how its face was
    found: aligned, annotated, one_face, several_faces or no_face), beside the lister's meta.
    Unreadable images are skipped and listed; DatasetError when none of them can be read.
    """
    name = f"{header.dataset}-{split}"
    if not samples:
        raise DatasetError(f"{header.root}: {header.dataset} has no {split} images listed")
    size = header.image_size
    scratch = folder.with_name(f".{folder.name}.images-{uuid.uuid4().hex[:8]}.npy")
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        images = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint8,
                                           shape=(len(samples), size, size, 3))
        kept, boxes, outcomes, fallbacks, skipped = [], [], Counter(), [], []
        for sample in progress(samples, desc=f"converting {name}", unit="img"):
            try:
                pixels = sample_pixels(sample)
            except UnreadableImage as error:
                skipped.append(str(error))
                logger.info("skipped %s", error)
                continue
            crop = crop_face(pixels, size, sample.box, detect, margin)
            images[len(kept)] = crop.image
            kept.append(replace(sample, meta={**sample.meta, "file": file_name(sample, root),
                                              "face_outcome": crop.outcome}))
            boxes.append(crop.box)
            outcomes[crop.outcome] += 1
            if crop.outcome in FALLBACKS:
                fallbacks.append(f"{sample.where}: {FALLBACKS[crop.outcome]}")
        if not kept:
            raise DatasetError(f"{name}: none of the {len(samples)} images could be read, e.g. {skipped[0]}")
        for what, entries in (("unreadable images skipped", skipped), ("face-detector fallbacks", fallbacks)):
            if entries:
                logger.warning("%s: %d %s, e.g. %s", name, len(entries), what, entries[0])
        labels = np.array([s.label for s in kept], dtype=np.int64)
        dataset = FaceDataset(
            images=images[:len(kept)], labels=labels, class_names=class_names,
            soft_labels=None if kept[0].soft_label is None else np.stack([s.soft_label for s in kept]),
            face_boxes=np.stack(boxes).astype(np.float32),
            meta={key: np.stack([np.asarray(s.meta[key]) for s in kept]) for key in kept[0].meta}, name=name)
        people = len({s.meta["subject"] for s in kept}) if "subject" in kept[0].meta else None
        report = SplitReport(split, _class_counts(labels, class_names), dict(outcomes), fallbacks, skipped, people)
        save_cache(folder, dataset, extra=header.manifest_extra(report))
        return report
    finally:
        scratch.unlink(missing_ok=True)
