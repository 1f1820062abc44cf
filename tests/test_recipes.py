"""Fine-tuning and probing recipes, end to end at the smoke profile: model selection on val, never on test;
an explicit initialisation; one run identity, so variants live side by side."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lib.config import make_config
from fer_lib.data.registry import load_splits
from fer_lib.models.checkpoints import CheckpointError
from fer_lib.paths import runs_dir
from fer_lib.recipes.build import mae_model
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.recipes.pretrain import mae_checkpoint, pretrain_mae
from fer_lib.recipes.probe import frozen_features, probe_encoder
from fer_lib.runs import list_runs


def assert_sane(report, num_samples: int, num_classes: int) -> None:
    assert report.num_samples == num_samples and report.confusion.shape == (num_classes, num_classes)
    for value in report.scalars().values():
        assert 0.0 <= value <= 1.0


def test_finetuning_keeps_the_best_val_epoch_and_scores_test_with_it() -> None:
    cfg = make_config("smoke", finetune_epochs=3)
    splits = load_splits(cfg.data)
    result = finetune_and_evaluate(cfg, None, splits)
    assert (result.run_dir / "best.pt").is_file() and result.run_dir.name.startswith("finetune-scratch-")
    history = json.loads((result.run_dir / "history.json").read_text())
    val_acc = [record["val_acc"] for record in history]
    assert len(history) == 3 and result.best_epoch == int(np.argmax(val_acc)) + 1
    # val and test are scored with the same (best.pt) weights: val reproduces the best epoch's val_acc
    assert result.val.accuracy == pytest.approx(max(val_acc), abs=1e-6)
    assert_sane(result.val, len(splits.val), splits.train.num_classes)
    assert_sane(result.test, len(splits.test), splits.train.num_classes)


def test_a_pretrained_mae_is_an_explicit_init_and_its_probe_chooses_c_on_val() -> None:
    cfg = make_config("smoke")
    splits = load_splits(cfg.data)
    with pytest.raises(CheckpointError, match="pretrain-mae --domain face"):
        mae_checkpoint(cfg, "face")                          # nothing pre-trains behind the caller's back
    face_mae = pretrain_mae(cfg, "face").checkpoint
    assert mae_checkpoint(cfg, "face") == face_mae
    result = finetune_and_evaluate(cfg, face_mae, splits)
    assert result.label == "mae_face" and result.run_dir.name.startswith("finetune-mae_face-")
    assert_sane(result.test, len(splits.test), splits.train.num_classes)

    probe = probe_encoder(cfg, face_mae, splits)
    assert probe.linear.val_accuracy == max(probe.linear.val_accuracy_per_c.values())
    assert probe.linear.val_accuracy_per_c[probe.linear.c] == probe.linear.val_accuracy
    assert_sane(probe.linear.test, len(splits.test), splits.train.num_classes)
    assert_sane(probe.knn, len(splits.test), splits.train.num_classes)
    assert probe.features["test"].shape == (len(splits.test), 64)
    assert torch.equal(probe.labels["test"], torch.as_tensor(splits.test.labels))
    scratch_features, _ = frozen_features(cfg, None, splits, torch.device("cpu"))
    assert not torch.allclose(scratch_features["test"], probe.features["test"])


def test_the_random_scratch_encoder_is_the_same_at_every_probe() -> None:
    cfg = make_config("smoke")
    splits = load_splits(cfg.data)
    first, _ = frozen_features(cfg, None, splits, torch.device("cpu"))
    torch.manual_seed(123)
    second, _ = frozen_features(cfg, None, splits, torch.device("cpu"))
    assert torch.equal(first["val"], second["val"])


def test_an_official_layout_mae_checkpoint_given_by_path_initialises_the_encoder(tmp_path: Path) -> None:
    cfg = make_config("smoke")
    mae_state = mae_model(cfg).state_dict()
    path = tmp_path / "mae_pretrain_official.pth"
    torch.save({"model": mae_state}, path)
    result = finetune_and_evaluate(cfg, path)
    assert (result.run_dir / "best.pt").is_file() and result.label == "mae_pretrain_official"
    # one epoch of a few small AdamW steps moves the patch embedding far less than a fresh draw differs
    loaded = result.model.state_dict()["patch_embed.proj.weight"].cpu()
    assert (loaded - mae_state["patch_embed.proj.weight"]).abs().max() < 0.01
    assert (mae_model(cfg).state_dict()["patch_embed.proj.weight"] - mae_state["patch_embed.proj.weight"]).abs().max() > 0.05


def test_two_variants_with_one_setting_changed_live_side_by_side() -> None:
    cfg = make_config("smoke")
    first = finetune_and_evaluate(cfg)
    smoothed = finetune_and_evaluate(cfg.replace(supervised_label_smoothing=0.3))
    wild = cfg.replace(synthfer_scenes="wild")
    on_wild = finetune_and_evaluate(wild, None, load_splits(wild.data))
    assert len({first.run_dir, smoothed.run_dir, on_wild.run_dir}) == 3
    again = finetune_and_evaluate(cfg)                          # the same settings find their finished run
    assert again.run_dir == first.run_dir and again.history == first.history
    assert len(list_runs("smoke", "finetune")) == 3
    assert all((runs_dir() / "smoke" / name / "run.json").is_file() for name in list_runs("smoke"))


def test_the_same_seed_gives_the_same_model_whoever_calls_the_recipe() -> None:
    cfg = make_config("smoke")
    first = finetune_and_evaluate(cfg, label="first")
    torch.manual_seed(99)                                       # whatever the caller did to the global RNG
    np.random.seed(99)
    second = finetune_and_evaluate(cfg, label="second")
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
