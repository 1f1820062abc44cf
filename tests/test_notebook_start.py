"""`start`, the first call of every notebook: parameters from the notebook's namespace, threads, run folder."""
from pathlib import Path

import pytest
import torch

from fer_lib.engine.devices import apply_threads
from fer_lib.notebook import finish, start


def test_start_takes_the_profile_and_every_config_field_from_the_namespace() -> None:
    namespace = {"profile": "smoke", "image_size": "40", "synthfer_scenes": "wild", "mask_ratio": None,
                 "device": "cpu", "threads": 0, "plt": object(), "In": []}  # non-fields are ignored
    cfg, device, run_dir = start("00_test", namespace)
    assert (cfg.profile, cfg.image_size, cfg.synthfer_scenes, device.type) == ("smoke", 40, "wild", "cpu")
    assert cfg.mask_ratio == 0.75 and run_dir.name == "smoke" and run_dir.is_dir()


def test_threads_set_torch_and_zero_keeps_its_default() -> None:
    before = torch.get_num_threads()
    try:
        apply_threads(0)
        assert torch.get_num_threads() == before
        apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="-1"):
        apply_threads(-1)


def test_finish_records_the_metrics_and_returns_nothing_to_show_twice(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    assert finish(tmp_path, "00_test", {"accuracy": 0.5}) is None
    assert "accuracy  0.5000" in capsys.readouterr().out
    assert (tmp_path / "metrics" / "00_test.json").is_file()
