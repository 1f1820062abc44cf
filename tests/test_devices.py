"""Device choice and mixed precision: CUDA paths are chosen only where CUDA exists."""
import pytest
import torch

from fer_lib.engine.devices import autocast_dtype, resolve_device


def test_auto_picks_cuda_then_mps_then_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without a GPU")
def test_asking_for_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(RuntimeError, match="no CUDA GPU; use device='auto' or 'cpu'"):
        resolve_device("cuda")


def test_mixed_precision_is_used_on_cuda_only() -> None:
    assert autocast_dtype(torch.device("cpu"), amp=True) is None
    assert autocast_dtype(torch.device("cuda"), amp=False) is None
    if torch.cuda.is_available():
        assert autocast_dtype(torch.device("cuda"), amp=True) in (torch.bfloat16, torch.float16)
