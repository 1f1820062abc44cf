"""Fine-tuning a ViT classifier from scratch or from a pre-trained encoder, with model selection on val.

Recipe (MAE FINETUNE.md, scaled by the profile): AdamW, layer-wise lr decay for pre-trained encoders,
drop path, label smoothing, warm-up + cosine, optional Mixup / CutMix. The epoch with the best validation
accuracy is kept (best.pt); the test split is evaluated once, with that model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits, FaceDataset
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform, train_transform
from fer_lib.engine.devices import resolve_device
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.eval.metrics import ClassificationReport, classification_report
from fer_lib.eval.predict import predict_logits
from fer_lib.methods.base import Method
from fer_lib.methods.mixing import MixBatch
from fer_lib.methods.supervised import SupervisedCE
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.models.vit import load_encoder_weights
from fer_lib.recipes.build import classifier_model
from fer_lib.runs import open_run


def finetune_settings(cfg: RunConfig, pretrained: bool) -> TrainSettings:
    """Layer-wise lr decay only for a pre-trained encoder (a random one has nothing to preserve)."""
    schedule = cfg.finetune
    return TrainSettings.with_engine(
        cfg.engine, epochs=schedule.epochs, batch_size=schedule.batch_size, base_lr=schedule.base_lr,
        weight_decay=schedule.weight_decay, warmup_epochs=schedule.warmup_epochs, min_lr=schedule.min_lr,
        layer_decay=schedule.layer_decay if pretrained else None, ema_decay=schedule.ema_decay, seed=cfg.seed,
        select_metric="val_acc")


def init_identity(init: Path | None) -> dict[str, Any] | None:
    """A checkpoint is known by its content (SHA-256), wherever it lies; None is a random initialisation."""
    if init is None:
        return None
    digest = hashlib.sha256()
    with open(init, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest()}


def default_method(cfg: RunConfig) -> SupervisedCE:
    """Cross-entropy with the run's supervised settings."""
    return SupervisedCE(cfg.supervised.label_smoothing, cfg.supervised.soft_labels)


@dataclass
class FinetuneResult:
    label: str
    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    val: ClassificationReport
    test: ClassificationReport
    run_dir: Path

    def summary(self) -> str:
        return (f"{self.label}: best epoch {self.best_epoch}, val acc {self.val.accuracy:.4f}, "
                f"test acc {self.test.accuracy:.4f}, test balanced acc {self.test.balanced_accuracy:.4f}, "
                f"test macro F1 {self.test.macro_f1:.4f}")


def finetune_and_evaluate(cfg: RunConfig, init: Path | str | None = None, splits: DatasetSplits | None = None,
                          method: Method | None = None, label: str | None = None) -> FinetuneResult:
    """Fine-tune from `init` (None = random weights, else a checkpoint path: ours, a zoo entry or an official
    MAE) with `method` (default: cross-entropy), keep the best-val epoch, report val and test metrics.
    `label` names the run (default: "scratch" or the checkpoint's file name)."""
    init = None if init is None else Path(init)
    label = label or ("scratch" if init is None else init.stem)
    method = method if method is not None else default_method(cfg)
    identity = {"recipe": "finetune", "init": init_identity(init), "data": cfg.data, "arch": cfg.arch,
                "finetune": cfg.finetune, "method": method.settings(), "mixing": cfg.mixing, "seed": cfg.seed,
                "amp": cfg.engine.amp, "clip_grad_norm": cfg.engine.clip_grad_norm}
    run_dir = open_run(cfg.profile, cfg.seed, "finetune", label, identity)   # seeds before the model is built
    splits = splits if splits is not None else load_splits(cfg.data)
    size, channels = cfg.data.image_size, cfg.data.channels
    train = splits.train.with_transform(train_transform(size, channels, (cfg.finetune.crop_min, 1.0)))
    val = splits.val.with_transform(eval_transform(size, channels))
    test = splits.test.with_transform(eval_transform(size, channels))
    device = resolve_device(cfg.engine.device)
    model = classifier_model(cfg, splits.train.num_classes)
    if init is not None:
        load_encoder_weights(model, init)

    def evaluate(candidate: nn.Module) -> dict[str, float]:
        return {"val_acc": val_accuracy(candidate, val, device)}

    mixing = (MixBatch(cfg.mixing, splits.train.num_classes, cfg.supervised.label_smoothing)
              if cfg.mixing.enabled else None)
    result = fit(model, method, train, finetune_settings(cfg, init is not None), run_dir, evaluate=evaluate,
                 batch_transform=mixing)
    model = result.model
    best_epoch, val_report, test_report = best_reports(model, run_dir, val, test, device, splits.train.class_names)
    return FinetuneResult(label, model, result.history, best_epoch, val_report, test_report, run_dir)


def val_accuracy(model: nn.Module, val: FaceDataset, device: torch.device) -> float:
    """Accuracy of `model` on the (eval-transformed) validation split: the metric that picks best.pt."""
    logits, labels = predict_logits(model, val, device)
    return float((logits.argmax(1) == labels).float().mean())


def best_reports(model: nn.Module, run_dir: Path, val: FaceDataset, test: FaceDataset, device: torch.device,
                 class_names: tuple[str, ...]) -> tuple[int, ClassificationReport, ClassificationReport]:
    """Load <run_dir>/best.pt (the epoch chosen on val) into `model`; its epoch and its val and test reports."""
    best = read_checkpoint(run_dir / "best.pt")
    model.load_state_dict(best["model"])
    val_report, test_report = (classification_report(*predict_logits(model, dataset, device), class_names)
                               for dataset in (val, test))
    return int(best["best"]["epoch"]), val_report, test_report
