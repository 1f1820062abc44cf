"""How hard each SynthFER scene style is for the classroom ViT: the quick profile's fine-tuning recipe, from
random weights, on lab scenes and on wild scenes (same identities, expressions and split sizes).

Writes benchmarks/results/scene_styles.json: per style, test accuracy, balanced accuracy, validation accuracy
per epoch and the majority-class accuracy of the test split.

    .venv/bin/python benchmarks/bench_scenes.py [--profile quick]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from fer_lib.config import make_config
from fer_lib.data.registry import load_splits
from fer_lib.data.synthfer import SCENE_STYLES
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.report import write_json_atomic

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()

    styles = {}
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["FER_SSL_RUNS"] = scratch  # fresh runs; the dataset cache is shared with the notebooks
        for style in SCENE_STYLES:
            cfg = make_config(args.profile, synthfer_scenes=style, device="cpu")
            splits = load_splits(cfg.data)
            result = finetune_and_evaluate(cfg, init=None, splits=splits, label=f"scratch-{style}")
            majority = np.bincount(splits.train.labels).argmax()
            styles[style] = {"test_accuracy": result.test.accuracy,
                             "test_balanced_accuracy": result.test.balanced_accuracy,
                             "val_accuracy_per_epoch": [record["val_acc"] for record in result.history],
                             "test_majority_class_accuracy": float(np.mean(splits.test.labels == majority))}
            print(f"{style}: test accuracy {result.test.accuracy:.3f} (majority class "
                  f"{styles[style]['test_majority_class_accuracy']:.3f}), balanced {result.test.balanced_accuracy:.3f}")
    cfg = make_config(args.profile)
    payload = {"torch": torch.__version__, "python": platform.python_version(), "profile": args.profile,
               "init": "scratch", "finetune_epochs": cfg.finetune.epochs, "image_size": cfg.data.image_size,
               "train_images": cfg.data.synthfer_train, "test_images": cfg.data.synthfer_test, "styles": styles}
    path = RESULTS / "scene_styles.json"
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
