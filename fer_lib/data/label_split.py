"""Semi-supervised data: a few labeled faces per class and the rest of the training split as unlabeled faces.

SSFER draws `max(1, round(p * n_c))` labeled images of every class c (`registry.label_subset`); the rest of the
training split becomes the unlabeled stream. Its labels are hidden from the method (UNLABELED, and no vote
distribution) but kept in meta["true_label"] to measure pseudo-label accuracy; on noisy data the clean label
already there is kept. Another corpus of unlabeled faces can be appended (`append_unlabeled`).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from fer_lib.data.base import UNLABELED, DatasetError, FaceDataset
from fer_lib.data.registry import label_subset
from fer_lib.data.transforms import MatchChannels

TRUE_LABEL = "true_label"


def with_true_labels(dataset: FaceDataset) -> FaceDataset:
    """`dataset` with meta["true_label"] (N,) int64: the one it has (the clean class of noisy data), else its labels."""
    true_labels = dataset.meta.get(TRUE_LABEL, dataset.labels)
    return dataclasses.replace(dataset, meta={**dataset.meta, TRUE_LABEL: np.asarray(true_labels, dtype=np.int64)})


def labeled_unlabeled_split(train: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """(labeled, unlabeled) parts of a labeled training split: `label_subset(labels, fraction, seed)` keeps its
    labels, the rest gets labels UNLABELED and no soft labels. Both carry meta["true_label"] (N,)."""
    if (train.labels == UNLABELED).any():
        raise DatasetError(f"{train.name}: {int((train.labels == UNLABELED).sum())} images are already unlabeled; "
                           f"expected a fully labeled training split to draw the labeled part from")
    kept = label_subset(train.labels, fraction, seed)
    rest = np.setdiff1d(np.arange(len(train)), kept)
    train = with_true_labels(train)
    labeled = train.subset(kept, f"{train.name}-labeled-{fraction:g}")
    unlabeled = train.subset(rest, f"{train.name}-unlabeled-{fraction:g}")
    return labeled, dataclasses.replace(unlabeled, labels=np.full(len(rest), UNLABELED), soft_labels=None)


def append_unlabeled(unlabeled: FaceDataset, corpus: FaceDataset, chunk: int = 1024) -> FaceDataset:
    """`unlabeled` followed by every image of `corpus`, resized and channel-matched to `unlabeled`'s images.

    Only meta["true_label"] is kept (UNLABELED where `corpus` has none); face boxes, landmarks and other
    per-image metadata of either part are dropped, since they no longer describe every image.
    """
    if TRUE_LABEL not in unlabeled.meta:
        raise DatasetError(f"{unlabeled.name} has no meta['true_label']; expected the unlabeled part of "
                           f"labeled_unlabeled_split")
    size, channels = unlabeled.image_size, unlabeled.channels
    match = MatchChannels(channels)
    resized = [match(TF.resize(torch.from_numpy(np.array(corpus.images[start:start + chunk])).permute(0, 3, 1, 2),
                               [size, size], antialias=True)).permute(0, 2, 3, 1).numpy()
               for start in range(0, len(corpus), chunk)]
    corpus_truth = corpus.meta.get(TRUE_LABEL, np.full(len(corpus), UNLABELED))
    return FaceDataset(
        images=np.concatenate([np.asarray(unlabeled.images), *resized]),
        labels=np.full(len(unlabeled) + len(corpus), UNLABELED), class_names=unlabeled.class_names,
        meta={TRUE_LABEL: np.concatenate([unlabeled.meta[TRUE_LABEL], corpus_truth]).astype(np.int64)},
        transform=unlabeled.transform, name=f"{unlabeled.name}+{corpus.name}")
