"""`load_splits(data)`: the one entry point notebooks and recipes use to get data, whatever `data.dataset` names."""
from __future__ import annotations

import numpy as np

from fer_lib.data.base import UNLABELED, DatasetSplits, FaceDataset
from fer_lib.data.spec import DataSpec

REAL_DATASETS = ("fer2013", "ferplus", "rafdb", "affectnet", "affectnet8", "ckplus", "jaffe", "imagefolder")


def load_splits(data: DataSpec) -> DatasetSplits:
    """Labeled train / val / test splits of `data.dataset` at `data.image_size` (no transforms attached); with
    `data.label_fraction` < 1 the training split keeps only that share of each class (`label_subset`); then the
    training split gets `data.noise_kind` noise (data.noise; seeded by `data.data_seed`)."""
    if data.dataset == "synthfer":
        from fer_lib.data.synthfer import load_synthfer_splits
        splits = load_synthfer_splits(data)
    elif data.dataset in REAL_DATASETS:
        from fer_lib.data.real import load_real_splits
        splits = load_real_splits(data.dataset, data.data_root, image_size=data.image_size, **data.data_options)
    else:
        raise ValueError(f"unknown dataset {data.dataset!r}; choose synthfer or one of {REAL_DATASETS}")
    if data.label_fraction < 1.0:
        kept = label_subset(splits.train.labels, data.label_fraction, data.data_seed)
        splits = DatasetSplits(splits.train.subset(kept, f"{splits.train.name}-{data.label_fraction:g}"),
                               splits.val, splits.test)
    if data.noise_kind != "none":
        from fer_lib.data.noise import noisy_training_split
        splits = DatasetSplits(noisy_training_split(splits.train, data.noise_kind, data.noise_rate, data.data_seed),
                               splits.val, splits.test)
    return splits


def label_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of max(1, round(fraction * n_c)) images of every class c, drawn with `seed` (SSFER's rule:
    every class keeps at least one labeled image)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"label_fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    kept = [rng.choice(np.flatnonzero(labels == c), max(1, round(fraction * np.sum(labels == c))), replace=False)
            for c in np.unique(labels[labels != UNLABELED])]
    return np.sort(np.concatenate(kept))


def load_pretrain_corpus(data: DataSpec, domain: str) -> FaceDataset:
    """Unlabeled images for MAE pre-training: domain 'face' (SSFER story) or 'general' (MIMIC story).

    `face_corpus_root` / `general_corpus_root`, when set, name an image folder tree read unlabeled.
    Otherwise the face corpus is SynthFER's unlabeled faces (or, for a real dataset, its training
    images with labels dropped) and the general corpus is the procedural scene corpus.
    """
    if domain not in ("face", "general"):
        raise ValueError(f"domain must be 'face' or 'general', got {domain!r}")
    root = data.face_corpus_root if domain == "face" else data.general_corpus_root
    if root:
        from fer_lib.data.real import load_unlabeled_folder
        return load_unlabeled_folder(root, image_size=data.image_size)
    from fer_lib.data.synthfer import load_general_images, load_unlabeled_faces
    if domain == "general":
        return load_general_images(data)
    if data.dataset == "synthfer":
        return load_unlabeled_faces(data)
    train = load_splits(data).train
    return FaceDataset(train.images, np.full(len(train), UNLABELED), train.class_names,
                       face_boxes=train.face_boxes, name=f"{train.name}-unlabeled")
