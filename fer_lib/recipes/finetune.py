"""Fine-tuning a ViT classifier from scratch or from an MAE encoder, with model selection on val.

Recipe (MAE FINETUNE.md, scaled by the profile): AdamW, layer-wise lr decay for pre-trained encoders,
drop path, label smoothing, warm-up + cosine. The epoch with the best validation accuracy is kept
(best.pt); the test split is evaluated once, with that model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform, train_transform
from fer_lib.engine.devices import resolve_device
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.eval.metrics import ClassificationReport, classification_report
from fer_lib.eval.predict import predict_logits
from fer_lib.methods.supervised import SupervisedCE
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.models.vit import build_vit_classifier, load_encoder_weights
from fer_lib.paths import run_folder
from fer_lib.recipes.pretrain import ensure_pretrained
from fer_lib.recipes.run_record import FINETUNE_FIELDS, claim_run_dir

MAE_DOMAINS = ("face", "general")


def finetune_settings(cfg: RunConfig, pretrained: bool) -> TrainSettings:
    """Layer-wise lr decay only for a pre-trained encoder (a random one has nothing to preserve)."""
    return TrainSettings(
        epochs=cfg.finetune_epochs, batch_size=cfg.finetune_batch_size, base_lr=cfg.finetune_base_lr,
        weight_decay=cfg.finetune_weight_decay, warmup_epochs=cfg.finetune_warmup_epochs, min_lr=cfg.min_lr,
        layer_decay=cfg.layer_decay if pretrained else None, clip_grad_norm=cfg.clip_grad_norm,
        ema_decay=cfg.ema_decay, micro_batch_size=cfg.micro_batch_size, amp=cfg.amp, device=cfg.device,
        num_workers=cfg.num_workers, seed=cfg.seed, checkpoint_every_steps=cfg.checkpoint_every_steps,
        select_metric="val_acc")


def resolve_init(cfg: RunConfig, init: str) -> Path | None:
    """'scratch' -> None; 'face' / 'general' -> this profile's (and run tag's) MAE, pre-trained first if missing;
    else a checkpoint path."""
    if init == "scratch":
        return None
    if init in MAE_DOMAINS:
        return ensure_pretrained(cfg, init)
    return Path(init)


@dataclass
class FinetuneResult:
    init: str
    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    val: ClassificationReport
    test: ClassificationReport

    def summary(self) -> str:
        return (f"init={self.init}: best epoch {self.best_epoch}, val acc {self.val.accuracy:.4f}, "
                f"test acc {self.test.accuracy:.4f}, test balanced acc {self.test.balanced_accuracy:.4f}, "
                f"test macro F1 {self.test.macro_f1:.4f}")


def finetune_and_evaluate(cfg: RunConfig, init: str = "scratch", splits: DatasetSplits | None = None) -> FinetuneResult:
    """Fine-tune from `init`, keep the best-val epoch, report val and test metrics."""
    splits = splits if splits is not None else load_splits(cfg)
    device = resolve_device(cfg.device)
    train = splits.train.with_transform(train_transform(cfg.image_size, cfg.channels, (cfg.finetune_crop_min, 1.0)))
    val = splits.val.with_transform(eval_transform(cfg.image_size, cfg.channels))
    test = splits.test.with_transform(eval_transform(cfg.image_size, cfg.channels))
    model = build_vit_classifier(cfg, num_classes=splits.train.num_classes, global_pool=cfg.global_pool)
    source = resolve_init(cfg, init)
    if source is not None:
        load_encoder_weights(model, source)

    def evaluate(candidate: nn.Module) -> dict[str, float]:
        logits, labels = predict_logits(candidate, val, device)
        return {"val_acc": float((logits.argmax(1) == labels).float().mean())}

    from_path = source is not None and init not in MAE_DOMAINS
    run_dir = run_folder(cfg.profile, f"finetune_{Path(init).stem if from_path else init}", cfg.run_tag)
    claim_run_dir(run_dir, cfg, FINETUNE_FIELDS, init=str(source) if from_path else init)
    result = fit(model, SupervisedCE(cfg.label_smoothing), train, finetune_settings(cfg, source is not None),
                 run_dir, evaluate=evaluate)
    best = read_checkpoint(run_dir / "best.pt")
    model = result.model
    model.load_state_dict(best["model"])
    reports = {}
    for name, dataset in (("val", val), ("test", test)):
        logits, labels = predict_logits(model, dataset, device)
        reports[name] = classification_report(logits, labels, splits.train.class_names)
    return FinetuneResult(init, model, result.history, int(best["best"]["epoch"]), reports["val"], reports["test"])
