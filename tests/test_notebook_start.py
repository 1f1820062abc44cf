"""`start`, the first call of every notebook: parameters from the notebook's namespace, threads, run context."""
import json
from pathlib import Path

import pytest
import torch

from fer_lib.engine.devices import apply_threads, auto_threads
from fer_lib.notebook import start
from fer_lib.runs import list_runs


def test_start_takes_the_profile_and_every_setting_from_the_namespace() -> None:
    namespace = {"profile": "smoke", "image_size": "40", "synthfer_scenes": "wild", "mae_mask_ratio": None,
                 "device": "cpu", "threads": 0, "plt": object(), "In": []}  # non-settings are ignored
    run = start("00_test", namespace)
    cfg = run.cfg
    assert (cfg.profile, cfg.data.image_size, cfg.data.synthfer_scenes, run.device.type) == ("smoke", 40, "wild", "cpu")
    assert cfg.mae.mask_ratio == 0.75 and run.folder.is_dir() and run.folder.parent.name == "smoke"


def test_a_notebook_variant_gets_its_own_folder_and_the_default_keeps_its_figures() -> None:
    default = start("00_test", {"profile": "smoke"})
    variant = start("00_test", {"profile": "smoke", "finetune_epochs": 3})
    assert default.folder != variant.folder
    assert start("00_test", {"profile": "smoke", "threads": 1}).folder == default.folder   # threads: not a result
    assert {entry["label"] for entry in list_runs("smoke", "notebook").values()} == {"00_test"}


def test_start_seeds_every_generator_from_the_seed() -> None:
    start("00_test", {"profile": "smoke", "seed": 4})
    first = torch.rand(3)
    start("00_test", {"profile": "smoke", "seed": 4})
    assert torch.equal(first, torch.rand(3))


def test_threads_set_torch_and_zero_leaves_a_core_free_unless_omp_says_otherwise() -> None:
    before = torch.get_num_threads()
    try:
        assert apply_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert [auto_threads(cores) for cores in (1, 2, 16)] == [1, 1, 15]
    assert auto_threads(2, "2") == 2 and auto_threads(2, "") == 1
    with pytest.raises(ValueError, match="-1"):
        apply_threads(-1)


def test_finish_records_the_metrics_where_the_report_finds_them(capsys: pytest.CaptureFixture) -> None:
    from fer_lib.notebook_runner import latest_notebook_folder

    run = start("00_test", {"profile": "smoke"})
    assert run.finish({"accuracy": 0.5}) is None
    assert f"recorded 1 measured numbers in {run.folder / 'metrics.json'}" in capsys.readouterr().out
    assert json.loads((run.folder / "metrics.json").read_text()) == {"accuracy": 0.5}
    assert latest_notebook_folder(Path(run.folder).parent, "00_test") == run.folder
