"""Per-notebook metric records and the markdown report that `make run` writes."""
from __future__ import annotations

import json
import numbers
import os
import re
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to `path` via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float))
    os.replace(tmp, path)


def markdown_table(rows: dict[str, dict[str, Any]], digits: int = 3) -> str:
    """{row: {column: value}} as a markdown table; columns in order of first appearance, floats rounded."""
    columns = list(dict.fromkeys(column for values in rows.values() for column in values))
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        cells = [_cell(values.get(column, ""), digits) for column in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any, digits: int) -> str:
    is_float = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    return f"{value:.{digits}f}" if is_float else str(value)


def metric_slug(*words: str) -> str:
    """A metric key from words: ('MAE (face)', 'fine-tune acc') -> 'mae_face_fine_tune_acc'."""
    return re.sub(r"[^a-z0-9]+", "_", " ".join(words).lower()).strip("_")
