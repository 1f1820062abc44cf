"""The method API: a method is an nn.Module whose parameters train and whose state resumes; fit trains on
named streams; a batch transform is a step fit composes; samples carry what a method asks for."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_lib.data.base import DatasetError
from fer_lib.data.requests import SampleRequest
from fer_lib.engine.train import fit
from fer_lib.methods.base import LossOutput, Method, StepContext
from fer_lib.methods.mixing import MixBatch, MixingSettings
from fer_lib.methods.supervised import SupervisedCE
from fer_lib.models.checkpoints import read_checkpoint
from tests.train_stateful import StatefulEntropy, stateful_streams, train_stateful
from tests.train_tiny import tiny_dataset, tiny_model, tiny_settings

SCRIPT = Path(__file__).with_name("train_stateful.py")
SCRIPT_ENV = {**os.environ, "PYTHONPATH": str(SCRIPT.parent.parent), "OMP_NUM_THREADS": "1"}


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_methods_parameters_train_and_its_state_is_checkpointed(tmp_path: Path) -> None:
    result, method = train_stateful(tmp_path)
    assert method.log_temperature.item() != 0.0                      # optimised with the model
    assert method.epochs_started.item() == 2 and method.class_loss.abs().sum() > 0
    saved = read_checkpoint(tmp_path / "last.pt")["method"]
    assert states_equal(saved, method.state_dict()) and {"log_temperature", "loss_average", "class_loss"} <= set(saved)
    assert len(method.identities_seen) == 16                           # the request reached the labeled stream
    assert "train_temperature" in result.history[-1]


def test_a_killed_two_stream_run_with_a_stateful_method_resumes_exactly(tmp_path: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run([sys.executable, str(SCRIPT), str(reference)], check=True, env=SCRIPT_ENV)
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(killed), "--step-delay", "0.3"], env=SCRIPT_ENV)
    deadline = time.time() + 120
    while time.time() < deadline:                                      # 6 steps per epoch: kill in epoch 2
        if (killed / "last.pt").exists() and read_checkpoint(killed / "last.pt")["global_step"] >= 8:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "final.pt").exists()
    subprocess.run([sys.executable, str(SCRIPT), str(killed)], check=True, env=SCRIPT_ENV)
    final, expected = (torch.load(path / "final.pt", weights_only=True) for path in (killed, reference))
    assert states_equal(final["model"], expected["model"]) and states_equal(final["method"], expected["method"])


def test_every_stream_gets_its_own_batch_size_and_a_short_stream_starts_its_next_epoch(tmp_path: Path) -> None:
    seen: list[tuple[int, int, tuple[int, ...]]] = []

    class Spy(StatefulEntropy):
        def forward(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
            seen.append((len(batch["labeled"]["index"]), len(batch["unlabeled"]["index"]),
                         tuple(batch["unlabeled"]["index"].tolist())))
            return super().forward(model, batch, ctx)

    settings = tiny_settings(epochs=1, stream_batch_sizes={"unlabeled": 24})
    fit(tiny_model(), Spy(), stateful_streams(), settings, tmp_path)
    assert [(labeled, unlabeled) for labeled, unlabeled, _ in seen] == [(16, 24)] * 6
    unlabeled_epochs = [set(sum((list(ids) for _, _, ids in seen[start:start + 2]), [])) for start in (0, 2, 4)]
    assert all(len(ids) == 48 for ids in unlabeled_epochs)            # 64 images, 2 batches of 24 per epoch
    assert seen[0][2] != seen[2][2]                                     # each of its epochs is reshuffled
    with pytest.raises(ValueError, match="unlabeled.*stream_batch_sizes"):
        fit(tiny_model(), StatefulEntropy(), stateful_streams(), tiny_settings(), tmp_path / "no-size")


class SoftTargetSpy(SupervisedCE):
    """Cross-entropy that records the soft targets a batch transform left."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[torch.Tensor] = []

    def forward(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        self.targets.append(batch["target"])
        return super().forward(model, batch, ctx)


def test_a_batch_transform_mixes_inside_fit_and_a_mixed_run_resumes_exactly(tmp_path: Path) -> None:
    mixing = MixBatch(MixingSettings(mixup_alpha=0.8, cutmix_alpha=1.0), num_classes=7, label_smoothing=0.1)
    spy = SoftTargetSpy()
    unbroken = fit(tiny_model(), spy, tiny_dataset(), tiny_settings(checkpoint_every_steps=1), tmp_path / "a",
                   batch_transform=mixing).model.state_dict()
    assert spy.targets[0].shape == (16, 7) and torch.allclose(spy.targets[0].sum(dim=1), torch.ones(16))
    assert (spy.targets[0].max(dim=1).values < 0.95).any()              # mixed, not one-hot

    def crash(step: int) -> None:
        if step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), SupervisedCE(), tiny_dataset(), tiny_settings(checkpoint_every_steps=1), tmp_path / "b",
            batch_transform=mixing, on_step=crash)
    np.random.seed(12345)                                               # a resumed run restores NumPy's RNG too
    resumed = fit(tiny_model(), SupervisedCE(), tiny_dataset(), tiny_settings(checkpoint_every_steps=1),
                  tmp_path / "b", batch_transform=mixing).model.state_dict()
    assert states_equal(resumed, unbroken)


class TwoViewIdentity(Method):
    """A SimCLR-shaped consumer: two views of each image and the person's identity."""

    request = SampleRequest(meta=("identity",), views=2, partners=("same_expression_other_person",))

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict[str, Any]] = []

    def forward(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        self.batches.append(batch)
        first, second = (model(view) for view in batch["image"])
        return LossOutput(F.mse_loss(first, second) + model(batch["same_expression_other_person"]).mean() * 0)


def test_a_method_gets_the_metadata_and_the_extra_views_it_asks_for(tmp_path: Path) -> None:
    data = dataclasses.replace(tiny_dataset(), meta={"identity": np.arange(96) % 6}, name="tiny-people")
    method = TwoViewIdentity()
    fit(tiny_model(), method, data, tiny_settings(epochs=1), tmp_path)
    batch = method.batches[0]
    assert len(batch["image"]) == 2 and not torch.equal(batch["image"][0], batch["image"][1])
    assert torch.equal(batch["identity"], batch["index"] % 6)
    found = batch["same_expression_other_person_found"]
    partner = batch["same_expression_other_person_index"]
    labels = torch.as_tensor(data.labels)
    assert found.any() and torch.equal(labels[partner[found]], batch["label"][found])
    assert (batch["identity"][found] != partner[found] % 6).all()


def test_a_dataset_without_a_requested_key_is_an_error_naming_the_method_and_the_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="TwoViewIdentity needs identity from dataset 'dataset'"):
        fit(tiny_model(), TwoViewIdentity(), tiny_dataset(), tiny_settings(epochs=1), tmp_path)
