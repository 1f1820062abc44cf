"""Device selection, CPU thread count and mixed-precision choice."""
from __future__ import annotations

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


def apply_threads(threads: int) -> None:
    """Use `threads` CPU threads for torch's operators; 0 keeps torch's default (OMP_NUM_THREADS, else one
    per core). Fewer threads than cores help when other programs keep the cores busy: a thread that waits
    for a busy core stalls every step."""
    if threads < 0:
        raise ValueError(f"threads must be 0 (torch's default) or a positive count, got {threads}")
    if threads:
        torch.set_num_threads(threads)
