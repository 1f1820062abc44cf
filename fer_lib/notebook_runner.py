"""`make run` and `make test` machinery: execute notebooks with papermill and write the run report.

run_notebooks   executes every notebook of notebooks/ in order at a profile, writing executed copies to
                runs/<profile>/notebooks/ and runs/<profile>/report.md (status, time, metrics, figures).
prepare_notebooks writes copies with the profile injected into the parameters cell (papermill
                --prepare-only) for nbval, which then executes them as tests.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill

from fer_lib.eval.claims import claim_text
from fer_lib.paths import REPO_ROOT, runs_dir
from fer_lib.runs import list_runs

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


@dataclass
class NotebookRun:
    name: str
    status: str            # "ok" or "failed: <error>"
    seconds: float
    output: Path


def notebook_paths(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (NN_name.ipynb) in running order."""
    return sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))


def prepare_notebooks(profile: str, out_dir: Path, parameters: dict[str, Any] | None = None) -> list[Path]:
    """Copies of every notebook with `profile` (and `parameters`) injected, not executed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = []
    for source in notebook_paths():
        target = out_dir / source.name
        papermill.execute_notebook(source, target, parameters={"profile": profile, **(parameters or {})},
                                   prepare_only=True, progress_bar=False)
        prepared.append(target)
    return prepared


CELL_TIMEOUT = 3600     # seconds per cell: a hung cell fails its notebook and the run goes on to the next


def run_notebooks(profile: str, parameters: dict[str, Any] | None = None, names: list[str] | None = None) -> tuple[list[NotebookRun], Path]:
    """Execute the notebooks (all, or those whose name starts with one of `names`); returns runs and report path."""
    run_root = runs_dir() / profile
    out_dir = run_root / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TQDM_DISABLE"] = "1"   # the kernels inherit it: an executed copy keeps no frozen progress bars
    runs = []
    for source in notebook_paths():
        if names and not any(source.stem.startswith(n) for n in names):
            continue
        target = out_dir / source.name
        print(f"== {source.name} (profile {profile})", flush=True)
        started = time.perf_counter()
        try:
            papermill.execute_notebook(source, target, parameters={"profile": profile, **(parameters or {})},
                                       cwd=str(NOTEBOOKS_DIR), kernel_name="python3", log_output=True,
                                       progress_bar=False, execution_timeout=CELL_TIMEOUT)
            status = "ok"
        except Exception as error:  # papermill wraps the cell's error; keep going, report it
            status = f"failed: {type(error).__name__}: {str(error).strip().splitlines()[-1][:300]}"
        runs.append(NotebookRun(source.stem, status, time.perf_counter() - started, target))
        print(f"   {status} in {runs[-1].seconds:.0f} s", flush=True)
    return runs, write_report(run_root, profile, runs)


def executed_output_problems(path: Path) -> list[str]:
    """Warnings, frozen progress bars and widget text left in an executed notebook's outputs."""
    problems = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            if output.get("name") == "stderr" and re.search(r"warn", text, re.IGNORECASE):
                problems.append(f"{path.name} cell {index}: a warning: {text.strip()[:160]}")
            if re.search(r"\d+%\|", text):
                problems.append(f"{path.name} cell {index}: a frozen progress bar: {text.strip()[:160]}")
            if "interactive(children=" in text:
                problems.append(f"{path.name} cell {index}: widget text instead of a picture")
    return problems


def latest_notebook_folder(run_root: Path, notebook: str) -> Path | None:
    """The folder of `notebook`'s most recently used run under run_root (from the runs index), if any."""
    runs = {name: entry for name, entry in list_runs(run_root.name, "notebook").items() if entry["label"] == notebook}
    if not runs:
        return None
    return run_root / max(runs, key=lambda name: runs[name]["used"])


def write_report(run_root: Path, profile: str, runs: list[NotebookRun]) -> Path:
    """runs/<profile>/report.md: the notebooks' status and time, then every claim with its verdict, then the key
    figures, and the measured numbers of each notebook last."""
    lines = [f"# fer-ssl run report: profile `{profile}`", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by `make run` (fer_lib.notebook_runner).", "",
             "| notebook | status | minutes |", "|---|---|---|"]
    lines += [f"| [{r.name}](notebooks/{r.output.name}) | {r.status} | {r.seconds / 60:.1f} |" for r in runs]
    problems = [problem for r in runs if r.output.is_file() for problem in executed_output_problems(r.output)]
    lines += ["", "Outputs a reader should not have to read past (warnings, frozen progress bars, widget text):"]
    lines += [f"- {problem}" for problem in problems] or ["none."]
    folders = {run.name: latest_notebook_folder(run_root, run.name) for run in runs}
    claims = [(name, claim) for name, folder in folders.items() if folder is not None and (folder / "claims.json").is_file()
              for claim in json.loads((folder / "claims.json").read_text())]
    lines += ["", "## Claims and what this run measured", "",
              "Effect: accuracy of the first model minus the second on the same test images, with two paired standard "
              "errors as the noise level. One seed: the claims benchmark (`benchmarks/bench_claims.py`) repeats them "
              "over seeds.", "", "| notebook | claim | effect (points) | 2 SE | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {claim_text(c)} | {100 * c['effect']:+.1f} | {200 * c['standard_error']:.1f} | "
              f"{c['verdict']} |" for name, c in claims] or ["| | no claims recorded | | | |"]
    lines += ["", "## Key figures"]
    for name, folder in folders.items():
        for figure in sorted(folder.glob("figures/*.png")) if folder is not None else []:
            lines += ["", f"![{name}: {figure.stem}]({folder.name}/figures/{figure.name})"]
    lines += ["", "## Measured numbers"]
    for run in runs:
        lines += ["", f"### {run.name}", ""]
        metrics_path = None if folders[run.name] is None else folders[run.name] / "metrics.json"
        if metrics_path is not None and metrics_path.is_file():
            metrics = json.loads(metrics_path.read_text())
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        else:
            lines.append("No metrics recorded (the notebook did not reach its closing cell).")
    report = run_root / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
