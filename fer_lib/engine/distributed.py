"""torchrun / DDP support: process-group setup from the environment and metric reduction.

Launch: `torchrun --nproc_per_node N -m fer_lib <command> ...`. NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK); single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext()
    context = DistContext(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return context


def process_device(device: torch.device, context: DistContext) -> torch.device:
    """One GPU per process under DDP (cuda:LOCAL_RANK); the given device otherwise."""
    if device.type == "cuda" and context.enabled:
        torch.cuda.set_device(context.local_rank)
        return torch.device("cuda", context.local_rank)
    return device


def mean_over_processes(values: dict[str, float], context: DistContext, device: torch.device) -> dict[str, float]:
    """Average each scalar over processes (identity for one process)."""
    if not context.enabled or not values:
        return values
    keys = sorted(values)
    stacked = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(stacked)
    return {k: float(v) / context.world_size for k, v in zip(keys, stacked.tolist())}


def barrier(context: DistContext) -> None:
    if context.enabled:
        dist.barrier()


def average_gradients(module: torch.nn.Module, context: DistContext) -> None:
    """Average the gradients of `module`'s parameters over processes: a method's own parameters (a projection
    head, say) sit outside the DDP-wrapped model, so DDP does not reduce them."""
    if not context.enabled:
        return
    for parameter in module.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad.div_(context.world_size)
