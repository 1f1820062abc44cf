"""The notebooks run unchanged on a real dataset layout: only `dataset` and `data_root` change."""
from __future__ import annotations

from pathlib import Path

import papermill
import pytest

from fer_lib.data.real.fixtures import write_rafdb
from fer_lib.notebook_runner import NOTEBOOKS_DIR


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["01_datasets", "03_finetune_eval"])
def test_notebook_runs_on_a_rafdb_layout_by_changing_parameters_only(notebook: str, tmp_path: Path) -> None:
    rows = [(f"{split}_{index:05d}.jpg", index % 7 + 1)   # enough images for one smoke batch of 64 after val
            for split, count in (("train", 140), ("test", 28)) for index in range(1, count + 1)]
    root = write_rafdb(tmp_path / "RAF-DB", rows)
    output = tmp_path / f"{notebook}.ipynb"
    papermill.execute_notebook(NOTEBOOKS_DIR / f"{notebook}.ipynb", output, cwd=str(NOTEBOOKS_DIR),
                               parameters={"profile": "smoke", "dataset": "rafdb", "data_root": str(root)},
                               kernel_name="python3", progress_bar=False)
    assert "rafdb" in output.read_text()
