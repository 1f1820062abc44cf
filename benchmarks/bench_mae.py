"""MAE pre-training throughput: fer_lib's MAE against a plain re-implementation of the reference, and the
share of a training step spent waiting for data (loading + augmentation).

Both models get the same weights (state dict copied), the same batch and the same masks (same seed);
each times `steps` AdamW steps (forward + backward + step) after a warm-up, in `repeats` interleaved
rounds whose order alternates. The loading share is measured with
the engine's loader (seeded batch sampler, RandomResizedCrop + flip + normalise) feeding real training
steps: share = wait for the next batch / (wait + step), for num_workers 0 and 1.

    .venv/bin/python benchmarks/bench_mae.py            # writes benchmarks/results/mae_throughput.json
    python benchmarks/bench_mae.py --device cuda        # ViT-B/16 at 224 px in bf16 -> mae_throughput_cuda.json

On CUDA both models run under the engine's autocast (bf16 where supported, else fp16) and every timing waits for the GPU (synchronize).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from torch import nn
from torch.utils.data import DataLoader

from fer_lib.data.base import UNLABELED, FaceDataset
from fer_lib.data.spec import DataSpec
from fer_lib.data.transforms import train_transform
from fer_lib.engine.devices import autocast_dtype
from fer_lib.engine.sampler import SeededBatchSampler
from fer_lib.models.archs import DECODERS, ENCODERS
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.report import write_json_atomic
from reference_mae import ReferenceMAE

RESULTS = Path(__file__).parent / "results"

MASK_RATIO = 0.75                      # the reference's, and every profile's


@dataclass(frozen=True)
class MAEShape:
    """One benchmarked MAE: a named encoder and decoder (fer_lib.models.archs), any size overrides, its input."""

    arch: str
    decoder: str
    image_size: int
    norm_pix_loss: bool = False
    sizes: dict[str, int] = field(default_factory=dict)   # e.g. patch_size=8
    channels: int = 3

    def build(self) -> MaskedAutoencoderViT:
        return build_mae(self.arch, self.decoder, img_size=self.image_size, in_chans=self.channels,
                         norm_pix_loss=self.norm_pix_loss, **self.sizes)

    def model_sizes(self) -> dict[str, int]:
        """Patch size, widths, depths and heads: the named sizes with the overrides applied."""
        return {**ENCODERS[self.arch], **DECODERS[self.decoder], **self.sizes}

    def describe(self) -> dict[str, Any]:
        return {"arch": self.arch, "decoder": self.decoder, "image_size": self.image_size, "channels": self.channels,
                **self.model_sizes(), "mask_ratio": MASK_RATIO, "norm_pix_loss": self.norm_pix_loss}


# name -> (MAE, batch size)
CONFIGS: dict[str, tuple[MAEShape, int]] = {
    "quick_48px": (MAEShape("vit_classroom", "dec64d1", image_size=48), 128),                  # the quick profile's
    "vit_tiny_64px": (MAEShape("vit_tiny_patch16", "dec128d2", image_size=64, sizes={"patch_size": 8}), 64),
    "vit_b16_224px": (MAEShape("vit_base_patch16", "dec512d8b", image_size=224, norm_pix_loss=True), 128),  # full's
}
DEFAULT_CONFIGS = {"cpu": ("quick_48px", "vit_tiny_64px"), "cuda": ("vit_b16_224px",)}


def autocast(device: torch.device) -> torch.autocast:
    """The engine's autocast with amp=True: bf16 (or fp16) on CUDA, disabled on the CPU."""
    dtype = autocast_dtype(device, amp=True)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_pair(shape: MAEShape) -> dict[str, nn.Module]:
    """fer_lib's MAE and the reference re-implementation with identical weights."""
    ours = shape.build()
    reference = ReferenceMAE(img_size=shape.image_size, in_chans=shape.channels, norm_pix_loss=shape.norm_pix_loss,
                             **shape.model_sizes())
    reference.load_state_dict(ours.state_dict())
    return {"fer_lib": ours, "reference": reference}


