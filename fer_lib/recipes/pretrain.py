"""MAE pre-training of a ViT on the face or general corpus (stage 1 of MIMIC and SSFER).

Recipe (MAE PRETRAIN.md): AdamW with betas (0.9, 0.95), weight decay 0.05 except norms, biases and
tokens, lr = base_lr * batch / 256, linear warm-up then cosine to 0, RandomResizedCrop(0.2-1) + flip.
"""
from __future__ import annotations

from pathlib import Path

from fer_lib.config import RunConfig
from fer_lib.data.base import FaceDataset
from fer_lib.data.registry import load_pretrain_corpus
from fer_lib.data.transforms import train_transform
from fer_lib.engine.checkpoint import save_atomic
from fer_lib.engine.train import FitResult, TrainSettings, fit
from fer_lib.methods.mae import MAEObjective
from fer_lib.models.mae import build_mae
from fer_lib.paths import run_folder
from fer_lib.recipes.run_record import MAE_FIELDS, claim_run_dir


def pretrain_settings(cfg: RunConfig) -> TrainSettings:
    return TrainSettings(
        epochs=cfg.pretrain_epochs, batch_size=cfg.pretrain_batch_size, base_lr=cfg.pretrain_base_lr,
        weight_decay=cfg.pretrain_weight_decay, betas=(0.9, 0.95), warmup_epochs=cfg.pretrain_warmup_epochs,
        min_lr=0.0, micro_batch_size=cfg.micro_batch_size, amp=cfg.amp, device=cfg.device,
        num_workers=cfg.num_workers, seed=cfg.seed, checkpoint_every_steps=cfg.checkpoint_every_steps)


def mae_run_dir(cfg: RunConfig, domain: str) -> Path:
    """runs/<profile>/mae_<domain>[_<run_tag>]: where a pre-training run keeps its checkpoints."""
    return run_folder(cfg.profile, f"mae_{domain}", cfg.run_tag)


def mae_checkpoint_path(cfg: RunConfig, domain: str) -> Path:
    """The finished MAE (encoder + decoder, official `*_full.pth` key layout under 'model')."""
    return mae_run_dir(cfg, domain) / "mae.pt"


def pretrain_mae(cfg: RunConfig, domain: str, corpus: FaceDataset | None = None) -> FitResult:
    """Pre-train an MAE on `corpus` (default: the config's `domain` corpus); resumable; saves mae.pt."""
    corpus = corpus if corpus is not None else load_pretrain_corpus(cfg, domain)
    corpus = corpus.with_transform(train_transform(cfg.image_size, cfg.channels, scale=(0.2, 1.0)))
    run_dir = mae_run_dir(cfg, domain)
    claim_run_dir(run_dir, cfg, MAE_FIELDS, domain=domain)
    result = fit(build_mae(cfg), MAEObjective(cfg.mask_ratio), corpus, pretrain_settings(cfg), run_dir)
    save_atomic({"model": result.model.state_dict(), "config": cfg.to_dict(), "domain": domain},
                mae_checkpoint_path(cfg, domain))
    return result


def ensure_pretrained(cfg: RunConfig, domain: str) -> Path:
    """The MAE checkpoint of this profile and domain, pre-training one first when none exists; an existing one
    made with other data or another model is refused (CheckpointError naming the differences)."""
    path = mae_checkpoint_path(cfg, domain)
    if path.is_file():
        claim_run_dir(path.parent, cfg, MAE_FIELDS, domain=domain)
    else:
        print(f"no MAE checkpoint at {path}: pre-training one now ({cfg.pretrain_epochs} epochs)")
        pretrain_mae(cfg, domain)
    return path
