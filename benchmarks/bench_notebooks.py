"""Wall-clock time of every notebook at a profile, as `make run` executes them, on a fresh machine.

Runs and the dataset cache go to a new temporary folder, so the timing includes rendering SynthFER and
pre-training the MAEs, as a student's first `make run` does. Each notebook's status, minutes and the
metrics its closing cell recorded are written to benchmarks/results/notebooks_<profile>_<device>.json.

    .venv/bin/python benchmarks/bench_notebooks.py                         # quick profile on the CPU
    .venv/bin/python benchmarks/bench_notebooks.py --names 08 09           # those notebooks only, merged into the file
    python benchmarks/bench_notebooks.py --profile smoke --device cuda     # the same notebooks on a GPU
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import torch

from fer_lib.notebook_runner import executed_output_problems, latest_notebook_folder, run_notebooks
from fer_lib.report import write_json_atomic

RESULTS = Path(__file__).parent / "results"


def recorded_claims(run_root: Path, notebook: str) -> list[dict[str, object]]:
    """The claims `notebook` recorded with their verdicts (its run folder's claims.json); [] if none."""
    folder = latest_notebook_folder(run_root, notebook)
    path = None if folder is None else folder / "claims.json"
    return json.loads(path.read_text()) if path is not None and path.is_file() else []


def recorded_metrics(run_root: Path, notebook: str) -> dict[str, object]:
    """The metrics `notebook`'s closing cell recorded (its run folder's metrics.json); {} if it did not get there."""
    folder = latest_notebook_folder(run_root, notebook)
    path = None if folder is None else folder / "metrics.json"
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--keep", type=Path, help="copy the executed notebooks and the report into this folder")
    parser.add_argument("--names", nargs="+", help="only the notebooks whose names start with these (e.g. 08 09); "
                        "their entries replace those of the results file, the others stay")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["FER_SSL_RUNS"] = str(Path(scratch) / "runs")
        os.environ["FER_SSL_CACHE"] = str(Path(scratch) / "cache")
        runs, report = run_notebooks(args.profile, {"device": args.device}, args.names)
        notebooks = [{"name": run.name, "status": run.status, "minutes": round(run.seconds / 60, 2),
                      "metrics": recorded_metrics(report.parent, run.name),
                      "output_problems": executed_output_problems(run.output) if run.output.is_file() else [],
                      "claims": recorded_claims(report.parent, run.name)} for run in runs]
        if args.keep is not None:
            shutil.copytree(report.parent, args.keep, dirs_exist_ok=True)
    load = [load_before, os.getloadavg()[0]]
    path = RESULTS / f"notebooks_{args.profile}_{args.device}.json"
    if args.names and path.is_file():      # a partial run: each new entry says how loaded the machine was
        measured = {notebook["name"]: {**notebook, "load_average_1min_before_after": load} for notebook in notebooks}
        kept = [n for n in json.loads(path.read_text())["notebooks"] if n["name"] not in measured]
        notebooks = sorted(kept + list(measured.values()), key=lambda notebook: notebook["name"])
    payload = {
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "profile": args.profile,
        "fresh_cache": True, "load_average_1min_before_after": load,
        "total_minutes": round(sum(n["minutes"] for n in notebooks), 2), "notebooks": notebooks}
    for notebook in notebooks:
        print(f"{notebook['name']}: {notebook['status']} in {notebook['minutes']:.1f} min")
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
