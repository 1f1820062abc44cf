"""The student edition: `make student` (`python -m fer_lib student`) writes build/student/NN_*.ipynb.

The notebooks in notebooks/ are the teacher edition. In the student edition every code cell tagged `solution`
becomes a stub, tagged `exercise`: its imports and each function's signature and docstring stay, the body becomes
`raise NotImplementedError("write <name>")`, which the check cell below it reports in words, with the docstring's
first line. Every output is cleared and every execution count reset. fer_lib.exercises says how to add an exercise.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from fer_lib.notebook_runner import notebook_paths
from fer_lib.paths import REPO_ROOT

SOLUTION_TAG, CHECK_TAG, EXERCISE_TAG = "solution", "check", "exercise"
STUDENT_DIR = REPO_ROOT / "build" / "student"
STUB_NOTE = "# Exercise: write the body of each function below (replace the `raise`), then run the check cell under it."


def stub_source(solution: str) -> str:
    """A solution cell's source as its stub: imports and signatures with docstrings kept, bodies replaced."""
    lines = solution.splitlines()
    imports, functions = [], []
    for node in ast.parse(solution).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append("\n".join(lines[node.lineno - 1:node.end_lineno]))
        elif isinstance(node, ast.FunctionDef):
            docstring = ast.get_docstring(node)
            if docstring is None:
                raise ValueError(f"{node.name} has no docstring, so its stub could not say what to write")
            first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            head = "\n".join(lines[first - 1:node.body[0].end_lineno])       # decorators, signature, docstring
            functions.append(f"{head}\n{' ' * node.body[0].col_offset}raise NotImplementedError(\"write {node.name}\")")
        else:
            raise ValueError(f"line {node.lineno}: a solution cell holds only imports and functions")
    if not functions:
        raise ValueError("a solution cell defines no function")
    return "\n\n\n".join(["\n".join([STUB_NOTE, *imports]), *functions])


def student_notebook(source: Path, target: Path) -> Path:
    """Write the student edition of the notebook `source` to `target`."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG in tags:
            cell.source = stub_source(cell.source)
            cell.metadata["tags"] = [EXERCISE_TAG if tag == SOLUTION_TAG else tag for tag in tags]
        cell.outputs, cell.execution_count = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def write_student_edition(out_dir: Path = STUDENT_DIR, notebooks: list[Path] | None = None) -> list[Path]:
    """The student edition of every numbered notebook (or of `notebooks`) in `out_dir`."""
    return [student_notebook(source, out_dir / source.name) for source in notebooks or notebook_paths()]
