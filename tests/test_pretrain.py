"""MAE pre-training follows the reference recipe and resumes instead of starting over."""
import json

import pytest

from fer_lib.config import make_config
from fer_lib.engine.train import build_optimizer
from fer_lib.recipes.build import mae_model
from fer_lib.recipes.pretrain import mae_checkpoint, pretrain_mae, pretrain_settings


def test_pretraining_uses_adamw_betas_0_9_0_95_and_the_linear_lr_scaling_rule() -> None:
    settings = pretrain_settings(make_config("quick", pretrain_batch_size=512, pretrain_base_lr=1.5e-4))
    assert settings.betas == (0.9, 0.95)
    assert settings.lr == pytest.approx(1.5e-4 * 512 / 256)


def test_weight_decay_spares_norms_biases_and_tokens() -> None:
    cfg = make_config("smoke")
    mae = mae_model(cfg)
    optimizer = build_optimizer(mae, pretrain_settings(cfg))
    names = {id(p): n for n, p in mae.named_parameters()}
    undecayed = {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    decayed = {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert {"cls_token", "mask_token", "blocks.0.norm1.weight", "blocks.0.attn.qkv.bias"} <= undecayed
    assert {"blocks.0.attn.qkv.weight", "decoder_pred.weight"} <= decayed
    assert "pos_embed" not in names.values() or "pos_embed" not in decayed  # fixed sin-cos: not trained


def test_pretraining_saves_the_mae_and_a_second_call_loads_the_finished_run() -> None:
    cfg = make_config("smoke", pretrain_epochs=2)
    first = pretrain_mae(cfg, "face")
    assert first.checkpoint == mae_checkpoint(cfg, "face") and len(first.history) == 2
    second = pretrain_mae(cfg, "face")
    assert second.history == first.history and second.run_dir == first.run_dir
    assert json.loads((first.run_dir / "history.json").read_text())[-1]["epoch"] == 2


def test_another_mask_ratio_is_another_mae_run() -> None:
    cfg = make_config("smoke")
    assert pretrain_mae(cfg, "face").run_dir != pretrain_mae(cfg.replace(mae_mask_ratio=0.5), "face").run_dir
