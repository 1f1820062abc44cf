"""The train loop: learning, exact resume after a crash or a kill, NaN detection, accumulation, DDP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fer_lib.models.checkpoints import CheckpointError, load_weights, read_checkpoint
from fer_lib.engine.sampler import SeededBatchSampler
from fer_lib.engine.train import NonFiniteLossError, fit
from fer_lib.methods.base import LossOutput, Method, StepContext
from fer_lib.methods.supervised import SupervisedCE
from tests.train_tiny import tiny_dataset, tiny_model, tiny_settings, train_tiny

TINY_SCRIPT = Path(__file__).with_name("train_tiny.py")
SCRIPT_ENV = {**os.environ, "PYTHONPATH": str(TINY_SCRIPT.parent.parent), "OMP_NUM_THREADS": "1"}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0 if atol == 0 else 1e-5, msg=key)


def test_training_lowers_the_loss_and_writes_history_and_checkpoint(tmp_path: Path) -> None:
    result = train_tiny(tmp_path, epochs=6)
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < losses[0]
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 6
    checkpoint = read_checkpoint(tmp_path / "last.pt")
    assert checkpoint["epoch"] == 6 and checkpoint["ema"] is not None


def test_a_run_interrupted_mid_epoch_resumes_to_the_same_weights(tmp_path: Path) -> None:
    unbroken = train_tiny(tmp_path / "unbroken", checkpoint_every_steps=1).model.state_dict()

    def crash(step: int) -> None:
        if step == 8:  # 6 steps per epoch: mid-way through epoch 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), SupervisedCE(label_smoothing=0.1), tiny_dataset(),
            tiny_settings(checkpoint_every_steps=1), tmp_path / "broken", on_step=crash)
    assert read_checkpoint(tmp_path / "broken" / "last.pt")["global_step"] == 8
    resumed = train_tiny(tmp_path / "broken", checkpoint_every_steps=1)
    assert_same_weights(resumed.model.state_dict(), unbroken)
    assert [r["train_loss"] for r in resumed.history] == pytest.approx(
        [r["train_loss"] for r in json.loads((tmp_path / "unbroken" / "history.json").read_text())])


def test_a_killed_process_resumes_to_the_same_weights(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    subprocess.run([sys.executable, str(TINY_SCRIPT), str(reference), "--checkpoint-every", "1"],
                   check=True, env=SCRIPT_ENV)
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, str(TINY_SCRIPT), str(killed), "--checkpoint-every", "1",
                                "--step-delay", "0.3"], env=SCRIPT_ENV)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (killed / "last.pt").exists() and read_checkpoint(killed / "last.pt")["global_step"] >= 3:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "final.pt").exists()
    subprocess.run([sys.executable, str(TINY_SCRIPT), str(killed), "--checkpoint-every", "1"],
                   check=True, env=SCRIPT_ENV)
    assert_same_weights(torch.load(killed / "final.pt", weights_only=True),
                        torch.load(reference / "final.pt", weights_only=True))


def test_a_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    class NaNAtStep8(Method):
        def forward(self, model: torch.nn.Module, batch: dict, ctx: StepContext) -> LossOutput:
            loss = torch.nn.functional.cross_entropy(model(batch["image"]), batch["label"])
            return LossOutput(loss * float("nan") if ctx.global_step == 8 else loss)

    with pytest.raises(NonFiniteLossError, match="loss is nan at epoch 2, step 3.*last.pt.*intact"):
        fit(tiny_model(), NaNAtStep8(), tiny_dataset(), tiny_settings(checkpoint_every_steps=1), tmp_path)
    assert read_checkpoint(tmp_path / "last.pt")["global_step"] == 8


def test_gradient_accumulation_matches_the_full_batch(tmp_path: Path) -> None:
    full = train_tiny(tmp_path / "full").model.state_dict()
    accumulated = train_tiny(tmp_path / "accumulated", micro_batch_size=4).model.state_dict()
    assert_same_weights(accumulated, full, atol=1e-5)


def test_a_checkpoint_of_another_architecture_names_the_mismatched_keys(tmp_path: Path) -> None:
    train_tiny(tmp_path, epochs=1)
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, stride=2), torch.nn.GELU(), torch.nn.Linear(16, 7))
    with pytest.raises(CheckpointError, match=r"missing keys \[2.bias, 2.weight\]; unexpected keys \[5.bias, 5.weight\]; mismatched shapes \[0.bias: checkpoint \(8,\) vs model \(16,\)"):
        load_weights(other, tmp_path / "last.pt")


def test_a_truncated_checkpoint_gives_an_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="broken.pt could not be read"):
        read_checkpoint(broken)


def test_two_processes_see_exactly_the_samples_of_one_process() -> None:
    single = [sum(SeededBatchSampler(40, 8, seed=1), [])]
    ranks = [SeededBatchSampler(40, 8, seed=1, rank=r, world_size=2, accum_steps=2) for r in range(2)]
    union = sorted(sum((sum(iter(r), []) for r in ranks), []))
    assert union == sorted(single[0])


@pytest.mark.slow
def test_torchrun_ddp_on_gloo_matches_a_single_process(tmp_path: Path) -> None:
    single = train_tiny(tmp_path / "single", dropout=0.0).model.state_dict()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", "29517", str(TINY_SCRIPT), str(tmp_path / "ddp"), "--dropout", "0"],
                   check=True, env=SCRIPT_ENV, timeout=300)
    assert_same_weights(torch.load(tmp_path / "ddp" / "final.pt", weights_only=True), single, atol=1e-5)


def test_resuming_with_other_settings_names_what_changed(tmp_path: Path) -> None:
    train_tiny(tmp_path, epochs=1)
    with pytest.raises(CheckpointError, match=r"other settings \(base_lr: 0.05 -> 0.1"):
        train_tiny(tmp_path, epochs=1, base_lr=0.1)


def test_loader_workers_do_not_change_the_result(tmp_path: Path) -> None:
    in_process = train_tiny(tmp_path / "workers0", epochs=1).model.state_dict()
    one_worker = train_tiny(tmp_path / "workers1", epochs=1, num_workers=1).model.state_dict()
    assert_same_weights(one_worker, in_process)
