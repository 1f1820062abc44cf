"""Frozen-encoder evaluation (CRS-CONT's protocol): a linear probe and a k-NN classifier on fixed features.

The encoder is the classifier ViT of fine-tuning with the weights of `init` and is never trained here:
None (random weights, the floor any pre-training must beat) or a checkpoint path (an MAE, a zoo entry).
Features are the pre-head features (pooled as `cfg.finetune.global_pool`, normalised) of the un-augmented
images. The probe's C is chosen on val; k-NN uses k = cfg.probe.knn_k; test is scored once.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits, FaceDataset
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform
from fer_lib.engine.devices import resolve_device
from fer_lib.eval.metrics import ClassificationReport, classification_report
from fer_lib.eval.predict import collect_outputs
from fer_lib.eval.probes import ProbeResult, knn_classify, linear_probe
from fer_lib.models.vit import load_encoder_weights, vit_features
from fer_lib.recipes.build import classifier_model

SPLITS = ("train", "val", "test")


@dataclass
class ProbeSummary:
    """Linear-probe and k-NN results of one frozen encoder, with the features they were computed from.

    features / labels: split name ('train', 'val', 'test') -> (N, D) float32 / (N,) int64, CPU tensors,
    in the split's order (so `splits.test.meta[...]` lines up with features['test']).
    """

    label: str
    linear: ProbeResult
    knn: ClassificationReport
    knn_k: int
    features: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]

    def summary(self) -> str:
        unconverged = (f"; the solver stopped before converging at C = {', '.join(f'{c:g}' for c in self.linear.unconverged_c)}"
                       if self.linear.unconverged_c else "")
        return (f"{self.label}: linear probe test acc {self.linear.test.accuracy:.4f} (C={self.linear.c:g} "
                f"chosen on val, val acc {self.linear.val_accuracy:.4f}{unconverged}), {self.knn_k}-NN test acc "
                f"{self.knn.accuracy:.4f}")


def frozen_features(cfg: RunConfig, init: Path | str | None, splits: DatasetSplits | Mapping[str, FaceDataset],
                    device: torch.device, num_classes: int | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Features (N, D) and labels (N,) of every split (or every named dataset) under the frozen encoder of `init`.

    The random encoder (init None) is drawn from `cfg.seed` without touching the global RNG, so it is the
    same encoder whenever it is probed.
    """
    datasets = {name: getattr(splits, name) for name in SPLITS} if isinstance(splits, DatasetSplits) else dict(splits)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        encoder = classifier_model(cfg, num_classes or next(iter(datasets.values())).num_classes)
    if init is not None:
        load_encoder_weights(encoder, Path(init))
    encoder = encoder.to(device)
    transform = eval_transform(cfg.data.image_size, cfg.data.channels)
    features, labels = {}, {}
    for name, dataset in datasets.items():
        features[name], labels[name] = collect_outputs(lambda images: vit_features(encoder, images),
                                                       dataset.with_transform(transform), device)
    return features, labels


def probe_encoder(cfg: RunConfig, init: Path | str | None = None, splits: DatasetSplits | None = None,
                  device: torch.device | None = None, label: str | None = None) -> ProbeSummary:
    """Linear probe (C on val) and cosine k-NN (k = cfg.probe.knn_k, train as the memory bank) of the frozen
    encoder of `init` (None = random weights); `label` names it (default: "scratch" or the file name)."""
    splits = splits if splits is not None else load_splits(cfg.data)
    device = device if device is not None else resolve_device(cfg.engine.device)
    label = label or ("scratch" if init is None else Path(init).stem)
    features, labels = frozen_features(cfg, init, splits, device)
    class_names = splits.train.class_names
    # One BLAS thread: on small matrices a multi-threaded OpenBLAS is ~30x slower when the cores are busy.
    with threadpool_limits(1, user_api="blas"):
        linear = linear_probe(features["train"], labels["train"], features["val"], labels["val"],
                              features["test"], labels["test"], class_names)
    knn_scores = knn_classify(features["train"], labels["train"], features["test"], cfg.probe.knn_k,
                              len(class_names))
    knn = classification_report(knn_scores, labels["test"], class_names)
    return ProbeSummary(label, linear, knn, cfg.probe.knn_k, features, labels)
