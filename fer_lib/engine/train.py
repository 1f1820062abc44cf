"""`fit`: the one train loop every method uses.

It owns what every run needs: device placement, DDP, AMP, gradient accumulation and clipping,
AdamW with warm-up + cosine, an optional EMA of the weights, named data streams (a labeled and an unlabeled
one, say), an optional batch transform (Mixup, CutMix), progress bars, per-epoch metric history, atomic
checkpoints with exact resume (the method's own state included), and a clear error on a non-finite loss.
A method supplies `forward(model, batch, ctx) -> LossOutput` and its hooks (see fer_lib.methods.base).
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from timm.utils import ModelEmaV3
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from fer_lib.data.requests import SampleRequest
from fer_lib.engine.checkpoint import rng_state, save_atomic, set_rng_state
from fer_lib.engine.devices import autocast_dtype, resolve_device
from fer_lib.engine.distributed import (DistContext, average_gradients, barrier, init_distributed,
                                        mean_over_processes, process_device)
from fer_lib.engine.sampler import SeededBatchSampler
from fer_lib.engine.seeding import seed_everything
from fer_lib.models.checkpoints import CheckpointError, load_weights, read_checkpoint
from fer_lib.methods.base import LossOutput, Method, StepContext
from fer_lib.report import write_json_atomic
from fer_lib.progress import progress

Evaluate = Callable[[nn.Module], dict[str, float]]
BatchTransform = Callable[[dict[str, Any]], dict[str, Any]]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last checkpoint on disk is left intact."""


@dataclass(frozen=True)
class EngineSettings:
    """How a run executes, not what it learns: device, precision, accumulation, loaders, threads, checkpoints
    (only `amp` and `clip_grad_norm` change the numbers)."""

    device: str = "auto"               # auto | cpu | cuda | cuda:N | mps
    amp: bool = True                   # mixed precision on CUDA (bf16 where supported, else fp16)
    clip_grad_norm: float = 1.0        # 0 disables clipping
    micro_batch_size: int = 0          # per-process batch per forward; 0 = no gradient accumulation
    num_workers: int = 1               # loader processes: 1 keeps augmentation under 10% of step time
    threads: int = 0                   # CPU threads for torch; 0 = OMP_NUM_THREADS, else all cores but one
    checkpoint_every_steps: int = 0    # 0 = checkpoint at epoch ends only


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one `fit` call. `batch_size` is the first stream's global batch (an epoch is one
    pass over that stream); `stream_batch_sizes` gives every other stream's; lr = base_lr * batch_size / 256."""

    epochs: int
    batch_size: int
    base_lr: float
    weight_decay: float = 0.05
    optimizer: str = "adamw"              # a timm optimizer name: adamw, adam, sgd (momentum 0.9), lamb, ...
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 0.0
    min_lr: float = 1e-6
    layer_decay: float | None = None      # timm layer-wise lr decay (ViT fine-tuning)
    clip_grad_norm: float = 0.0           # 0 = off
    ema_decay: float = 0.0                # 0 = no EMA
    micro_batch_size: int = 0             # per-process forward size; 0 = batch_size / processes
    amp: bool = True
    device: str = "auto"
    num_workers: int = 0
    seed: int = 0
    checkpoint_every_steps: int = 0       # 0 = at epoch ends only
    resume: bool = True
    select_metric: str = ""               # history key for best.pt, e.g. "val_acc" (higher is better)
    stream_batch_sizes: dict[str, int] = field(default_factory=dict)   # e.g. {"unlabeled": 64}

    @classmethod
    def with_engine(cls, engine: EngineSettings, **schedule: Any) -> "TrainSettings":
        """Settings from a recipe's schedule (`schedule`: epochs, batch_size, ...) and the run's engine settings."""
        return cls(device=engine.device, amp=engine.amp, clip_grad_norm=engine.clip_grad_norm,
                   micro_batch_size=engine.micro_batch_size, num_workers=engine.num_workers,
                   checkpoint_every_steps=engine.checkpoint_every_steps, **schedule)

    @property
    def lr(self) -> float:
        return self.base_lr * self.batch_size / 256


