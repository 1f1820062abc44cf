"""Contrastive training speed (issue: contrastive learning): a two-view step against two single-view supervised
steps on the same encoder, and how much of a step waits for data.

Compute: rounds interleave (a) two supervised steps on B images each (cross-entropy) and (b) one SimCLR step on B
images x 2 views (the contrastive method with its projection head), both on the same encoder and the same
pre-rendered, pre-augmented tensors, so only the training step is timed; images/s counts every image through the
encoder. The target: (b) within 10% of (a), as the median ratio over interleaved rounds.
Data: the real loader (`fit`'s, the run's num_workers) over SynthFER clips with each variant's request (two views;
SSL-FER's TimeAug + HardNeg + FaceSwap + MaskFN: anchor, neighbour, two far views and a face swap), timing how long
each step waits for its batch against the whole step. The target: under 10% of step time.

    .venv/bin/python benchmarks/bench_contrastive.py [--profile quick] [--rounds 7]
        -> benchmarks/results/contrastive_speed_<device>.json
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from fer_lib.config import RunConfig, make_config
from fer_lib.data.transforms import contrastive_transform
from fer_lib.engine.devices import apply_threads, resolve_device
from fer_lib.engine.sampler import SeededBatchSampler
from fer_lib.engine.train import TrainSettings, build_optimizer
from fer_lib.methods.base import StepContext
from fer_lib.methods.contrastive import Contrastive
from fer_lib.recipes.build import classifier_model
from fer_lib.recipes.contrastive import SSL_FER_ALL, contrastive_corpus, variant_config
from fer_lib.report import write_json_atomic

RESULTS = Path(__file__).parent / "results"
CONTEXT = StepContext(epoch=0, step_in_epoch=0, global_step=0, total_steps=1)


def timed(step: Any, device: torch.device) -> float:
    """Seconds one call of `step` takes (synchronised on CUDA)."""
    started = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def compute_rates(cfg: RunConfig, device: torch.device, rounds: int) -> dict[str, Any]:
    """Median images/s of two supervised steps and of one two-view SimCLR step, interleaved over `rounds`."""
    batch = cfg.contrastive_pretrain.batch_size
    size, channels = cfg.data.image_size, cfg.data.channels
    images = torch.randn(2, batch, channels, size, size, device=device)
    labels = torch.randint(0, 7, (batch,), device=device)
    supervised_model = classifier_model(cfg, 7).to(device)
    contrastive_model = classifier_model(cfg, 0).to(device)
    contrastive_model.load_state_dict({k: v for k, v in supervised_model.state_dict().items()
                                       if k in contrastive_model.state_dict()})
    method = Contrastive(cfg.contrastive, contrastive_model.num_features, ("neutral",) * 7).to(device)
    settings = TrainSettings(epochs=1, batch_size=batch, base_lr=1e-4)
    optimisers = {"supervised": build_optimizer(supervised_model, settings),
                  "contrastive": build_optimizer(contrastive_model, settings, method)}

    def supervised_steps() -> None:
        for view in images:                                     # two steps of B single-view images
            loss = F.cross_entropy(supervised_model(view), labels)
            optimisers["supervised"].zero_grad(set_to_none=True)
            loss.backward()
            optimisers["supervised"].step()

    def contrastive_step() -> None:                             # one step of B images x 2 views
        loss = method(contrastive_model, {"image": list(images), "label": labels}, CONTEXT).loss
        optimisers["contrastive"].zero_grad(set_to_none=True)
        loss.backward()
        optimisers["contrastive"].step()

    supervised_steps(), contrastive_step()                      # warm-up
    seconds = {"supervised": [], "contrastive": []}
    for _ in range(rounds):
        seconds["supervised"].append(timed(supervised_steps, device))
        seconds["contrastive"].append(timed(contrastive_step, device))
    ratios = [s / c for s, c in zip(seconds["supervised"], seconds["contrastive"])]
    return {"images_per_step": 2 * batch,
            "supervised_images_per_second": 2 * batch / statistics.median(seconds["supervised"]),
            "contrastive_images_per_second": 2 * batch / statistics.median(seconds["contrastive"]),
            "contrastive_over_supervised_median_ratio": statistics.median(ratios),
            "target": "contrastive images/s >= 0.9 x supervised", "meets_target": statistics.median(ratios) >= 0.9}


def loading_share(cfg: RunConfig, device: torch.device, steps: int) -> dict[str, Any]:
    """Share of each training step spent waiting for the loader, for plain SimCLR and for SSL-FER's four options."""
    shares = {}
    for name, overrides in (("SimCLR", {}), ("SimCLR+TimeAug+HardNeg+FaceSwap+MaskFN", SSL_FER_ALL)):
        variant = variant_config(cfg, overrides)
        corpus = contrastive_corpus(variant)
        settings = variant.contrastive
        views = corpus.with_transform(contrastive_transform(cfg.data.image_size, cfg.data.channels, settings.crop_min,
                                                            settings.jitter, settings.grayscale_prob, settings.blur_prob))
        model = classifier_model(cfg, 0).to(device)
        method = Contrastive(settings, model.num_features, corpus.class_names).to(device)
        served = views.requesting(method.request, name)
        sampler = SeededBatchSampler(len(served), cfg.contrastive_pretrain.batch_size, seed=cfg.seed)
        loader = DataLoader(served, batch_sampler=sampler, num_workers=cfg.engine.num_workers,
                            persistent_workers=cfg.engine.num_workers > 0)
        optimiser = build_optimizer(model, TrainSettings(epochs=1, batch_size=1, base_lr=1e-4), method)
        waited = total = 0.0
        batches = iter(loader)
        next(batches)                                           # start-up of the worker is not a step
        for _ in range(min(steps, len(loader) - 1)):            # one pass over the corpus at most
            started = time.perf_counter()
            batch = next(batches)
            arrived = time.perf_counter()
            batch = {k: ([t.to(device) for t in v] if isinstance(v, list) else v.to(device)) for k, v in batch.items()}
            loss = method(model, batch, CONTEXT).loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            waited += arrived - started
            total += time.perf_counter() - started
        shares[name] = {"loading_share_of_step": waited / total, "meets_target": waited / total < 0.1,
                        "num_workers": cfg.engine.num_workers}
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=12, help="training steps timed for the loading share")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    threads = apply_threads(args.threads)
    cfg = make_config(args.profile, device=args.device)
    device = resolve_device(args.device)
    results = {"profile": args.profile, "arch": cfg.arch, "image_size": cfg.data.image_size, "device": str(device),
               "threads": threads, "torch": torch.__version__, "python": platform.python_version(),
               "cpu_count": os.cpu_count(), "compute": compute_rates(cfg, device, args.rounds),
               "data_loading": loading_share(cfg, device, args.steps)}
    path = RESULTS / f"contrastive_speed_{device.type}.json"
    write_json_atomic(path, results)
    print(results)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
