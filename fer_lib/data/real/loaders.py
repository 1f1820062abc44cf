"""The one entry point to real datasets: convert once into the cache, then load memory-mapped splits.

`load_real_splits("rafdb", "/data/RAF-DB", image_size=112)` lists the dataset, decodes every image once
(progress bar) into cache_dir()/real/<name>-<image_size>-<hash>/<split> and returns the memory-mapped
splits; later calls with the same root and options only load the cache. A split whose cache is missing
(e.g. after an interrupted conversion) is converted again. Delete the folder (or pass force=True) after
changing the source files.
"""
from __future__ import annotations

import inspect
import logging
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from fer_lib.data.base import DatasetError, DatasetSplits, FaceDataset
from fer_lib.data.cache import cache_exists, load_cache
from fer_lib.data.real.affectnet import list_affectnet
from fer_lib.data.real.ckplus import list_ckplus
from fer_lib.data.real.common import SPLITS, SourceSplits
from fer_lib.data.real.convert import convert_split, real_cache_folder
from fer_lib.data.real.crops import face_crop_path
from fer_lib.data.real.fer2013 import list_fer2013
from fer_lib.data.real.ferplus import list_ferplus
from fer_lib.data.real.folders import list_class_folders, list_unlabeled
from fer_lib.data.real.rafdb import list_rafdb
from fer_lib.data.real.report import ConversionReport
from fer_lib.data.real.subjects import subject_check

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealDataset:
    """How to read one dataset: `list_samples(root, **options)` and the names of the splits it yields."""

    list_samples: Callable[..., SourceSplits]
    splits: tuple[str, ...] = SPLITS


DATASET_LOADERS: dict[str, RealDataset] = {
    "fer2013": RealDataset(list_fer2013),
    "ferplus": RealDataset(list_ferplus),
    "rafdb": RealDataset(list_rafdb),
    "affectnet": RealDataset(partial(list_affectnet, num_classes=7)),
    "affectnet8": RealDataset(partial(list_affectnet, num_classes=8)),
    "ckplus": RealDataset(list_ckplus),
    "jaffe": RealDataset(partial(list_class_folders, naming="jaffe")),
    "imagefolder": RealDataset(list_class_folders),
    "unlabeled": RealDataset(list_unlabeled, splits=("all",)),
}
# the datasets whose loader splits by subject and takes `folds` / `fold` (k-fold cross-validation over subjects)
CROSS_VALIDATION_DATASETS = ("ckplus", "jaffe", "imagefolder")


def prepare_real_dataset(name: str, root: str | Path, image_size: int = 48, *, margin: float = 0.2,
                         force: bool = False, **options: Any) -> ConversionReport:
    """Convert the splits of dataset `name` that are not cached yet (all of them with `force`); the report.

    margin:  face-crop margin (crop side = (1 + 2 margin) * face-box side) for detected / annotated faces
    options: keywords of the dataset's lister, e.g. detect_faces, val_fraction, seed, label_mode (FERPlus),
             subject_regex, subject_csv, folds, fold (folder sets; data_scripts/README.md lists each dataset's)
    """
    if name not in DATASET_LOADERS:
        raise ValueError(f"unknown real dataset {name!r}; choose one of {sorted(DATASET_LOADERS)}")
    if not str(root):
        raise DatasetError(f"no data root given for {name} (set data_root, or --data-root on the command line)")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    spec = DATASET_LOADERS[name]
    signature = inspect.signature(spec.list_samples)
    try:
        bound = signature.bind(root, **options)
    except TypeError as error:
        raise ValueError(f"{name}: {error}; its options are {list(signature.parameters)[1:]}") from None
    bound.apply_defaults()
    options = {key: value for key, value in bound.arguments.items() if key != "root"}
    resolved_root = Path(root).expanduser().resolve()
    folder = real_cache_folder(name, resolved_root, image_size, {**options, "margin": margin})
    todo = [split for split in spec.splits if force or not cache_exists(folder / split)]
    if todo:
        source = spec.list_samples(root, **options)
        crops = face_crop_path(source)
        header = ConversionReport(name, str(resolved_root), image_size, {**options, "margin": margin}, str(folder),
                                  source.notes, face_crops=crops.reason,
                                  subjects=subject_check(source.splits) if spec.splits == SPLITS else "")
        for split in todo:
            if force:
                shutil.rmtree(folder / split, ignore_errors=True)
            convert_split(source.splits[split], folder / split, split, header, source.class_names,
                          crops.detect, margin, Path(root).expanduser())
    report = ConversionReport.from_cache(folder, spec.splits)
    report.converted = todo
    if todo:
        logger.info("converted %s\n%s", ", ".join(todo), report.summary())
    return report


def load_real_splits(name: str, root: str | Path, image_size: int = 48, **options: Any) -> DatasetSplits:
    """Train / val / test of a real dataset, memory-mapped from the cache (converted on first use).

    name: fer2013, ferplus, rafdb, affectnet, affectnet8, ckplus, jaffe or imagefolder;
    options as for `prepare_real_dataset`. Layouts, label maps and split rules: data_scripts/README.md.
    """
    if name not in DATASET_LOADERS or DATASET_LOADERS[name].splits != SPLITS:
        raise ValueError(f"{name!r} is not a labeled dataset; choose one of "
                         f"{sorted(k for k, v in DATASET_LOADERS.items() if v.splits == SPLITS)}")
    folder = Path(prepare_real_dataset(name, root, image_size, **options).cache_folder)
    return DatasetSplits(*(load_cache(folder / split) for split in SPLITS))


def load_unlabeled_folder(root: str | Path, image_size: int = 48, **options: Any) -> FaceDataset:
    """Every image under `root` (any depth), labels UNLABELED, class_names EMOTIONS_7, cached like
    `load_real_splits`. Options: detect_faces (default False: centre crops, fit for general images), margin."""
    folder = Path(prepare_real_dataset("unlabeled", root, image_size, **options).cache_folder)
    return load_cache(folder / "all")
