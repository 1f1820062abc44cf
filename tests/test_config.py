"""Profiles and overrides: papermill / CLI parameters map onto RunConfig fields one to one."""
import pytest

from fer_lib.cli import build_parser, _config
from fer_lib.config import PROFILES, make_config


def test_overrides_replace_fields_and_none_keeps_the_profile_value() -> None:
    cfg = make_config("smoke", image_size=64, mask_ratio=None)
    assert cfg.image_size == 64 and cfg.mask_ratio == PROFILES["smoke"].mask_ratio and cfg.profile == "smoke"


def test_string_parameters_are_coerced_to_the_field_type() -> None:
    cfg = make_config("quick", image_size="64", mask_ratio="0.5", norm_pix_loss="true", data_root="/data")
    assert (cfg.image_size, cfg.mask_ratio, cfg.norm_pix_loss, cfg.data_root) == (64, 0.5, True, "/data")


def test_unknown_fields_and_profiles_are_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="unknown config field.*'mask_ration'"):
        make_config("quick", mask_ration=0.5)
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        make_config("fast")
    with pytest.raises(ValueError, match="norm_pix_loss.*true/false"):
        make_config("quick", norm_pix_loss="maybe")


def test_full_profile_is_vit_b16_at_224_with_the_mae_recipe() -> None:
    full = PROFILES["full"]
    assert (full.image_size, full.patch_size, full.embed_dim, full.depth, full.num_heads) == (224, 16, 768, 12, 12)
    assert (full.pretrain_epochs, full.pretrain_batch_size, full.pretrain_base_lr) == (800, 4096, 1.5e-4)
    assert (full.decoder_embed_dim, full.decoder_depth, full.layer_decay) == (512, 8, 0.65)


def test_every_config_field_is_a_cli_flag() -> None:
    args = build_parser().parse_args(["finetune", "--profile", "smoke", "--image-size", "40", "--label-noise", "0.2"])
    cfg = _config(args)
    assert (cfg.profile, cfg.image_size, cfg.label_noise) == ("smoke", 40, 0.2)
