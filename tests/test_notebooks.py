"""Notebook sources are clean and follow the collection's conventions; `make run`'s machinery works."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from fer_lib.config import FLAT_NAMES
from fer_lib.notebook_runner import latest_notebook_folder, notebook_paths, run_notebooks

NOTEBOOKS = notebook_paths()
# Parameters that are not run settings but choices of one notebook (documented in its parameters cell).
NOTEBOOK_ONLY_PARAMETERS = {"init_checkpoint"}


def test_there_are_numbered_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/NN_*.ipynb not found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_sources_are_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_plain_literals_that_name_settings(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1
        name = statement.targets[0].id
        ast.literal_eval(statement.value)  # raises on anything but a literal
        assert name in FLAT_NAMES or name in NOTEBOOK_ONLY_PARAMETERS, \
            f"{path.name}: parameter {name!r} is not a setting's flat name (fer_lib.config.FLAT_NAMES)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_a_story_and_closes_by_recording_what_it_measured(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert f'run = start("{path.stem}", globals())' in "".join(c.source for c in code)
    assert code[-1].source.startswith("run.finish(") or "\nrun.finish(" in code[-1].source
    assert notebook.cells[-2].cell_type == "markdown"


@pytest.mark.slow
def test_make_run_machinery_executes_every_notebook_at_smoke_and_writes_the_report() -> None:
    runs, report = run_notebooks("smoke")
    assert [r.name for r in runs] == [p.stem for p in NOTEBOOKS]
    failed = [(r.name, r.status) for r in runs if r.status != "ok"]
    assert not failed, failed
    text = report.read_text()
    for run in runs:
        assert run.output.is_file()
        metrics = json.loads((latest_notebook_folder(report.parent, run.name) / "metrics.json").read_text())
        assert metrics and f"## {run.name}" in text
