"""Fine-tuning and probing recipes, end to end at the smoke profile: model selection on val, never on test."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lib.config import make_config
from fer_lib.data.registry import load_splits
from fer_lib.models.mae import build_mae
from fer_lib.paths import runs_dir
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.recipes.pretrain import mae_checkpoint_path
from fer_lib.recipes.probe import frozen_features, probe_encoder


def assert_sane(report, num_samples: int, num_classes: int) -> None:
    assert report.num_samples == num_samples and report.confusion.shape == (num_classes, num_classes)
    for value in report.scalars().values():
        assert 0.0 <= value <= 1.0


def test_finetuning_keeps_the_best_val_epoch_and_scores_test_with_it() -> None:
    cfg = make_config("smoke", finetune_epochs=3)
    splits = load_splits(cfg)
    result = finetune_and_evaluate(cfg, "scratch", splits)
    run_dir = runs_dir() / "smoke" / "finetune_scratch"
    assert (run_dir / "best.pt").is_file()
    history = json.loads((run_dir / "history.json").read_text())
    val_acc = [record["val_acc"] for record in history]
    assert len(history) == 3 and result.best_epoch == int(np.argmax(val_acc)) + 1
    # val and test are scored with the same (best.pt) weights: val reproduces the best epoch's val_acc
    assert result.val.accuracy == pytest.approx(max(val_acc), abs=1e-6)
    assert_sane(result.val, len(splits.val), splits.train.num_classes)
    assert_sane(result.test, len(splits.test), splits.train.num_classes)


def test_face_init_pretrains_the_missing_mae_first_and_its_probe_chooses_c_on_val() -> None:
    cfg = make_config("smoke")
    splits = load_splits(cfg)
    result = finetune_and_evaluate(cfg, "face", splits)
    assert mae_checkpoint_path(cfg, "face").is_file()
    assert (runs_dir() / "smoke" / "finetune_face" / "history.json").is_file()
    assert_sane(result.test, len(splits.test), splits.train.num_classes)

    probe = probe_encoder(cfg, "face", splits)
    assert probe.linear.val_accuracy == max(probe.linear.val_accuracy_per_c.values())
    assert probe.linear.val_accuracy_per_c[probe.linear.c] == probe.linear.val_accuracy
    assert_sane(probe.linear.test, len(splits.test), splits.train.num_classes)
    assert_sane(probe.knn, len(splits.test), splits.train.num_classes)
    assert probe.features["test"].shape == (len(splits.test), cfg.embed_dim)
    assert torch.equal(probe.labels["test"], torch.as_tensor(splits.test.labels))
    scratch_features, _ = frozen_features(cfg, "scratch", splits, torch.device("cpu"))
    assert not torch.allclose(scratch_features["test"], probe.features["test"])


def test_the_random_scratch_encoder_is_the_same_at_every_probe() -> None:
    cfg = make_config("smoke")
    splits = load_splits(cfg)
    first, _ = frozen_features(cfg, "scratch", splits, torch.device("cpu"))
    torch.manual_seed(123)
    second, _ = frozen_features(cfg, "scratch", splits, torch.device("cpu"))
    assert torch.equal(first["val"], second["val"])


def test_an_official_layout_mae_checkpoint_given_by_path_initialises_the_encoder(tmp_path: Path) -> None:
    cfg = make_config("smoke")
    mae_state = build_mae(cfg).state_dict()
    path = tmp_path / "mae_pretrain_official.pth"
    torch.save({"model": mae_state}, path)
    result = finetune_and_evaluate(cfg, str(path))
    assert (runs_dir() / "smoke" / "finetune_mae_pretrain_official" / "best.pt").is_file()
    # one epoch of a few small AdamW steps moves the patch embedding far less than a fresh draw differs
    loaded = result.model.state_dict()["patch_embed.proj.weight"].cpu()
    assert (loaded - mae_state["patch_embed.proj.weight"]).abs().max() < 0.01
    assert (build_mae(cfg).state_dict()["patch_embed.proj.weight"] - mae_state["patch_embed.proj.weight"]).abs().max() > 0.05


def test_a_run_tag_keeps_a_variant_beside_the_first_runs_and_pairs_it_with_its_own_mae() -> None:
    cfg = make_config("smoke")
    finetune_and_evaluate(cfg, "face", load_splits(cfg))
    wild = cfg.replace(synthfer_scenes="wild", run_tag="wild")
    finetune_and_evaluate(wild, "face", load_splits(wild))
    for folder in ("mae_face", "finetune_face", "mae_face_wild", "finetune_face_wild"):
        assert (runs_dir() / "smoke" / folder / "run_config.json").is_file(), folder
    assert mae_checkpoint_path(wild, "face") == runs_dir() / "smoke" / "mae_face_wild" / "mae.pt"


def test_a_run_folder_refuses_a_config_with_other_data_or_model_by_name() -> None:
    from fer_lib.models.checkpoints import CheckpointError
    from fer_lib.recipes.pretrain import ensure_pretrained

    cfg = make_config("smoke")
    finetune_and_evaluate(cfg, "scratch", load_splits(cfg))
    wild = cfg.replace(synthfer_scenes="wild")
    with pytest.raises(CheckpointError, match="synthfer_scenes='lab' \\(now 'wild'\\)"):
        finetune_and_evaluate(wild, "scratch", load_splits(wild))
    ensure_pretrained(cfg, "face")
    with pytest.raises(CheckpointError, match="mask_ratio=0.75 \\(now 0.5\\)"):
        ensure_pretrained(cfg.replace(mask_ratio=0.5), "face")
