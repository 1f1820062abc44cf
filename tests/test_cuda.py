"""The CUDA paths: mixed precision (bf16 and fp16 with loss scaling), checkpoints that move between GPU and
CPU, exact resume on the GPU and the recipes end to end. Skipped where torch sees no GPU (CI); run them on
a GPU machine with `pytest tests/test_cuda.py`."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import fer_lib.engine.train as train_module
from fer_lib.config import make_config
from fer_lib.data.registry import load_splits
from fer_lib.engine.train import fit
from fer_lib.methods.supervised import SupervisedCE
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.models.mae import build_mae
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.recipes.pretrain import pretrain_mae
from fer_lib.recipes.probe import probe_encoder
from tests.train_tiny import tiny_dataset, tiny_model, tiny_settings, train_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_bf16_training_on_the_gpu_learns_and_its_checkpoint_loads_on_the_cpu(tmp_path: Path) -> None:
    result = train_tiny(tmp_path, epochs=6, device="cuda", amp=True)
    assert next(result.model.parameters()).is_cuda
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < losses[0]
    checkpoint = read_checkpoint(tmp_path / "last.pt")
    assert all(tensor.device.type == "cpu" for tensor in checkpoint["model"].values())
    cpu_model = tiny_model()
    cpu_model.load_state_dict(checkpoint["model"])


def test_fp16_loss_scaling_is_used_and_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GPUs without bf16 (V100, T4) train in fp16 with a GradScaler; its state is checkpointed."""
    monkeypatch.setattr(train_module, "autocast_dtype", lambda device, amp: torch.float16)
    result = train_tiny(tmp_path, epochs=3, device="cuda", amp=True)
    assert [r["train_loss"] for r in result.history][-1] < result.history[0]["train_loss"]
    scaler_state = read_checkpoint(tmp_path / "last.pt")["scaler"]
    assert scaler_state and scaler_state["scale"] > 0  # a disabled scaler saves an empty state


def test_an_interrupted_gpu_run_resumes_to_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    settings = dict(device="cuda", amp=False, checkpoint_every_steps=1)
    unbroken = train_tiny(tmp_path / "unbroken", **settings).model.state_dict()

    def crash(step: int) -> None:
        if step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), SupervisedCE(label_smoothing=0.1), tiny_dataset(), tiny_settings(**settings),
            tmp_path / "broken", on_step=crash)
    resumed = train_tiny(tmp_path / "broken", **settings).model.state_dict()
    for key in unbroken:
        torch.testing.assert_close(resumed[key], unbroken[key], atol=1e-5, rtol=1e-5, msg=key)


def test_the_vit_b16_mae_loss_under_bf16_autocast_matches_float32() -> None:
    model = build_mae("vit_base_patch16", "dec512d8b", img_size=224, norm_pix_loss=True).cuda()
    images = torch.randn(4, 3, 224, 224, device="cuda")
    torch.manual_seed(0)
    loss32, _, mask32 = model(images, 0.75)
    torch.manual_seed(0)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss16, _, mask16 = model(images, 0.75)
    assert torch.equal(mask32, mask16)
    assert loss16.item() == pytest.approx(loss32.item(), rel=2e-2)


def test_pretraining_finetuning_and_probing_run_end_to_end_on_the_gpu() -> None:
    cfg = make_config("smoke", device="cuda", finetune_epochs=2)
    splits = load_splits(cfg.data)
    mae = pretrain_mae(cfg, "face")
    assert next(mae.model.parameters()).is_cuda
    result = finetune_and_evaluate(cfg, mae.checkpoint, splits)
    assert next(result.model.parameters()).is_cuda
    assert result.test.num_samples == len(splits.test)
    probe = probe_encoder(cfg, mae.checkpoint, splits)
    assert probe.features["test"].device.type == "cpu"
    assert 0.0 <= probe.linear.test.accuracy <= 1.0
