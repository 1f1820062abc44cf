"""k-fold cross-validation over subjects, the protocol CK+ and JAFFE results are reported under.

Fold k is the run's data with data_options {"folds": K, "fold": k}: the loader puts fold k's people in test and
people of the other folds in val and train (`fer_lib.data.splits.subject_fold`), so no person is on two sides.
Each fold is fine-tuned (`finetune_and_evaluate`, best epoch on val) or probed (`probe_encoder`, C on val) as a
single split would be, in its own run folder; the result lists every fold and the mean and sample standard
deviation (ddof 1) over folds, and is kept in runs/<profile>/crossval-<label>-<hash>/crossval.json.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lib.config import RunConfig, result_identity
from fer_lib.data.base import DatasetSplits
from fer_lib.data.real.loaders import CROSS_VALIDATION_DATASETS
from fer_lib.data.registry import load_splits
from fer_lib.recipes.finetune import finetune_and_evaluate, init_identity
from fer_lib.recipes.probe import probe_encoder
from fer_lib.report import write_json_atomic
from fer_lib.runs import open_run

RECIPES = ("finetune", "probe")
DEFAULT_FOLDS = 10
COLUMNS = {"test_accuracy": "test acc", "test_balanced_accuracy": "balanced acc", "test_macro_f1": "macro F1",
           "val_accuracy": "val acc", "knn_test_accuracy": "k-NN acc"}


@dataclass
class CrossValResult:
    """Per-fold records (fold, test_images, test_people and the recipe's metrics) of one cross-validation."""

    recipe: str
    label: str
    dataset: str
    folds: list[dict[str, Any]]
    run_dir: Path

    @property
    def metrics(self) -> list[str]:
        return [key for key in self.folds[0] if key not in ("fold", "test_images", "test_people")]

    def mean(self) -> dict[str, float]:
        return {key: float(np.mean([fold[key] for fold in self.folds])) for key in self.metrics}

    def std(self) -> dict[str, float]:
        """Sample standard deviation over folds (ddof 1)."""
        return {key: float(np.std([fold[key] for fold in self.folds], ddof=1)) for key in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "run_dir": str(self.run_dir), "mean": self.mean(), "std": self.std()}

    def summary(self) -> str:
        """A table of the folds, then mean and standard deviation of each metric."""
        names = [COLUMNS.get(key, key) for key in self.metrics]
        header = f"{'fold':<5}{'images':>7}{'people':>7}" + "".join(f"{name:>14}" for name in names)
        rows = [f"{fold['fold']:<5}{fold['test_images']:>7}{fold['test_people']:>7}"
                + "".join(f"{fold[key]:>14.4f}" for key in self.metrics) for fold in self.folds]
        mean, std = self.mean(), self.std()
        spread = ", ".join(f"{name} {mean[key]:.4f} ± {std[key]:.4f}" for key, name in zip(self.metrics, names))
        return "\n".join([f"{len(self.folds)}-fold cross-validation over subjects: {self.dataset}, {self.recipe}, "
                          f"{self.label} (test images and people per fold)", header, *rows,
                          f"mean ± std over {len(self.folds)} folds: {spread}", f"run folder: {self.run_dir}"])


def fold_config(cfg: RunConfig, folds: int, fold: int) -> RunConfig:
    """The run's config with its data restricted to fold `fold` of `folds` (data_options folds / fold)."""
    return cfg.replace(data_options={**cfg.data.data_options, "folds": folds, "fold": fold})


def _fold_record(fold: int, splits: DatasetSplits, metrics: dict[str, float]) -> dict[str, Any]:
    people = len(np.unique(splits.test.meta["subject"]))
    return {"fold": fold, "test_images": len(splits.test), "test_people": people, **metrics}


def _run_fold(cfg: RunConfig, init: Path | None, recipe: str, label: str, splits: DatasetSplits) -> dict[str, float]:
    """Test metrics (of the fine-tuned model, or of the linear probe plus k-NN) and val accuracy of one fold."""
    if recipe == "finetune":
        result = finetune_and_evaluate(cfg, init, splits=splits, label=label)
        return {f"test_{key}": value for key, value in result.test.scalars().items()} | {
            "val_accuracy": result.val.accuracy}
    summary = probe_encoder(cfg, init, splits=splits, label=label)
    return {f"test_{key}": value for key, value in summary.linear.test.scalars().items()} | {
        "val_accuracy": summary.linear.val_accuracy, "knn_test_accuracy": summary.knn.accuracy}


def cross_validate(cfg: RunConfig, init: Path | str | None = None, folds: int | None = None,
                   recipe: str = "finetune", label: str | None = None) -> CrossValResult:
    """Run `recipe` ("finetune" or "probe", from `init`: None = random weights, else a checkpoint) on each of
    `folds` folds over subjects (default: data_options' folds, else 10); `label` names the runs (default "scratch"
    or the checkpoint's file name; fold k runs as f"{label}-fold{k}")."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    if cfg.data.dataset not in CROSS_VALIDATION_DATASETS:
        raise ValueError(f"cross-validation over subjects needs a dataset whose loader knows each image's person: "
                         f"one of {CROSS_VALIDATION_DATASETS} (imagefolder with data_options subject_regex or "
                         f"subject_csv), got {cfg.data.dataset!r}")
    folds = folds or int(cfg.data.data_options.get("folds") or DEFAULT_FOLDS)
    init = None if init is None else Path(init)
    label = label or ("scratch" if init is None else init.stem)
    identity = {"recipe": "crossval", "inner": recipe, "folds": folds, "init": init_identity(init),
                "config": result_identity(cfg)}
    run_dir = open_run(cfg.profile, cfg.seed, "crossval", label, identity)
    records = []
    for fold in range(folds):
        fold_cfg = fold_config(cfg, folds, fold)
        splits = load_splits(fold_cfg.data)
        records.append(_fold_record(fold, splits, _run_fold(fold_cfg, init, recipe, f"{label}-fold{fold}", splits)))
    result = CrossValResult(recipe, label, cfg.data.dataset, records, run_dir)
    write_json_atomic(run_dir / "crossval.json", result.to_dict())
    return result