@dataclass
class FitResult:
    model: nn.Module
    ema_model: nn.Module | None
    history: list[dict[str, float]] = field(default_factory=list)
    run_dir: Path | None = None


def build_optimizer(model: nn.Module, settings: TrainSettings, method: nn.Module | None = None) -> torch.optim.Optimizer:
    """`settings.optimizer` (AdamW by default) at settings.lr; no weight decay on biases, norms and
    `model.no_weight_decay()` names (timm);
    with `layer_decay`, block i of L gets lr * layer_decay ** (L + 1 - i) (timm's ViT layer groups).
    A method's own parameters (a projection head, a temperature) join at the full lr, decayed unless 1-d."""
    adam_family = "adam" in settings.optimizer or settings.optimizer == "lamb"
    optimizer = create_optimizer_v2(model, opt=settings.optimizer, lr=settings.lr, weight_decay=settings.weight_decay,
                                    layer_decay=settings.layer_decay, **({"betas": settings.betas} if adam_family else {}))
    own = [p for p in (method.parameters() if method is not None else ()) if p.requires_grad]
    for decay, params in ((settings.weight_decay, [p for p in own if p.ndim > 1]), (0.0, [p for p in own if p.ndim <= 1])):
        if params:
            optimizer.add_param_group({"params": params, "weight_decay": decay, "lr": settings.lr})
    return optimizer


