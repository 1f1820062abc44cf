"""Each notebook's measured time at `quick`, written into the instructor's guide and the notebooks' header boxes.

    .venv/bin/python benchmarks/teaching_times.py [--write]

The time of a notebook comes from the notebooks benchmark (`bench_notebooks.py`: `make run`'s machinery on a
2-core CPU) when it ran the notebook, else from the claims benchmark (`bench_claims.py`, one thread per seed:
the median over its seeds, with their range), else it is "not measured yet". Without --write the times are
printed; with it each `<!-- time:NN -->...<!-- /time -->` span in docs/teaching.md and in the markdown cells of
notebooks/NN_*.ipynb is replaced by notebook NN's time.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
NOTEBOOKS_REPORT = RESULTS / "notebooks_quick_cpu.json"
CLAIMS_REPORT = RESULTS / "claims_quick_cpu_threads1.json"
GUIDE = REPO / "docs" / "teaching.md"
NOT_MEASURED = "not measured yet"
SPAN = re.compile(r"<!-- time:(\d\d) -->(.*?)<!-- /time -->", re.DOTALL)


def measured_times(notebooks_report: Path = NOTEBOOKS_REPORT, claims_report: Path = CLAIMS_REPORT) -> dict[str, str]:
    """Notebook number ("01") -> its time at `quick` in words, from the reports that exist."""
    times = {}
    if claims_report.is_file():
        for number, seeds in json.loads(claims_report.read_text())["notebooks"].items():
            minutes = sorted(measured["seconds"] / 60 for measured in seeds.values())
            if re.fullmatch(r"\d\d", number) and minutes:
                seeds = (f"median of {len(minutes)} seeds, {minutes[0]:.1f} to {minutes[-1]:.1f}" if len(minutes) > 1
                         else "one seed")
                times[number] = f"{statistics.median(minutes):.1f} min (claims benchmark, {seeds})"
    if notebooks_report.is_file():
        for run in json.loads(notebooks_report.read_text())["notebooks"]:
            if run["status"] == "ok":
                times[run["name"][:2]] = f"{run['minutes']:.1f} min (notebooks benchmark)"
    return times


def fill_times(text: str, times: dict[str, str]) -> str:
    """`text` with every time span replaced by its notebook's time (NOT_MEASURED where there is none)."""
    return SPAN.sub(lambda match: f"<!-- time:{match[1]} -->{times.get(match[1], NOT_MEASURED)}<!-- /time -->", text)


def write_times(times: dict[str, str], guide: Path = GUIDE, notebooks: list[Path] | None = None) -> list[Path]:
    """Rewrite the time spans of the guide and of the notebooks' markdown cells; returns the files that changed."""
    changed = []
    if guide.read_text() != (text := fill_times(guide.read_text(), times)):
        guide.write_text(text)
        changed.append(guide)
    for path in notebooks if notebooks is not None else sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        before = [cell.source for cell in notebook.cells]
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = fill_times(cell.source, times)
        if [cell.source for cell in notebook.cells] != before:
            nbformat.write(notebook, path)
            changed.append(path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite docs/teaching.md and the notebooks' header boxes")
    args = parser.parse_args()
    times = measured_times()
    if not args.write:
        print("\n".join(f"{number}: {text}" for number, text in sorted(times.items())))
        return
    for path in write_times(times):
        print(f"updated {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