def adamw(model: nn.Module, batch_size: int) -> torch.optim.Optimizer:
    """The MAE pre-training optimiser: lr = 1.5e-4 * batch / 256, betas (0.9, 0.95), weight decay 0.05."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=1.5e-4 * batch_size / 256, betas=(0.9, 0.95), weight_decay=0.05)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, mask_ratio: float) -> None:
    device = next(model.parameters()).device
    with autocast(device):
        loss, _, _ = model(images.to(device, non_blocking=True), mask_ratio)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed_steps(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, steps: int,
                mask_ratio: float, seed: int) -> float:
    """Seconds for `steps` training steps; the seed fixes the masks, so both models see the same ones."""
    device = images.device
    torch.manual_seed(seed)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, images, mask_ratio)
    synchronize(device)
    return time.perf_counter() - started


def compare_throughput(shape: MAEShape, batch_size: int, steps: int, repeats: int, warmup: int,
                       device: torch.device) -> dict[str, Any]:
    """Images/s of both models per interleaved round and their ratio; first, that the two models agree.

    On a shared machine a round can be slowed by other processes: the best round of each model and the
    median over rounds of the ratio of a round's two (back-to-back) measurements are the fair numbers.
    """
    models = {name: model.to(device) for name, model in build_pair(shape).items()}
    image_shape = (batch_size, shape.channels, shape.image_size, shape.image_size)
    images = torch.randn(image_shape, generator=torch.Generator().manual_seed(0)).to(device)
    outputs = {}
    for name, model in models.items():
        torch.manual_seed(0)
        outputs[name] = model(images, MASK_RATIO)
    loss_gap = abs(outputs["fer_lib"][0].item() - outputs["reference"][0].item())
    pred_gap = (outputs["fer_lib"][1] - outputs["reference"][1]).abs().max().item()
    masks_equal = bool(torch.equal(outputs["fer_lib"][2], outputs["reference"][2]))
    optimizers = {name: adamw(model, batch_size) for name, model in models.items()}
    for name, model in models.items():
        timed_steps(model, optimizers[name], images, warmup, MASK_RATIO, seed=0)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for round_index in range(repeats):
        order = list(models) if round_index % 2 == 0 else list(reversed(models))
        for name in order:
            seconds = timed_steps(models[name], optimizers[name], images, steps, MASK_RATIO, round_index + 1)
            rates[name].append(steps * batch_size / seconds)
    best = {name: max(values) for name, values in rates.items()}
    round_ratios = [ours / reference for ours, reference in zip(rates["fer_lib"], rates["reference"])]
    return {"batch_size": batch_size, "steps_per_round": steps, "rounds": repeats, "warmup_steps": warmup,
            "params": sum(p.numel() for p in models["fer_lib"].parameters()),
            "same_init_loss_abs_diff": loss_gap, "same_init_pred_max_abs_diff": pred_gap,
            "same_masks": masks_equal, "images_per_s": rates, "best_images_per_s": best,
            "median_images_per_s": {name: statistics.median(values) for name, values in rates.items()},
            "speedup_best": best["fer_lib"] / best["reference"],
            "speedup_median_of_rounds": statistics.median(round_ratios)}


def pretrain_images(shape: MAEShape, count: int, render: bool) -> tuple[FaceDataset, str]:
    """SynthFER's unlabeled face corpus when `render` and that module exists, else random uint8 images."""
    if not render or importlib.util.find_spec("fer_lib.data.synthfer") is None:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(count, shape.image_size, shape.image_size, shape.channels), dtype=np.uint8)
        return FaceDataset(images, np.full(count, UNLABELED), ("face",), name="random"), "random uint8 images"
    from fer_lib.data.registry import load_pretrain_corpus
    data = DataSpec(image_size=shape.image_size, channels=shape.channels)   # the quick profile's corpus at this size
    return load_pretrain_corpus(data, "face"), "SynthFER unlabeled face corpus"


def timed_loader_pass(model: nn.Module, optimizer: torch.optim.Optimizer, dataset: FaceDataset, batch_size: int,
                      num_workers: int, batches: int, mask_ratio: float) -> tuple[list[float], list[float]]:
    """Seconds waiting for each batch and seconds training on it, for `batches` batches after a warm-up one."""
    device = next(model.parameters()).device
    sampler = SeededBatchSampler(len(dataset), batch_size, seed=0)
    batch_iter = iter(DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                                 pin_memory=device.type == "cuda"))
    waits, steps = [], []
    for _ in range(batches + 1):
        started = time.perf_counter()
        batch = next(batch_iter)
        loaded = time.perf_counter()
        train_step(model, optimizer, batch["image"], mask_ratio)
        synchronize(device)
        waits.append(loaded - started)
        steps.append(time.perf_counter() - loaded)
    return waits[1:], steps[1:]


