"""One run identity: a run folder is named by a short hash of everything that decides its result.

`open_run(profile, seed, kind, label, identity)` seeds every RNG from the run's seed (so no entry point can forget
it) and returns runs/<profile>/<kind>-<label>-<hash>/, where the hash covers `identity`: the settings that
change what the run learns, never how it executes (device, threads, workers, checkpoint interval). A changed
setting therefore makes a new folder, variants never overwrite each other, and the same settings find their
finished or interrupted run again (and resume it exactly). runs/<profile>/index.json lists every run with its
identity, so a person can find them.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Iterator

from fer_lib.engine.seeding import seed_everything
from fer_lib.paths import runs_dir
from fer_lib.report import write_json_atomic

INDEX = "index.json"


def identity_hash(identity: dict[str, Any]) -> str:
    """10 hex digits of the SHA-256 of `identity` as canonical JSON (dataclasses as dicts)."""
    text = json.dumps(plain_json(identity), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def plain_json(value: Any) -> Any:
    """`value` as JSON holds it: dataclasses as dicts, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def run_path(profile: str, kind: str, label: str, identity: dict[str, Any]) -> Path:
    """runs/<profile>/<kind>-<label>-<hash of identity>: where that run lives (not created)."""
    return runs_dir() / profile / f"{kind}-{label}-{identity_hash(identity)}"


def open_run(profile: str, seed: int, kind: str, label: str, identity: dict[str, Any]) -> Path:
    """Seed every RNG from `seed`, create the run's folder, record it in run.json and the index; return it."""
    seed_everything(seed)
    path = run_path(profile, kind, label, identity)
    path.mkdir(parents=True, exist_ok=True)
    record = {"kind": kind, "label": label, "identity": plain_json(identity)}
    if not (path / "run.json").is_file():
        write_json_atomic(path / "run.json", record)
    with _locked_index(path.parent) as index:
        entry = index.setdefault(path.name, {"kind": kind, "label": label, "created": _now()})
        entry["used"] = _now()
    return path


def list_runs(profile: str, kind: str | None = None) -> dict[str, dict[str, Any]]:
    """The index of runs/<profile>/: {folder name: {kind, label, created, used}}, optionally of one kind."""
    path = runs_dir() / profile / INDEX
    index = json.loads(path.read_text()) if path.is_file() else {}
    return {name: entry for name, entry in index.items() if kind is None or entry["kind"] == kind}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


@contextmanager
def _locked_index(folder: Path) -> Iterator[dict[str, Any]]:
    """The folder's index under an exclusive lock (parallel notebooks and tests update it), written back after."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{INDEX}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / INDEX
        index = json.loads(path.read_text()) if path.is_file() else {}
        yield index
        write_json_atomic(path, index)
