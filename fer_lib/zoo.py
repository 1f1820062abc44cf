"""The checkpoint zoo: models trained far longer than a class can wait, kept in the repository.

An entry is of one kind: an MAE (`pretrain-mae`; encoder and decoder, official key layout) or a fine-tuned
expression classifier (`finetune`, its best epoch on validation). zoo/<name>.pt holds {"model": the state dict in
float16}; zoo/manifest.json records, for each entry, its kind, the command that made it (`python -m fer_lib
<argv>`), the flat settings of that run (the model is `mae_model(make_config(**settings))`, or `classifier_model`
with the entry's class names), the git commit, the training time and device, and the file's SHA-256, which every
load checks. `make zoo` (`python -m fer_lib zoo build`) runs each recipe's command, which trains or finds its
finished run, and writes the file and its manifest entry. Notebooks start from `zoo_for(cfg, domain)` when an
entry fits their encoder, else train live.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_lib.cli import _config, _init, build_parser, main
from fer_lib.config import RunConfig, make_config
from fer_lib.data.registry import load_pretrain_corpus, load_splits
from fer_lib.engine.checkpoint import save_atomic
from fer_lib.engine.devices import resolve_device
from fer_lib.models.checkpoints import CheckpointError, read_checkpoint
from fer_lib.models.mae import MaskedAutoencoderViT
from fer_lib.paths import REPO_ROOT
from fer_lib.recipes.build import classifier_model, mae_model
from fer_lib.recipes.finetune import finetune_and_evaluate, init_identity
from fer_lib.recipes.pretrain import mae_checkpoint
from fer_lib.report import write_json_atomic

MANIFEST = "manifest.json"
# What an entry must share with a run to serve it: the encoder's shape, and the dataset its corpus came from.
FIT_SETTINGS = ("arch", "mae_decoder", "image_size", "channels", "dataset")


class ZooError(CheckpointError):
    """A zoo entry that is unknown, missing or not the file its manifest describes."""


@dataclass(frozen=True)
class ZooRecipe:
    """One zoo entry to build: its name, a line saying what it is, and its command after `python -m fer_lib`."""

    name: str
    description: str
    argv: tuple[str, ...]


ZOO_RECIPES = {recipe.name: recipe for recipe in (
    ZooRecipe("mae-face-quick", "MAE of the classroom ViT on SynthFER's unlabeled faces (SSFER), 100 epochs",
              ("pretrain-mae", "--profile", "quick", "--domain", "face", "--pretrain-epochs", "100")),
    ZooRecipe("mae-general-quick", "MAE of the classroom ViT on procedural general images (MIMIC), 100 epochs",
              ("pretrain-mae", "--profile", "quick", "--domain", "general", "--pretrain-epochs", "100")),
    ZooRecipe("classifier-face-quick", "expression classifier of the classroom ViT on SynthFER, fine-tuned from the "
              "zoo's face MAE for 30 epochs with crops down to half the area (notebook 03's recipe, longer)",
              ("finetune", "--profile", "quick", "--init", "zoo/mae-face-quick.pt", "--finetune-epochs", "30",
               "--finetune-crop-min", "0.5")),
)}


def zoo_dir() -> Path:
    """The zoo's folder: $FER_SSL_ZOO or <repo>/zoo."""
    return Path(os.environ.get("FER_SSL_ZOO", REPO_ROOT / "zoo"))


