"""`load_splits(cfg)`: the one entry point notebooks use to get data, whatever `cfg.dataset` names."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_lib.data.base import UNLABELED, DatasetSplits, FaceDataset

if TYPE_CHECKING:
    from fer_lib.config import RunConfig

REAL_DATASETS = ("fer2013", "ferplus", "rafdb", "affectnet", "affectnet8", "ckplus", "jaffe", "imagefolder")


def load_splits(cfg: "RunConfig") -> DatasetSplits:
    """Labeled train / val / test splits of `cfg.dataset` at `cfg.image_size` (no transforms attached)."""
    if cfg.dataset == "synthfer":
        from fer_lib.data.synthfer import load_synthfer_splits
        return load_synthfer_splits(cfg)
    if cfg.dataset in REAL_DATASETS:
        from fer_lib.data.real import load_real_splits
        return load_real_splits(cfg.dataset, cfg.data_root, image_size=cfg.image_size,
                                **parse_data_options(cfg.data_options))
    raise ValueError(f"unknown dataset {cfg.dataset!r}; choose synthfer or one of {REAL_DATASETS}")


def parse_data_options(text: str) -> dict[str, Any]:
    """'label_mode=probability,val_fraction=0.2' -> {'label_mode': 'probability', 'val_fraction': 0.2}.

    Values are Python literals where they parse as one (numbers, True / False), else strings. Which options a
    dataset takes is checked by its loader, whose error lists them (data_scripts/README.md documents them).
    """
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key.isidentifier():
            raise ValueError(f"data_options item {item!r} is not key=value (in {text!r})")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def load_pretrain_corpus(cfg: "RunConfig", domain: str) -> FaceDataset:
    """Unlabeled images for MAE pre-training: domain 'face' (SSFER story) or 'general' (MIMIC story).

    `face_corpus_root` / `general_corpus_root`, when set, name an image folder tree read unlabeled.
    Otherwise the face corpus is SynthFER's unlabeled faces (or, for a real dataset, its training
    images with labels dropped) and the general corpus is the procedural scene corpus.
    """
    if domain not in ("face", "general"):
        raise ValueError(f"domain must be 'face' or 'general', got {domain!r}")
    root = cfg.face_corpus_root if domain == "face" else cfg.general_corpus_root
    if root:
        from fer_lib.data.real import load_unlabeled_folder
        return load_unlabeled_folder(root, image_size=cfg.image_size)
    from fer_lib.data.synthfer import load_general_images, load_unlabeled_faces
    if domain == "general":
        return load_general_images(cfg)
    if cfg.dataset == "synthfer":
        return load_unlabeled_faces(cfg)
    train = load_splits(cfg).train
    return FaceDataset(train.images, np.full(len(train), UNLABELED), train.class_names,
                       face_boxes=train.face_boxes, name=f"{train.name}-unlabeled")
