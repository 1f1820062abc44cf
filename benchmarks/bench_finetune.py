"""Fine-tuning throughput of the ViT classifier on SynthFER: training through the engine's real `fit`, and
forward-only evaluation.

Training: `fit` with SupervisedCE and the fine-tuning recipe's settings (`finetune_settings`: AdamW, layer
decay, clipping, warm-up + cosine) on `batches` batches of the SynthFER training split with the recipe's
augmentation, so data loading, augmentation and the optimiser step are all counted; images/s is the
engine's own per-epoch record (the epoch loop only, not building the optimiser). Evaluation: `predict_logits`
over the validation split with the eval transform (batch 256, no gradients). Each is repeated `repeats`
times after one warm-up round; the best and the median round are reported, for torch's default thread
count and for one thread (on a shared machine the default can be much slower than one thread when other
processes keep the cores busy).

    .venv/bin/python benchmarks/bench_finetune.py       # writes benchmarks/results/finetune_throughput.json
    python benchmarks/bench_finetune.py --device cuda --profile full --batch-size 256 --batches 8
                                                        # ViT-B/16 at 224 px, AMP -> finetune_throughput_cuda.json

On CUDA the thread comparison is skipped and SynthFER is rendered only as large as the rounds need.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import timm
import torch

from fer_lib.config import RunConfig, make_config
from fer_lib.data.base import DatasetSplits
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform, train_transform
from fer_lib.engine.devices import autocast_dtype
from fer_lib.engine.train import fit
from fer_lib.eval.predict import predict_logits
from fer_lib.recipes.build import classifier_model
from fer_lib.recipes.finetune import default_method, finetune_settings
from fer_lib.report import write_json_atomic

RESULTS = Path(__file__).parent / "results"
CONFIG_FIELDS = ("arch", "image_size", "channels", "finetune_global_pool", "finetune_batch_size", "finetune_crop_min",
                 "finetune_layer_decay", "finetune_drop_path", "supervised_label_smoothing", "clip_grad_norm", "amp",
                 "micro_batch_size", "num_workers")


def train_rate(cfg: RunConfig, splits: DatasetSplits, batches: int, pretrained: bool) -> float:
    """Images/s of one epoch of `fit` over the first `batches` batches of the training split."""
    train = splits.train.subset(range(batches * cfg.finetune.batch_size)).with_transform(
        train_transform(cfg.data.image_size, cfg.data.channels, (cfg.finetune.crop_min, 1.0)))
    model = classifier_model(cfg, splits.train.num_classes)
    settings = finetune_settings(cfg.replace(finetune_epochs=1), pretrained)
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, default_method(cfg), train, settings, Path(run_dir))
    return result.history[-1]["images_per_second"]


def eval_rate(cfg: RunConfig, splits: DatasetSplits, model: torch.nn.Module) -> float:
    """Images/s of forward-only prediction over the validation split (outputs land on the CPU)."""
    val = splits.val.with_transform(eval_transform(cfg.data.image_size, cfg.data.channels))
    device = torch.device(cfg.engine.device)
    started = time.perf_counter()
    dtype = autocast_dtype(device, cfg.engine.amp)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        predict_logits(model.to(device), val, device)
    return len(val) / (time.perf_counter() - started)


def summary(rates: list[float]) -> dict[str, Any]:
    return {"images_per_s": rates, "best_images_per_s": max(rates), "median_images_per_s": statistics.median(rates)}


def measure(cfg: RunConfig, splits: DatasetSplits, threads: int, batches: int, repeats: int) -> dict[str, Any]:
    """Training and evaluation throughput at `threads` torch threads: a warm-up round, then `repeats`."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = classifier_model(cfg, splits.train.num_classes)
        train_rate(cfg, splits, 2, pretrained=True)
        eval_rate(cfg, splits, model)
        train = [train_rate(cfg, splits, batches, pretrained=True) for _ in range(repeats)]
        evaluation = [eval_rate(cfg, splits, model) for _ in range(repeats)]
    finally:
        torch.set_num_threads(previous)
    return {"torch_threads": threads, "train_fwd_bwd_step": summary(train), "eval_forward": summary(evaluation)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, help="default: the profile's finetune_batch_size")
    parser.add_argument("--batches", type=int, default=30, help="training batches per timed round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per measurement")
    args = parser.parse_args()

    cfg = make_config(args.profile, device=args.device, finetune_batch_size=args.batch_size, dataset="synthfer")
    if args.device == "cuda":  # render only the images the rounds use: 224 px SynthFER is slow to draw
        cfg = cfg.replace(synthfer_train=args.batches * cfg.finetune.batch_size, synthfer_val=512, synthfer_test=64)
    splits = load_splits(cfg.data)
    load_before = os.getloadavg()
    thread_counts = (torch.get_num_threads(), 1) if args.device == "cpu" else (torch.get_num_threads(),)
    runs = [measure(cfg, splits, threads, args.batches, args.repeats) for threads in dict.fromkeys(thread_counts)]
    payload = {
        "torch": torch.__version__, "timm": timm.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(), "default_torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "profile": args.profile, "dataset": "synthfer (train split, recipe augmentation)",
        "config": {name: cfg.flat()[name] for name in CONFIG_FIELDS},
        "params": sum(p.numel() for p in classifier_model(cfg, 7).parameters()),
        "train_images_per_round": args.batches * cfg.finetune.batch_size, "eval_images_per_round": len(splits.val),
        "rounds": args.repeats, "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]],
        "note": "the machine may be shared (see the load average): the best round is the closest to an idle machine; "
                "a round includes starting the loader's worker processes, as every epoch of fit does",
        "runs": runs}
    for run in runs:
        print(f"{run['torch_threads']} thread(s): fine-tuning {run['train_fwd_bwd_step']['best_images_per_s']:.0f} "
              f"img/s (median {run['train_fwd_bwd_step']['median_images_per_s']:.0f}), evaluation "
              f"{run['eval_forward']['best_images_per_s']:.0f} img/s "
              f"(median {run['eval_forward']['median_images_per_s']:.0f})")
    path = RESULTS / ("finetune_throughput.json" if args.device == "cpu" else f"finetune_throughput_{args.device}.json")
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
