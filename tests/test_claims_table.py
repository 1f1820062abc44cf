"""The README's claims table is generated from the claims benchmark's results, verdicts counted over seeds."""
import json
import sys
from pathlib import Path

import pytest

from tests.benchmark_scripts import benchmark_module


def claims_table_module():
    return benchmark_module("claims_table")


def claim(text: str, effect: float, verdict: str) -> dict:
    return {"claim": text, "effect": effect, "standard_error": 0.01, "verdict": verdict, "min_gap": 0.0}


def test_the_table_says_held_only_when_every_seed_held_and_writes_between_the_markers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    best = {"best_finetuned": {"model": "MAE (face)", "test_accuracy": 0.6, "test_balanced_accuracy": 0.4}}
    results = {"profile": "quick", "device": "cpu", "threads": 1, "notebooks": {"03": {
        "0": {"claims": [claim("faces help", 0.10, "holds"), claim("general helps", 0.02, "holds")], "targets": best},
        "1": {"claims": [claim("faces help", 0.20, "holds"), claim("general helps", 0.00, "not resolved (within noise)")],
              "targets": best}}}}
    path = tmp_path / "claims_quick_cpu_threads1.json"
    path.write_text(json.dumps(results))
    module = claims_table_module()
    table = module.claims_table([path])
    assert "| 03: faces help | quick, cpu, 1 thread(s), 2 seeds | +15.0 | 2.0 | 2 of 2 | held |" in table
    assert "| 03: general helps |" in table and "| 1 of 2 | mixed |" in table
    assert table.endswith("| 03 | 2 | 0.600, 0.600 | 0.400, 0.400 |")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{module.START}\nstale\n{module.END}\nrest\n")
    monkeypatch.setattr(sys, "argv", ["claims_table.py", str(path), "--write", str(readme)])
    module.main()
    text = readme.read_text()
    assert "stale" not in text and "| 03: faces help |" in text and text.startswith("intro\n") and text.endswith("rest\n")