def read_manifest() -> dict[str, dict[str, Any]]:
    """{entry name: entry} of zoo/manifest.json; empty when there is no manifest."""
    path = zoo_dir() / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def build_entry(recipe: str | ZooRecipe) -> dict[str, Any]:
    """Run the recipe's command in-process (it trains, or finds its finished run at once), store its model in
    float16 as zoo/<name>.pt and record the entry in the manifest; returns the entry."""
    recipe = ZOO_RECIPES[recipe] if recipe in ZOO_RECIPES else recipe
    if not isinstance(recipe, ZooRecipe):
        raise ZooError(f"no zoo recipe named {recipe!r}; the recipes are {sorted(ZOO_RECIPES)}")
    args = build_parser().parse_args(list(recipe.argv))
    if args.command not in ("pretrain-mae", "finetune") or getattr(args, "method", "ce") != "ce":
        raise ZooError(f"zoo recipe {recipe.name!r} must run `pretrain-mae` or `finetune` (cross-entropy), "
                       f"not {shlex.join(recipe.argv)!r}")
    cfg = _config(args)
    source, recorded, images_per_epoch = (_pretrained(recipe, args, cfg) if args.command == "pretrain-mae"
                                          else _finetuned(args, cfg))
    history = json.loads((source.parent / "history.json").read_text())
    weights = {key: value.half() for key, value in read_checkpoint(source)["model"].items()}
    if not all(value.isfinite().all() for value in weights.values()):
        raise ZooError(f"{source} has weights beyond the float16 range; it cannot be stored in the zoo")
    path = save_atomic({"model": weights}, zoo_dir() / f"{recipe.name}.pt")
    entry = {"description": recipe.description, "argv": list(recipe.argv), **recorded,
             "settings": cfg.flat(), "git_commit": _git_commit(), "run": source.parent.name,
             "training_seconds": round(sum(record["epoch_seconds"] for record in history), 1),
             "final_train_loss": history[-1]["train_loss"], "device": _device_name(cfg),
             "torch_version": torch.__version__, "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
             "images_seen": len(history) * images_per_epoch,
             "sha256": init_identity(path)["sha256"], "size_bytes": path.stat().st_size}
    write_json_atomic(zoo_dir() / MANIFEST, {**read_manifest(), recipe.name: entry})
    return entry


def _pretrained(recipe: ZooRecipe, args: argparse.Namespace, cfg: RunConfig) -> tuple[Path, dict[str, Any], int]:
    """`pretrain-mae`, run as its command: the finished MAE, what its entry records, the images of an epoch."""
    if main(list(recipe.argv)) != 0:
        raise ZooError(f"`python -m fer_lib {shlex.join(recipe.argv)}` failed")
    return (mae_checkpoint(cfg, args.domain), {"kind": "mae", "domain": args.domain},
            len(load_pretrain_corpus(cfg.data, args.domain)))


def _finetuned(args: argparse.Namespace, cfg: RunConfig) -> tuple[Path, dict[str, Any], int]:
    """`finetune` with cross-entropy (what its command runs; an --init path counts from the repository root): the
    best epoch on validation, what its entry records (its validation and test accuracy, and as its domain that of
    the zoo MAE it started from: "scratch", or "other" for a checkpoint from outside the zoo), the images of an
    epoch."""
    init = _init(cfg, args.init)
    init = REPO_ROOT / init if init is not None and not init.is_absolute() else init
    init_sha256 = None if init is None else init_identity(init)["sha256"]
    domains = {entry["sha256"]: entry["domain"] for entry in read_manifest().values()}
    result = finetune_and_evaluate(cfg, init)
    return (result.run_dir / "best.pt",
            {"kind": "classifier", "domain": "scratch" if init is None else domains.get(init_sha256, "other"),
             "init_sha256": init_sha256, "class_names": list(result.val.class_names), "best_epoch": result.best_epoch,
             "val_accuracy": result.val.accuracy, "test_accuracy": result.test.accuracy},
            len(load_splits(cfg.data).train))


def zoo_checkpoint(name: str) -> Path:
    """zoo/<name>.pt after checking it is the file its manifest entry describes (SHA-256); ZooError otherwise."""
    entry = _entry(name)
    path = zoo_dir() / f"{name}.pt"
    regenerate = f"regenerate it with `make zoo` (python -m fer_lib zoo build {name})"
    if not path.is_file():
        raise ZooError(f"zoo checkpoint {path} is missing (expected sha256 {entry['sha256']}); {regenerate}")
    digest = init_identity(path)["sha256"]
    if digest != entry["sha256"]:
        raise ZooError(f"zoo checkpoint {path} has sha256 {digest}, but {zoo_dir() / MANIFEST} expects "
                       f"{entry['sha256']}; {regenerate}")
    return path