def _accum_steps(settings: TrainSettings, world_size: int) -> int:
    per_process = settings.batch_size // world_size
    if not settings.micro_batch_size or settings.micro_batch_size >= per_process:
        return 1
    if per_process % settings.micro_batch_size:
        raise ValueError(f"per-process batch {per_process} is not a multiple of micro_batch_size "
                         f"{settings.micro_batch_size}")
    return per_process // settings.micro_batch_size


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _EpochMeter:
    """Sums of per-step metrics, averaged at the end of an epoch."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, output: LossOutput) -> None:
        self.count += 1
        for key, value in {"loss": output.loss.detach(), **output.metrics}.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def means(self) -> dict[str, float]:
        return {f"train_{k}": v / max(self.count, 1) for k, v in self.sums.items()}


@dataclass
class _Stream:
    """One named data stream: seeded micro-batches from any global step on, across the stream's own epochs
    (a stream shorter than the first one simply starts its next epoch), so a resumed run sees the same data."""

    dataset: Dataset
    sampler: SeededBatchSampler
    loader_options: dict[str, Any]

    def batches(self, first_step: int) -> Iterator[Any]:
        epoch, start = divmod(first_step, self.sampler.batches_per_epoch)
        while True:
            self.sampler.set_epoch(epoch, start)
            yield from DataLoader(self.dataset, batch_sampler=self.sampler, **self.loader_options,
                                  generator=torch.Generator().manual_seed(self.sampler.seed + epoch))  # not the global RNG
            epoch, start = epoch + 1, 0


def _streams(data: Dataset | Mapping[str, Dataset], method: Method, settings: TrainSettings, context: DistContext,
             accum_steps: int, loader_options: dict[str, Any]) -> dict[str, _Stream]:
    """The named streams (one unnamed dataset is the stream "train"), each serving the method's request, each
    with its own seed; the first uses `settings.batch_size`, the others `settings.stream_batch_sizes`."""
    named = {"train": data} if isinstance(data, Dataset) else dict(data)
    if not named:
        raise ValueError("fit needs at least one data stream")
    missing = sorted(set(list(named)[1:]) - set(settings.stream_batch_sizes))
    if missing:
        raise ValueError(f"streams {missing} have no batch size: set TrainSettings.stream_batch_sizes")
    streams = {}
    for position, (name, dataset) in enumerate(named.items()):
        if method.request != SampleRequest():
            dataset = dataset.requesting(method.request, type(method).__name__)
        batch_size = settings.batch_size if position == 0 else settings.stream_batch_sizes[name]
        sampler = SeededBatchSampler(len(dataset), batch_size, settings.seed + 1_000_003 * position, context.rank,
                                     context.world_size, accum_steps)
        streams[name] = _Stream(dataset, sampler, loader_options)
    return streams


def fit(model: nn.Module, method: Method, data: Dataset | Mapping[str, Dataset], settings: TrainSettings,
        run_dir: Path | str, evaluate: Evaluate | None = None, batch_transform: BatchTransform | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        on_step: Callable[[int], None] | None = None) -> FitResult:
    """Train `model` with `method` on `data`; checkpoints, history and plots go to `run_dir`.

    `data` is one dataset, or named streams {"labeled": ..., "unlabeled": ...}: the method then gets the batch
    {stream: batch}. `batch_transform(batch) -> batch` runs on the device before the method (with several
    streams, on the whole dict). Resumes from <run_dir>/last.pt when it exists and `settings.resume` (same seed
    -> same result as an unbroken run). `evaluate(model) -> {name: value}` runs after each epoch on the main
    process (also on the EMA model, with an "ema_" prefix). `on_step(global_step)` runs after each optimiser step.
    """
    run_dir = Path(run_dir)
    device = resolve_device(settings.device)
    context = init_distributed(device)
    device = process_device(device, context)
    seed_everything(settings.seed + context.rank, deterministic=False)  # dropout, masking, mixing: per process
    model, method = model.to(device), method.to(device)
    accum_steps = _accum_steps(settings, context.world_size)
    streams = _streams(data, method, settings, context, accum_steps,
                       {"num_workers": settings.num_workers, "collate_fn": collate_fn,
                        "pin_memory": device.type == "cuda"})
    single = isinstance(data, Dataset)
    steps_per_epoch = next(iter(streams.values())).sampler.batches_per_epoch
    total_steps = settings.epochs * steps_per_epoch
    warmup_steps = min(int(settings.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))
    optimizer = build_optimizer(model, settings, method)
    scheduler = CosineLRScheduler(optimizer, t_initial=max(total_steps - warmup_steps, 1),
                                  lr_min=settings.min_lr, warmup_t=warmup_steps,
                                  warmup_lr_init=settings.min_lr, warmup_prefix=True, t_in_epochs=False)
    amp_dtype = autocast_dtype(device, settings.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ema = ModelEmaV3(model, decay=settings.ema_decay) if settings.ema_decay > 0 else None

    state = {"epoch": 0, "batch_in_epoch": 0, "global_step": 0, "history": [], "best": None}
    checkpoint_path = run_dir / "last.pt"
    if settings.resume and checkpoint_path.is_file():
        state = _restore(checkpoint_path, settings, model, method, optimizer, scaler, ema)
        if context.is_main:
            print(f"resuming from {checkpoint_path} at epoch {state['epoch']}, step {state['global_step']}")
    train_model = DistributedDataParallel(model) if context.enabled else model

    def save(path: Path, epoch: int, batch_in_epoch: int) -> None:
        if context.is_main:
            save_atomic({"model": model.state_dict(), "method": method.state_dict(),
                         "optimizer": optimizer.state_dict(),
                         "scaler": scaler.state_dict(), "ema": None if ema is None else ema.module.state_dict(),
                         "epoch": epoch, "batch_in_epoch": batch_in_epoch, "global_step": global_step,
                         "history": history, "best": best, "rng": rng_state(),
                         "meter": {"sums": meter.sums, "count": meter.count},
                         "settings": asdict(settings)}, path)

    history: list[dict[str, float]] = state["history"]
    best = state["best"]
    global_step = state["global_step"]
    for epoch in range(state["epoch"], settings.epochs):
        start_batch = state["batch_in_epoch"] if epoch == state["epoch"] else 0
        if start_batch == 0:
            method.on_epoch_start(model, {name: stream.dataset for name, stream in streams.items()}, epoch)
        batches = {name: stream.batches(epoch * steps_per_epoch + start_batch) for name, stream in streams.items()}
        meter, started = _EpochMeter(), time.perf_counter()
        if start_batch and state.get("meter"):
            meter.sums, meter.count = dict(state["meter"]["sums"]), state["meter"]["count"]
        model.train()
        bar = progress(total=steps_per_epoch, initial=start_batch, desc=f"epoch {epoch + 1}/{settings.epochs}",
                        disable=not context.is_main, leave=False)
        for batch_index in range(start_batch, steps_per_epoch):
            scheduler.step_update(global_step)
            optimizer.zero_grad(set_to_none=True)
            step_context = StepContext(epoch, batch_index, global_step, total_steps,
                                       None if ema is None else ema.module)
            for micro in range(accum_steps):
                batch = _to_device({name: next(stream) for name, stream in batches.items()}, device)
                batch = batch["train"] if single else batch
                if batch_transform is not None:
                    batch = batch_transform(batch)
                sync = context.enabled and micro < accum_steps - 1
                with (train_model.no_sync() if sync else contextlib.nullcontext()), \
                        torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    output = method(train_model, batch, step_context)
                if not torch.isfinite(output.loss.detach()):
                    raise NonFiniteLossError(
                        f"loss is {output.loss.item()} at epoch {epoch + 1}, step {batch_index + 1} "
                        f"(lr {optimizer.param_groups[0]['lr']:.3g}); try a lower base_lr, clip_grad_norm or "
                        f"amp=False. The last checkpoint ({checkpoint_path}) is intact.")
                scaler.scale(output.loss / accum_steps).backward()
                meter.add(output)
            average_gradients(method, context)
            if settings.clip_grad_norm > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            global_step += 1
            if ema is not None:
                ema.update(model, step=global_step)
            bar.update(1)
            bar.set_postfix(loss=f"{output.loss.item():.4f}", refresh=False)
            if settings.checkpoint_every_steps and global_step % settings.checkpoint_every_steps == 0:
                save(checkpoint_path, epoch, batch_index + 1)
            if on_step is not None:
                on_step(global_step)
        for stream in batches.values():
            stream.close()
        bar.close()
        seconds = time.perf_counter() - started
        record = {"epoch": epoch + 1, "step": global_step, "lr": optimizer.param_groups[0]["lr"],
                  "epoch_seconds": seconds,
                  "images_per_second": (steps_per_epoch - start_batch) * settings.batch_size / max(seconds, 1e-9),
                  **mean_over_processes(meter.means(), context, device)}
        if evaluate is not None and context.is_main:
            record.update(evaluate(model))
            if ema is not None:
                record.update({f"ema_{k}": v for k, v in evaluate(ema.module).items()})
        history.append(record)
        best = _update_best(best, record, settings.select_metric, model, run_dir, context)
        save(checkpoint_path, epoch + 1, 0)
        if context.is_main:
            write_json_atomic(run_dir / "history.json", history)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k not in ("epoch", "step"))
            print(f"epoch {epoch + 1}/{settings.epochs}: {shown}", flush=True)
        barrier(context)
    return FitResult(model=model, ema_model=None if ema is None else ema.module, history=history, run_dir=run_dir)


# Settings that may change between a run and its resumption without changing the result.
_RESUMABLE_CHANGES = {"device", "num_workers", "resume", "checkpoint_every_steps", "micro_batch_size"}


def _restore(path: Path, settings: TrainSettings, model: nn.Module, method: Method,
             optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, ema: ModelEmaV3 | None) -> dict[str, Any]:
    checkpoint = read_checkpoint(path)
    saved, current = checkpoint["settings"], asdict(settings)
    changed = sorted(k for k in current if k not in _RESUMABLE_CHANGES and saved.get(k) != current[k])
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
        raise CheckpointError(f"{path} was written with other settings ({details}); resume with the same "
                              f"settings, or choose another run folder or delete it to start afresh")
    load_weights(model, checkpoint["model"])
    method.load_state_dict(checkpoint["method"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scaler.load_state_dict(checkpoint["scaler"])
    if ema is not None and checkpoint["ema"] is not None:
        ema.module.load_state_dict(checkpoint["ema"])
    set_rng_state(checkpoint["rng"])
    return checkpoint


def _update_best(best: dict[str, float] | None, record: dict[str, float], metric: str, model: nn.Module,
                 run_dir: Path, context: DistContext) -> dict[str, float] | None:
    """Save <run_dir>/best.pt (weights only) when `record[metric]` beats the best so far."""
    if not metric or metric not in record or math.isnan(record[metric]):
        return best
    if best is None or record[metric] > best[metric]:
        best = {"epoch": record["epoch"], metric: record[metric]}
        if context.is_main:
            save_atomic({"model": model.state_dict(), "best": best}, run_dir / "best.pt")
    return best
