"""The command line trains through the same recipes as the notebooks."""
import json
import os
import subprocess
import sys
from pathlib import Path


def test_finetune_from_the_command_line_at_smoke_reports_test_metrics(tmp_path: Path) -> None:
    env = {**os.environ, "FER_SSL_RUNS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "fer_lib", "finetune", "--profile", "smoke", "--init", "scratch",
                           "--run-tag", "cli"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "init=scratch: best epoch 1" in done.stdout and "test acc" in done.stdout
    assert json.loads((tmp_path / "smoke" / "finetune_scratch_cli" / "history.json").read_text())[0]["epoch"] == 1


def test_an_unknown_config_flag_is_rejected() -> None:
    done = subprocess.run([sys.executable, "-m", "fer_lib", "finetune", "--mask-ration", "0.5"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unrecognized arguments: --mask-ration" in done.stderr
