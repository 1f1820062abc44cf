"""The student edition: generated from the teacher edition, with every exercise's check passing on the solution
and failing in words, not a traceback, on the stub."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pytest

from fer_lib.notebook_runner import notebook_paths
from fer_lib.student import CHECK_TAG, EXERCISE_TAG, SOLUTION_TAG, stub_source, write_student_edition

NOTEBOOKS = notebook_paths()


def tagged(cell: nbformat.NotebookNode, tag: str) -> bool:
    return cell.cell_type == "code" and tag in cell.metadata.get("tags", [])


def exercise_pairs(notebook: nbformat.NotebookNode, tag: str) -> list[tuple[str, str]]:
    """(exercise cell source, its check cell source): each cell tagged `tag` with the first check cell after it."""
    pairs, pending = [], None
    for cell in notebook.cells:
        if tagged(cell, tag):
            assert pending is None, f"two {tag} cells without a check cell between them:\n{cell.source[:200]}"
            pending = cell.source
        elif tagged(cell, CHECK_TAG):
            assert pending is not None, f"a check cell without a {tag} cell before it:\n{cell.source[:200]}"
            pairs.append((pending, cell.source))
            pending = None
    assert pending is None, f"a {tag} cell without a check cell after it:\n{pending[:200]}"
    return pairs


def run_exercises(pairs: list[tuple[str, str]]) -> list[str]:
    """Execute the exercise and check cells alone, in order, in one namespace; what each check cell printed."""
    namespace: dict = {}
    printed = []
    for exercise, check in pairs:
        exec(compile(exercise, "<exercise cell>", "exec"), namespace)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(check, "<check cell>", "exec"), namespace)
        printed.append(output.getvalue())
    return printed


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("student")
    write_student_edition(out_dir)
    return out_dir


def test_the_student_edition_has_every_notebook_without_outputs_or_solutions(student_edition: Path) -> None:
    assert sorted(p.name for p in student_edition.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in student_edition.glob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        assert not [c for c in cells if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
        assert not [c for c in cells if tagged(c, SOLUTION_TAG)], f"{path.name} still holds a solution"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_solution_passes_its_check(path: Path) -> None:
    pairs = exercise_pairs(nbformat.read(path, as_version=4), SOLUTION_TAG)
    for output in run_exercises(pairs):
        assert output.startswith("✓") and "matches" in output, output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_stub_fails_its_check_in_words(path: Path, student_edition: Path) -> None:
    pairs = exercise_pairs(nbformat.read(student_edition / path.name, as_version=4), EXERCISE_TAG)
    assert len(pairs) == len(exercise_pairs(nbformat.read(path, as_version=4), SOLUTION_TAG))
    for output in run_exercises(pairs):
        assert output.startswith("✗") and "not implemented yet: write " in output, output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_implementation_exercises(path: Path) -> None:
    assert exercise_pairs(nbformat.read(path, as_version=4), SOLUTION_TAG)


def test_a_stub_keeps_imports_signature_and_docstring_and_says_what_to_write() -> None:
    solution = ('import torch\n\n\n@torch.no_grad()\ndef double(x: torch.Tensor) -> torch.Tensor:\n'
                '    """Twice x.\n\n    x: any shape."""\n    return 2 * x  # the answer\n')
    stub = stub_source(solution)
    assert "import torch" in stub and "@torch.no_grad()\ndef double(x: torch.Tensor) -> torch.Tensor:" in stub
    assert '"""Twice x.\n\n    x: any shape."""\n    raise NotImplementedError("write double")' in stub
    assert "2 * x" not in stub and "the answer" not in stub


def test_a_solution_cell_with_other_statements_is_refused() -> None:
    with pytest.raises(ValueError, match="only imports and functions"):
        stub_source('def double(x):\n    """Twice x."""\n    return 2 * x\n\n\nprint(double(2))\n')
    with pytest.raises(ValueError, match="no docstring"):
        stub_source("def double(x):\n    return 2 * x\n")
