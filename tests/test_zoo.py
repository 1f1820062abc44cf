"""The checkpoint zoo: an entry is the file its manifest describes, rebuilds the model its settings name, and
initialises fine-tuning; the committed zoo itself verifies and loads."""
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from fer_lib.cli import _config, build_parser, main
from fer_lib.config import make_config
from fer_lib.models.vit import load_encoder_weights
from fer_lib.paths import REPO_ROOT
from fer_lib.recipes.build import classifier_model
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.zoo import ZooError, ZooRecipe, build_entry, read_manifest, zoo_checkpoint, zoo_config, zoo_for, zoo_mae

SMOKE = ZooRecipe("mae-face-smoke", "a one-epoch MAE at the smoke profile",
                  ("pretrain-mae", "--profile", "smoke", "--domain", "face", "--pretrain-epochs", "1", "--threads", "1"))
REAL_ZOO = REPO_ROOT / "zoo"


@pytest.fixture(scope="module")
def smoke_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway zoo holding SMOKE, built once for the module (its own runs, the session's dataset cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_SSL_RUNS", str(tmp_path_factory.mktemp("zoo-runs")))
        patch.setenv("FER_SSL_CACHE", os.environ.get("FER_SSL_CACHE", str(tmp_path_factory.getbasetemp() / "cache")))
        patch.setenv("FER_SSL_ZOO", str(tmp_path_factory.mktemp("zoo")))
        build_entry(SMOKE)
        yield Path(os.environ["FER_SSL_ZOO"])


def copy_of(zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of `zoo` that the test may damage, made the zoo in use."""
    copy = shutil.copytree(zoo, tmp_path / "zoo")
    monkeypatch.setenv("FER_SSL_ZOO", str(copy))
    return copy


def test_building_an_entry_writes_a_float16_file_whose_sha256_its_manifest_records(smoke_zoo: Path) -> None:
    entry = read_manifest()[SMOKE.name]
    path = zoo_checkpoint(SMOKE.name)
    assert path == smoke_zoo / "mae-face-smoke.pt" and path.stat().st_size == entry["size_bytes"]
    weights = torch.load(path, weights_only=True)["model"]
    assert {value.dtype for value in weights.values()} == {torch.float16}
    assert any(key.startswith("decoder_") for key in weights) and "blocks.0.attn.qkv.weight" in weights
    assert entry["argv"] == list(SMOKE.argv) and entry["domain"] == "face" and entry["training_seconds"] > 0
    assert entry["images_seen"] == 384 and entry["torch_version"] == torch.__version__


def test_the_recorded_settings_are_those_of_the_recorded_command(smoke_zoo: Path) -> None:
    assert zoo_config(SMOKE.name).flat() == _config(build_parser().parse_args(list(SMOKE.argv))).flat()


def test_a_tampered_file_is_a_zoo_error_naming_the_file_and_the_remedy(smoke_zoo: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_of(smoke_zoo, tmp_path, monkeypatch) / "mae-face-smoke.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ZooError, match=rf"{path}.*sha256.*make zoo"):
        zoo_checkpoint(SMOKE.name)


def test_a_missing_file_or_an_unknown_name_is_a_zoo_error_naming_the_file(smoke_zoo: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = copy_of(smoke_zoo, tmp_path, monkeypatch)
    with pytest.raises(ZooError, match=rf"no zoo entry 'mae-face-huge' in {zoo / 'manifest.json'}"):
        zoo_checkpoint("mae-face-huge")
    (zoo / "mae-face-smoke.pt").unlink()
    with pytest.raises(ZooError, match=rf"{zoo / 'mae-face-smoke.pt'} is missing.*make zoo"):
        zoo_checkpoint(SMOKE.name)
    assert main(["zoo", "list"]) == 1


def test_zoo_mae_loads_every_key_strictly_into_float32(smoke_zoo: Path) -> None:
    model = zoo_mae(SMOKE.name)
    stored = torch.load(smoke_zoo / "mae-face-smoke.pt", weights_only=True)["model"]
    assert model.state_dict().keys() == stored.keys()
    assert all(value.dtype == torch.float32 for value in model.state_dict().values())
    assert torch.equal(model.blocks[0].attn.qkv.weight, stored["blocks.0.attn.qkv.weight"].float())


def test_zoo_for_finds_the_entry_whose_encoder_fits_and_none_for_another(smoke_zoo: Path) -> None:
    assert zoo_for(make_config("smoke", finetune_epochs=3, mae_mask_ratio=0.5), "face") == smoke_zoo / "mae-face-smoke.pt"
    assert zoo_for(make_config("smoke", arch="vit_tiny_patch16"), "face") is None
    assert zoo_for(make_config("smoke", image_size=48), "face") is None
    assert zoo_for(make_config("smoke"), "general") is None
    assert zoo_for(make_config("quick"), "face") is None


def test_a_zoo_checkpoint_initialises_fine_tuning_at_smoke(smoke_zoo: Path) -> None:
    cfg = make_config("smoke")
    vit = classifier_model(cfg, num_classes=7)
    report = load_encoder_weights(vit, zoo_for(cfg, "face"))
    stored = torch.load(smoke_zoo / "mae-face-smoke.pt", weights_only=True)["model"]
    assert "blocks.1.mlp.fc2.weight" in report.loaded and vit.blocks[1].mlp.fc2.weight.dtype == torch.float32
    assert torch.equal(vit.blocks[1].mlp.fc2.weight, stored["blocks.1.mlp.fc2.weight"].float())
    result = finetune_and_evaluate(cfg, init=zoo_for(cfg, "face"))
    assert result.label == "mae-face-smoke" and result.best_epoch == 1 and 0 <= result.test.accuracy <= 1


def test_zoo_list_prints_each_entry_with_its_command_and_verification(smoke_zoo: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["zoo", "list"]) == 0
    printed = capsys.readouterr().out
    assert f"python -m fer_lib {' '.join(SMOKE.argv)}" in printed and "verified" in printed


@pytest.mark.skipif(not (REAL_ZOO / "manifest.json").is_file(), reason="no committed zoo yet (make zoo)")
def test_every_committed_zoo_entry_verifies_loads_strictly_and_initialises_its_classifier(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_SSL_ZOO", str(REAL_ZOO))
    manifest = json.loads((REAL_ZOO / "manifest.json").read_text())
    assert manifest
    for name, entry in manifest.items():
        if entry.get("kind", "mae") != "mae":
            continue                                   # classifiers: tests/test_photo.py
        path = zoo_checkpoint(name)
        model = zoo_mae(name)
        assert sum(p.numel() for p in model.parameters()) > 0
        cfg = zoo_config(name)
        assert cfg.flat() == _config(build_parser().parse_args(entry["argv"])).flat()
        report = load_encoder_weights(classifier_model(cfg, num_classes=7), path)
        assert "blocks.0.attn.qkv.weight" in report.loaded and not report.resized
        assert zoo_for(cfg, entry["domain"]) == path
