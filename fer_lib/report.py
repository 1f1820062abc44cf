"""Per-notebook metric records and the markdown report that `make run` writes."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to `path` via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float))
    os.replace(tmp, path)


def record_metrics(run_dir: Path, notebook: str, metrics: dict[str, Any]) -> Path:
    """Save a notebook's closing metrics to <run_dir>/metrics/<notebook>.json for the report."""
    path = Path(run_dir) / "metrics" / f"{notebook}.json"
    write_json_atomic(path, metrics)
    return path
