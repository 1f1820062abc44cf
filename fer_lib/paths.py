"""Where runs, caches and the repository live (overridable by environment variables)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def runs_dir() -> Path:
    """Root for run outputs: $FER_SSL_RUNS or <repo>/runs."""
    return Path(os.environ.get("FER_SSL_RUNS", REPO_ROOT / "runs"))


def cache_dir() -> Path:
    """Root for rendered / converted dataset caches: $FER_SSL_CACHE or <repo>/.cache/fer-ssl."""
    return Path(os.environ.get("FER_SSL_CACHE", REPO_ROOT / ".cache" / "fer-ssl"))
