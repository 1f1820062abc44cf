"""Notebook sources are clean and follow the collection's conventions; `make run`'s machinery works."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from fer_lib.config import FLAT_NAMES
from fer_lib.notebook_runner import (executed_output_problems, latest_notebook_folder, notebook_paths,
                                     run_notebooks)

NOTEBOOKS = notebook_paths()
# Parameters that are not run settings but choices of one notebook (documented in its parameters cell).
NOTEBOOK_ONLY_PARAMETERS = {"init_checkpoint", "use_zoo", "claim_runs", "full_ablation", "photo", "checkpoint",
                            "mae_checkpoint"}


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


SELECTING_CALLS = {"max", "min", "sorted", "argmax", "argmin"}


def selects_on_test(call: ast.Call, code: str) -> bool:
    """Whether `call` picks among candidates by something that mentions the test split: max / min / sorted with a
    key, or over one collection, and argmax / argmin over a whole array (not per row: no dim / axis)."""
    name = getattr(call.func, "id", getattr(call.func, "attr", ""))
    if name not in SELECTING_CALLS:
        return False
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    if name in ("argmax", "argmin"):
        judged = [] if {"dim", "axis"} & set(keywords) else [call]
    else:
        judged = [keywords["key"]] if "key" in keywords else call.args if len(call.args) == 1 else []
    return any(re.search(r"\btest", ast.get_source_segment(code, node) or "") for node in judged)


def test_selection_calls_never_read_the_test_split() -> None:
    """A choice (the best model, the best C, the best epoch) is made on validation: no max / min / sorted /
    argmax in a notebook picks by something that mentions the test split."""
    offences = []
    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        code = code.replace("%matplotlib inline", "")
        offences += [f"{path.name}: {ast.get_source_segment(code, node)[:120]}" for node in ast.walk(ast.parse(code))
                     if isinstance(node, ast.Call) and selects_on_test(node, code)]
    assert not offences, "selection on the test split:\n" + "\n".join(offences)


def test_the_selection_check_catches_a_choice_made_on_test() -> None:
    code = "best = max(probes, key=lambda name: probes[name].test.accuracy)\nsize = min(256, len(splits.test))\n"
    calls = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)]
    assert [selects_on_test(call, code) for call in calls if getattr(call.func, "id", "") in ("max", "min")] == [True, False]


def test_the_output_scan_finds_warnings_progress_bars_and_widget_text(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="ConvergenceWarning: lbfgs failed"),
        nbformat.v4.new_output("stream", name="stderr", text="epoch 1/5:   0%|          | 0/62"),
        nbformat.v4.new_output("display_data", data={"text/plain": "interactive(children=(IntSlider(value=0),))"})])])
    nbformat.write(notebook, tmp_path / "dirty.ipynb")
    assert len(executed_output_problems(tmp_path / "dirty.ipynb")) == 3


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
        assert not executed_output_problems(run.output)


ABLATING = [path for path in NOTEBOOKS if "full_ablation" in papermill.inspect_notebook(path)]


@pytest.mark.slow
@pytest.mark.parametrize("path", ABLATING, ids=lambda p: p.stem)
def test_notebook_runs_every_row_with_full_ablation_at_smoke(path: Path, tmp_path: Path) -> None:
    """The cells nbval's default run skips (the rows of `claim_runs` and `full_ablation`, which the claims
    benchmark and researchers run) execute too."""
    papermill.execute_notebook(path, tmp_path / path.name, parameters={"profile": "smoke", "full_ablation": True},
                               cwd=str(path.parent), progress_bar=False)
    assert not executed_output_problems(tmp_path / path.name)
