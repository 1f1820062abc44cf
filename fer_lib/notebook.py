"""What every notebook's first and last code cells call: build the config, seed, pick the device, record."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fer_lib.config import RunConfig, make_config
from fer_lib.engine.devices import apply_threads, resolve_device
from fer_lib.engine.seeding import seed_everything
from fer_lib.paths import runs_dir
from fer_lib.report import record_metrics

if TYPE_CHECKING:
    import matplotlib.figure


def start(notebook: str, namespace: Mapping[str, Any]) -> tuple[RunConfig, torch.device, Path]:
    """The run's config, seeded; returns (cfg, device, run_dir). A notebook calls `start(name, globals())`.

    `namespace["profile"]` picks the profile and every other name of `namespace` that is a RunConfig field
    overrides it (None keeps the profile's value): the parameters cell and whatever papermill injects with
    `-p field value`, so every field is a parameter. run_dir is runs/<profile>/ : notebooks share it, so one
    notebook finds what an earlier one saved.
    """
    fields = {field.name for field in dataclasses.fields(RunConfig)} - {"profile"}
    cfg = make_config(namespace.get("profile", "quick"), **{k: v for k, v in namespace.items() if k in fields})
    apply_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    run_dir = runs_dir() / cfg.profile
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"{notebook}: profile={cfg.profile} dataset={cfg.dataset} image_size={cfg.image_size} "
          f"device={device} torch_threads={torch.get_num_threads()} run_dir={run_dir}")
    return cfg, device, run_dir


def finish(run_dir: Path, notebook: str, metrics: dict[str, Any]) -> None:
    """Record the measured metrics for the report and print them as a small table."""
    record_metrics(run_dir, notebook, metrics)
    width = max(map(len, metrics), default=0)
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")


def save_figure(figure: "matplotlib.figure.Figure", run_dir: Path, notebook: str, name: str) -> Path:
    """Save a key figure as runs/<profile>/figures/<notebook>__<name>.png; the run report embeds it."""
    path = Path(run_dir) / "figures" / f"{notebook}__{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path
