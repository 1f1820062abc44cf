"""The command line trains through the same recipes as the notebooks, seeded where the run starts."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

FINETUNE = [sys.executable, "-m", "fer_lib", "finetune", "--profile", "smoke", "--init", "scratch"]


def cli(runs: Path, *flags: str, **popen: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "FER_SSL_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*FINETUNE, *flags], env=env, capture_output=True, text=True, timeout=600, **popen)


def run_folder(runs: Path) -> Path:
    (folder,) = (runs / "smoke").glob("finetune-scratch-*")
    return folder


def final_weights(runs: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_folder(runs) / "last.pt", weights_only=True)["model"]


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_finetune_from_the_command_line_at_smoke_reports_test_metrics(tmp_path: Path) -> None:
    done = cli(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scratch: best epoch 1" in done.stdout and "test acc" in done.stdout
    assert json.loads((run_folder(tmp_path) / "history.json").read_text())[0]["epoch"] == 1


def test_the_same_command_twice_gives_bit_identical_weights_and_metrics(tmp_path: Path) -> None:
    first, second, other_seed = (cli(tmp_path / name, "--finetune-epochs", "3", *flags)
                                 for name, flags in (("a", ()), ("b", ()), ("c", ("--seed", "1"))))
    assert first.returncode == second.returncode == other_seed.returncode == 0, first.stderr[-2000:]
    summary = [line for line in first.stdout.splitlines() if "test acc" in line]
    assert summary and summary == [line for line in second.stdout.splitlines() if "test acc" in line]
    assert same_weights(final_weights(tmp_path / "a"), final_weights(tmp_path / "b"))
    assert not same_weights(final_weights(tmp_path / "a"), final_weights(tmp_path / "c"))


def test_a_sigkilled_cli_run_resumes_to_the_unbroken_runs_weights(tmp_path: Path) -> None:
    flags = ("--finetune-epochs", "8", "--checkpoint-every-steps", "1")
    unbroken = cli(tmp_path / "unbroken", *flags)
    assert unbroken.returncode == 0, unbroken.stderr[-2000:]

    runs = tmp_path / "killed"
    env = {**os.environ, "FER_SSL_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([*FINETUNE, *flags], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((runs / "smoke").glob("finetune-scratch-*/last.pt")) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    steps_done = torch.load(run_folder(runs) / "last.pt", weights_only=True)["global_step"]
    assert 0 < steps_done < 8 * 6, "the run was not killed mid-way"
    resumed = cli(runs, *flags)
    assert resumed.returncode == 0 and "resuming from" in resumed.stdout, resumed.stderr[-2000:]
    assert same_weights(final_weights(runs), final_weights(tmp_path / "unbroken"))


def test_an_unknown_config_flag_is_rejected() -> None:
    done = subprocess.run([sys.executable, "-m", "fer_lib", "finetune", "--mae-mask-ration", "0.5"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unrecognized arguments: --mae-mask-ration" in done.stderr


def test_finetuning_from_a_missing_mae_names_the_command_that_makes_it(tmp_path: Path) -> None:
    done = cli(tmp_path, "--init", "mae:face")
    assert done.returncode != 0 and "pretrain-mae --domain face --profile smoke" in done.stderr


def test_the_method_commands_train_and_report_at_smoke(tmp_path: Path) -> None:
    """Each method of notebooks 04-07 runs from the command line (its paper-scale entry point, with --profile full)."""
    env = {**os.environ, "FER_SSL_RUNS": str(tmp_path), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    base = [sys.executable, "-m", "fer_lib"]
    smoke = ["--profile", "smoke", "--synthfer-train", "128", "--synthfer-val", "64", "--synthfer-test", "64"]
    commands = {"contrastive-pretrain": ["--contrastive-loss", "crs_cont", "--contrastive-pretrain-sequences", "8"],
                "finetune": ["--method", "facemix"], "noisy": ["--noise-kind", "symmetric", "--noise-rate", "0.2"]}
    for command, flags in commands.items():
        done = subprocess.run([*base, command, *smoke, *flags], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
        assert ("probe_acc" in done.stdout) if command == "contrastive-pretrain" else ("test acc" in done.stdout)
