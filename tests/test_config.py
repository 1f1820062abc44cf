"""Profiles and overrides: papermill / CLI parameters reach every setting of every part by its flat name."""
import pytest

from fer_lib.cli import _config, build_parser
from fer_lib.config import FLAT_NAMES, PROFILES, make_config, result_identity


def test_overrides_replace_settings_in_their_part_and_none_keeps_the_profile_value() -> None:
    cfg = make_config("smoke", image_size=64, mae_mask_ratio=None, finetune_epochs=7)
    assert cfg.data.image_size == 64 and cfg.finetune.epochs == 7 and cfg.profile == "smoke"
    assert cfg.mae.mask_ratio == PROFILES["smoke"].mae.mask_ratio


def test_string_parameters_are_coerced_to_the_setting_type() -> None:
    cfg = make_config("quick", image_size="64", mae_mask_ratio="0.5", mae_norm_pix_loss="true", data_root="/data",
                      data_options='{"label_mode": "probability"}')
    assert (cfg.data.image_size, cfg.mae.mask_ratio, cfg.mae.norm_pix_loss, cfg.data.data_root) == (64, 0.5, True, "/data")
    assert cfg.data.data_options == {"label_mode": "probability"}


def test_unknown_settings_and_profiles_are_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="unknown config setting.*'mae_mask_ration'"):
        make_config("quick", mae_mask_ration=0.5)
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        make_config("fast")
    with pytest.raises(ValueError, match="mae_norm_pix_loss.*true/false"):
        make_config("quick", mae_norm_pix_loss="maybe")


def test_every_flat_name_is_unique_and_round_trips() -> None:
    cfg = PROFILES["full"]
    assert make_config("quick", **{k: v for k, v in cfg.flat().items() if k != "profile"}).flat() == {
        **cfg.flat(), "profile": "quick"}
    assert len(FLAT_NAMES) == len(set(FLAT_NAMES))


def test_full_profile_is_vit_b16_at_224_with_the_mae_recipe() -> None:
    full = PROFILES["full"]
    assert (full.arch, full.data.image_size, full.mae.decoder) == ("vit_base_patch16", 224, "dec512d8b")
    assert (full.pretrain.epochs, full.pretrain.batch_size, full.pretrain.base_lr) == (800, 4096, 1.5e-4)
    assert full.finetune.layer_decay == 0.65


def test_how_a_run_executes_is_not_part_of_its_identity() -> None:
    cfg = make_config("smoke")
    assert result_identity(cfg) == result_identity(cfg.replace(device="cpu", threads=1, num_workers=2,
                                                               checkpoint_every_steps=3))
    assert result_identity(cfg) != result_identity(cfg.replace(amp=False))


def test_every_setting_is_a_cli_flag() -> None:
    args = build_parser().parse_args(["finetune", "--profile", "smoke", "--image-size", "40", "--label-noise", "0.2",
                                      "--finetune-base-lr", "0.01", "--data-options", '{"val_fraction": 0.2}'])
    cfg = _config(args)
    assert (cfg.profile, cfg.data.image_size, cfg.data.label_noise, cfg.finetune.base_lr) == ("smoke", 40, 0.2, 0.01)
    assert cfg.data.data_options == {"val_fraction": 0.2}
