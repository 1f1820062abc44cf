"""The times in the instructor's guide and in the notebooks' header boxes are the measured ones, from the reports."""
import json
from pathlib import Path

import nbformat

from tests.benchmark_scripts import benchmark_module


def teaching_times_module():
    return benchmark_module("teaching_times")


def test_the_notebooks_benchmark_wins_then_the_median_seed_then_not_measured(tmp_path: Path) -> None:
    module = teaching_times_module()
    notebooks = tmp_path / "notebooks.json"
    notebooks.write_text(json.dumps({"notebooks": [{"name": "01_datasets", "status": "ok", "minutes": 1.74},
                                                   {"name": "02_mae", "status": "failed: KeyError", "minutes": 0.2}]}))
    claims = tmp_path / "claims.json"
    seeds = {"0": {"seconds": 180}, "1": {"seconds": 600}, "2": {"seconds": 240}}
    claims.write_text(json.dumps({"notebooks": {"01": seeds, "04": seeds, "04-10pct-labels": seeds,
                                                "05": {"0": {"seconds": 90}}}}))
    times = module.measured_times(notebooks, claims)
    assert times == {"01": "1.7 min (notebooks benchmark)",
                     "04": "4.0 min (claims benchmark, median of 3 seeds, 3.0 to 10.0)",
                     "05": "1.5 min (claims benchmark, one seed)"}
    text = "a <!-- time:04 -->stale<!-- /time --> b <!-- time:09 -->1 min<!-- /time -->"
    assert module.fill_times(text, times) == (f"a <!-- time:04 -->{times['04']}<!-- /time --> b "
                                              f"<!-- time:09 -->not measured yet<!-- /time -->")


def test_the_guide_and_the_header_boxes_hold_the_times_of_the_reports() -> None:
    module = teaching_times_module()
    times = module.measured_times()
    guide = module.GUIDE.read_text()
    assert sorted(match[0] for match in module.SPAN.findall(guide)) == [f"{n:02d}" for n in range(1, 10)]
    assert module.fill_times(guide, times) == guide, "run benchmarks/teaching_times.py --write"
    boxed = []
    for path in sorted((module.REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for number, _ in module.SPAN.findall(cell.source):
                assert number == path.name[:2], f"{path.name} shows the time of notebook {number}"
                assert module.fill_times(cell.source, times) == cell.source, "run benchmarks/teaching_times.py --write"
                boxed.append(number)
    assert {"01", "02", "03", "04"} <= set(boxed)