def loading_share(shape: MAEShape, dataset: FaceDataset, batch_size: int, batches: int, repeats: int,
                  workers: tuple[int, ...], device: torch.device) -> list[dict[str, float]]:
    """Wait and step per batch for each loader size (interleaved passes); share = wait / (wait + step).

    The share is the median over batches of each batch's own share, so a burst of load from other
    processes shifts a few batches, not the result.
    """
    model = shape.build().to(device)
    optimizer = adamw(model, batch_size)
    dataset = dataset.with_transform(train_transform(shape.image_size, shape.channels, scale=(0.2, 1.0)))
    timings: dict[int, tuple[list[float], list[float]]] = {count: ([], []) for count in workers}
    for _ in range(repeats):
        for num_workers, (waits, steps) in timings.items():
            pass_waits, pass_steps = timed_loader_pass(model, optimizer, dataset, batch_size, num_workers, batches,
                                                       MASK_RATIO)
            waits += pass_waits
            steps += pass_steps
    runs = []
    for num_workers, (waits, steps) in timings.items():
        shares = [wait / (wait + step) for wait, step in zip(waits, steps)]
        runs.append({"num_workers": num_workers, "batches": len(waits),
                     "median_load_wait_s_per_batch": statistics.median(waits),
                     "median_step_s_per_batch": statistics.median(steps),
                     "median_loading_share": statistics.median(shares),
                     "images_per_s_end_to_end": batch_size * len(waits) / (sum(waits) + sum(steps))})
    return runs


def augmentation_time(shape: MAEShape, dataset: FaceDataset, batch_size: int, repeats: int = 5) -> float:
    """Seconds per batch spent in the transform alone (no per-sample seeding, collation or loader)."""
    transform = train_transform(shape.image_size, shape.channels, scale=(0.2, 1.0))
    images = [dataset.image_tensor(i) for i in range(batch_size)]
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for image in images:
            transform(image)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), help="default: the device's own list")
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed round")
    parser.add_argument("--repeats", type=int, default=12, help="interleaved rounds per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loading-batches", type=int, default=8, help="timed batches per loader pass")
    parser.add_argument("--loading-rounds", type=int, default=3, help="interleaved loader passes per num_workers")
    parser.add_argument("--loading-workers", type=int, nargs="+", default=[0, 1], help="loader sizes to compare")
    args = parser.parse_args()
    device = torch.device(args.device)
    names = args.configs or DEFAULT_CONFIGS[device.type]

    payload: dict[str, Any] = {
        "torch": torch.__version__, "timm": timm.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "precision": f"{autocast_dtype(device, amp=True)} autocast" if device.type == "cuda" else "float32",
        "fused_attention_ours": "timm Attention (F.scaled_dot_product_attention)",
        "load_average_1min_before": os.getloadavg()[0],
        "note": "rounds are interleaved so that load from other processes falls on both models alike",
        "throughput": {}, "data_loading": {}}
    for name in names:
        shape, batch_size = CONFIGS[name]
        result = compare_throughput(shape, batch_size, args.steps, args.repeats, args.warmup, device)
        result["config"] = shape.describe()
        payload["throughput"][name] = result
        best = result["best_images_per_s"]
        print(f"{name}: best round fer_lib {best['fer_lib']:.1f} img/s, reference {best['reference']:.1f} img/s "
              f"(x{result['speedup_best']:.2f}); median ratio over rounds x{result['speedup_median_of_rounds']:.2f}")

    name = names[0]
    shape, batch_size = CONFIGS[name]
    # Rendering SynthFER at 224 px takes minutes; the loader's cost does not depend on the pixels' content.
    dataset, source = pretrain_images(shape, batch_size * (args.loading_batches + 1), render=shape.image_size <= 64)
    payload["data_loading"] = {
        "config": name, "batch_size": batch_size, "images": source, "rounds": args.loading_rounds,
        "transform": "train_transform(scale=(0.2, 1.0)): RandomResizedCrop + flip + normalise, seeded per sample",
        "augmentation_only_s_per_batch": augmentation_time(shape, dataset, batch_size),
        "runs": loading_share(shape, dataset, batch_size, args.loading_batches, args.loading_rounds,
                              tuple(args.loading_workers), device)}
    print(f"augmentation alone: {payload['data_loading']['augmentation_only_s_per_batch'] * 1000:.1f} ms per batch")
    for run in payload["data_loading"]["runs"]:
        print(f"data loading, num_workers={run['num_workers']}: {run['median_load_wait_s_per_batch'] * 1000:.1f} ms "
              f"wait, {run['median_step_s_per_batch'] * 1000:.1f} ms step -> "
              f"{100 * run['median_loading_share']:.1f}% of step time, {run['images_per_s_end_to_end']:.0f} img/s "
              f"end to end")
    payload["load_average_1min_after"] = os.getloadavg()[0]
    path = RESULTS / ("mae_throughput.json" if device.type == "cpu" else f"mae_throughput_{device.type}.json")
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
