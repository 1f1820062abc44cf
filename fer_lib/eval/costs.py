"""What training cost, read from what a run recorded: the wall time of its training steps (validation excluded) and
the training samples it drew (steps x batch size: a contrastive sample holds two or more views, a semi-supervised
step also draws unlabeled faces), from the per-epoch history of `fer_lib.engine.train.fit` or a run folder."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainingCost:
    """Seconds of training, samples drawn and epochs; costs add up (a contrastive run on top of its MAE)."""

    seconds: float
    samples: int
    epochs: int

    def __add__(self, other: "TrainingCost") -> "TrainingCost":
        return TrainingCost(self.seconds + other.seconds, self.samples + other.samples, self.epochs + other.epochs)


NO_TRAINING = TrainingCost(0.0, 0, 0)


def history_cost(history: Sequence[Mapping[str, float]]) -> TrainingCost:
    """The cost of a fit history: the sum of epoch_seconds, and of epoch_seconds x images_per_second (the samples
    of each epoch)."""
    return TrainingCost(seconds=float(sum(record["epoch_seconds"] for record in history)),
                        samples=round(sum(record["epoch_seconds"] * record["images_per_second"] for record in history)),
                        epochs=len(history))


@dataclass(frozen=True)
class RunCost:
    """One training run found in a run root: its folder, kind, label, share of the training labels and seed, what
    it cost, and the best validation accuracy of its epochs (the number that chose its model)."""

    folder: str
    kind: str
    label: str
    label_fraction: float
    seed: int
    cost: TrainingCost
    best_val_accuracy: float


def run_costs(run_root: Path, kinds: Sequence[str] = ("finetune", "semi"), seed: int | None = None) -> list[RunCost]:
    """Every run folder of `kinds` under `run_root` (runs/<profile>) with a history (of `seed` only, when given),
    the most recently written one per (kind, label, label fraction, seed), sorted by label fraction and label."""
    latest: dict[tuple[str, str, float, int], tuple[float, RunCost]] = {}
    for history_path in run_root.glob("*/history.json"):
        folder = history_path.parent
        if not (folder / "run.json").is_file():
            continue
        record = json.loads((folder / "run.json").read_text())
        identity = record["identity"]
        if record["kind"] not in kinds or (seed is not None and identity.get("seed") != seed):
            continue
        history = json.loads(history_path.read_text())
        if not history:
            continue
        fraction = float(identity.get("fraction") or identity.get("data", {}).get("label_fraction", 1.0))
        validation = [entry["val_acc"] for entry in history if "val_acc" in entry]
        found = RunCost(folder.name, record["kind"], record["label"], fraction, int(identity.get("seed", 0)),
                        history_cost(history), max(validation) if validation else math.nan)
        group = (found.kind, found.label, fraction, found.seed)
        written = history_path.stat().st_mtime
        if group not in latest or written > latest[group][0]:
            latest[group] = (written, found)
    return sorted((found for _, found in latest.values()), key=lambda run: (run.label_fraction, run.label))
