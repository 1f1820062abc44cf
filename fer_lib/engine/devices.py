"""Device selection, CPU thread count and mixed-precision choice."""
from __future__ import annotations

import os

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit name that is absent is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA GPU; use device='auto' or 'cpu'")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {name!r} asked for, but MPS is not available; use device='auto' or 'cpu'")
    return device


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype for this device: bf16 on CUDA that supports it, else fp16; None on CPU/MPS."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def auto_threads(cores: int, omp_num_threads: str | None = None) -> int:
    """The thread count of `threads = 0`: OMP_NUM_THREADS when set, else one core fewer than the machine has.

    The spare core keeps the loader worker, the notebook and other programs off the training threads: on a busy
    2-core laptop, 2 threads fell from 125 to 15 images/s fine-tuning (a thread waiting for a busy core stalls every
    step) while 1 thread kept 125; on an idle one, 1 thread costs about a quarter of the speed of 2.
    """
    if omp_num_threads and omp_num_threads.strip().isdigit() and int(omp_num_threads) > 0:
        return int(omp_num_threads)
    return max(1, cores - 1)


def apply_threads(threads: int) -> int:
    """Use `threads` CPU threads for torch's operators (0 = `auto_threads`); returns the count in use."""
    if threads < 0:
        raise ValueError(f"threads must be 0 (automatic) or a positive count, got {threads}")
    torch.set_num_threads(threads or auto_threads(len(os.sched_getaffinity(0)), os.environ.get("OMP_NUM_THREADS")))
    return torch.get_num_threads()
