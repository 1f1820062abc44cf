"""Shared test setup: keep torch to one thread per process and caches/runs inside the test's tmp folders."""
import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs go to a fresh folder per test; the dataset cache is shared by the session (rendering is slow)."""
    monkeypatch.setenv("FER_SSL_RUNS", str(tmp_path_factory.mktemp("runs")))
    if "FER_SSL_CACHE" not in os.environ:
        monkeypatch.setenv("FER_SSL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
