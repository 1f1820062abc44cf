"""MAE pre-training of a ViT on the face or general corpus (stage 1 of MIMIC and SSFER).

Recipe (MAE PRETRAIN.md): AdamW with betas (0.9, 0.95), weight decay 0.05 except norms, biases and
tokens, lr = base_lr * batch / 256, linear warm-up then cosine to 0, RandomResizedCrop(0.2-1) + flip.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_lib.config import RunConfig
from fer_lib.data.base import FaceDataset
from fer_lib.data.registry import load_pretrain_corpus
from fer_lib.data.transforms import train_transform
from fer_lib.engine.checkpoint import save_atomic
from fer_lib.engine.train import FitResult, TrainSettings, fit
from fer_lib.methods.mae import MAE
from fer_lib.models.checkpoints import CheckpointError
from fer_lib.recipes.build import mae_model
from fer_lib.runs import open_run, run_path

DOMAINS = ("face", "general")


def pretrain_settings(cfg: RunConfig) -> TrainSettings:
    schedule = cfg.pretrain
    return TrainSettings.with_engine(
        cfg.engine, epochs=schedule.epochs, batch_size=schedule.batch_size, base_lr=schedule.base_lr,
        weight_decay=schedule.weight_decay, betas=(0.9, 0.95), warmup_epochs=schedule.warmup_epochs, min_lr=0.0,
        seed=cfg.seed)


def mae_identity(cfg: RunConfig, domain: str, corpus: FaceDataset | None = None) -> dict[str, Any]:
    """What decides a pre-trained MAE: the data (or a corpus given by hand), the architecture, the MAE settings,
    the schedule, the seed."""
    given = None if corpus is None else {"name": corpus.name, "images": len(corpus)}
    return {"recipe": "pretrain_mae", "domain": domain, "corpus": given, "data": cfg.data, "arch": cfg.arch, "mae": cfg.mae,
            "pretrain": cfg.pretrain, "seed": cfg.seed, "amp": cfg.engine.amp,
            "clip_grad_norm": cfg.engine.clip_grad_norm}


def mae_checkpoint(cfg: RunConfig, domain: str) -> Path:
    """This config's finished `domain` MAE (encoder + decoder, official `*_full.pth` key layout under 'model');
    CheckpointError naming the command that makes it when it has not been pre-trained yet."""
    path = run_path(cfg.profile, "mae", domain, mae_identity(cfg, domain)) / f"mae_{domain}.pt"
    if not path.is_file():
        raise CheckpointError(f"no {domain} MAE pre-trained with these settings ({path} is missing): run notebook "
                              f"02, `pretrain_mae(cfg, {domain!r})`, or `python -m fer_lib pretrain-mae --domain "
                              f"{domain} --profile {cfg.profile} ...` with the same settings")
    return path


@dataclass
class PretrainResult(FitResult):
    checkpoint: Path | None = None     # the finished MAE, ready as a fine-tuning `init`


def pretrain_mae(cfg: RunConfig, domain: str, corpus: FaceDataset | None = None) -> PretrainResult:
    """Pre-train an MAE on `corpus` (default: the config's `domain` corpus). A finished run with the same
    settings is loaded, not retrained; an interrupted one resumes. Saves <run>/mae_<domain>.pt."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    run_dir = open_run(cfg.profile, cfg.seed, "mae", domain, mae_identity(cfg, domain, corpus))
    corpus = corpus if corpus is not None else load_pretrain_corpus(cfg.data, domain)
    corpus = corpus.with_transform(train_transform(cfg.data.image_size, cfg.data.channels, scale=(0.2, 1.0)))
    result = fit(mae_model(cfg), MAE(cfg.mae.mask_ratio), corpus, pretrain_settings(cfg), run_dir)
    checkpoint = run_dir / f"mae_{domain}.pt"
    if not checkpoint.is_file():            # written once, so fine-tuning runs that hash it keep their identity
        save_atomic({"model": result.model.state_dict(), "config": cfg.to_dict(), "domain": domain}, checkpoint)
    return PretrainResult(result.model, result.ema_model, result.history, run_dir, checkpoint)