def zoo_config(name: str) -> RunConfig:
    """The run config of the command that made entry `name`."""
    return make_config(**_entry(name)["settings"])


def zoo_mae(name: str) -> MaskedAutoencoderViT:
    """The MAE of entry `name` (encoder and decoder, float32), its weights loaded strictly."""
    model = mae_model(zoo_config(name))
    model.load_state_dict(read_checkpoint(zoo_checkpoint(name))["model"], strict=True)  # casts into float32
    return model


def zoo_classifier(name: str) -> tuple[nn.Module, tuple[str, ...]]:
    """The fine-tuned classifier of entry `name` (float32, weights loaded strictly) and its class names."""
    entry = _entry(name)
    if entry.get("kind") != "classifier":
        raise ZooError(f"zoo entry {name!r} is an MAE, not a classifier")
    model = classifier_model(zoo_config(name), len(entry["class_names"]))
    model.load_state_dict(read_checkpoint(zoo_checkpoint(name))["model"], strict=True)
    return model, tuple(entry["class_names"])


def zoo_for(cfg: RunConfig, domain: str, kind: str = "mae") -> Path | None:
    """The verified checkpoint of the `kind` entry (an "mae", or a "classifier" fine-tuned from a `domain` MAE)
    of `domain` that fits `cfg` (same arch, decoder, image size, channels and dataset: a SynthFER MAE does not
    stand in for one pre-trained on real faces), or None (train live then)."""
    wanted = {key: cfg.flat()[key] for key in FIT_SETTINGS}
    for name, entry in read_manifest().items():
        fits = {key: entry["settings"][key] for key in FIT_SETTINGS} == wanted
        if entry.get("kind", "mae") == kind and entry["domain"] == domain and fits:
            return zoo_checkpoint(name)
    return None


def zoo_command(action: str, names: list[str]) -> int:
    """`python -m fer_lib zoo build|list [NAMES...]`: build the entries (default: every recipe), or print each
    entry (default: every one in the manifest) with its command, training time, device and whether its file
    verifies; returns 1 when one does not."""
    if action == "build":
        for name in names or list(ZOO_RECIPES):
            build_entry(name)
    names = names or list(read_manifest())
    if not names:
        print(f"the zoo in {zoo_dir()} is empty: `make zoo` builds it")
    problems = [_problem(name) for name in names]
    for name, problem in zip(names, problems):
        entry = _entry(name)
        print(f"{name}: {entry['description']}\n"
              f"  command: python -m fer_lib {shlex.join(entry['argv'])}\n"
              f"  trained {entry['training_seconds'] / 60:.1f} min on {entry['device']}, "
              f"torch {entry['torch_version']}, commit {entry['git_commit'][:10]}; "
              f"{entry['images_seen']:,} images seen, final loss {entry['final_train_loss']:.4f}"
              + (f", test accuracy {entry['test_accuracy']:.3f} (best epoch {entry['best_epoch']} on validation)"
                 if entry.get("kind") == "classifier" else "") + "\n"
              f"  {zoo_dir() / name}.pt: {entry['size_bytes'] / 1e6:.1f} MB, "
              + (f"NOT VERIFIED: {problem}" if problem else f"verified (sha256 {entry['sha256'][:16]}...)"))
    return 1 if any(problems) else 0


def _problem(name: str) -> str:
    """Why entry `name` does not verify, or "" when it does."""
    try:
        zoo_checkpoint(name)
    except ZooError as error:
        return str(error)
    return ""


def _entry(name: str) -> dict[str, Any]:
    manifest = read_manifest()
    if name not in manifest:
        raise ZooError(f"no zoo entry {name!r} in {zoo_dir() / MANIFEST} (entries: {sorted(manifest) or 'none'}); "
                       f"`make zoo` builds {sorted(ZOO_RECIPES)}")
    return manifest[name]


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _device_name(cfg: RunConfig) -> str:
    """The device the run's settings resolve to on this machine, with its model or core count."""
    device = resolve_device(cfg.engine.device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({len(os.sched_getaffinity(0))} cores)" if device.type == "cpu" else device.type
