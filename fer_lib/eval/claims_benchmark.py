"""The claims benchmark's results, read back: each claim summarised over seeds, and the methods' fine-tuned test
accuracies per label fraction over seeds.

benchmarks/bench_claims.py writes benchmarks/results/claims_<profile>_<device>_threads<n>.json:

    {"profile": ..., "notebooks": {"03" | "03-10pct-labels" | "04" | ...: {"<seed>": {
        "claims": [Claim.record(), ...], "metrics": {name: value}, "seconds": ...}}}}

Notebook 03's records hold no metrics (its models' accuracies are in its claims); notebooks 04-07 record the
metrics their closing cell writes. Seeds are read as they come: a notebook may have one seed or several.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lib.eval.claims import claim_text
from fer_lib.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
Results = Mapping[str, Any]


def claims_results(profile: str, folder: Path = RESULTS_DIR) -> tuple[Path, dict[str, Any]]:
    """The benchmark's results at `profile`, else at `quick`: of several files (devices, thread counts), the one
    holding the most notebook seeds. FileNotFoundError when there is none."""
    for wanted in dict.fromkeys((profile, "quick")):
        loaded = {path: json.loads(path.read_text()) for path in sorted(folder.glob(f"claims_{wanted}_*.json"))}
        if loaded:
            path = max(loaded, key=lambda p: sum(len(seeds) for seeds in loaded[p]["notebooks"].values()))
            return path, loaded[path]
    raise FileNotFoundError(f"no claims benchmark results claims_{profile}_*.json or claims_quick_*.json in "
                            f"{folder}: run benchmarks/bench_claims.py")


@dataclass(frozen=True)
class SeedStats:
    """One number measured on several seeds: their mean and standard deviation (ddof 1; NaN for one seed)."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def spread(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else math.nan

    def text(self, scale: float = 100.0, signed: bool = False) -> str:
        """'45.2 ± 1.0 (3 seeds)' or '45.2 (1 seed)', in percent by default ('+1.7 ...' when `signed`)."""
        spread = f" ± {scale * self.spread:.1f}" if self.n > 1 else ""
        return f"{scale * self.mean:{'+' if signed else ''}.1f}{spread} ({self.n} seed{'s' if self.n > 1 else ''})"


def overall_verdict(verdicts: list[str]) -> str:
    """'held' on every seed, 'did not hold' on every seed, 'not resolved (within noise)' on every seed, else 'mixed'."""
    held, failed = verdicts.count("holds"), verdicts.count("does not hold")
    return ("held" if held == len(verdicts) else "did not hold" if failed == len(verdicts)
            else "not resolved (within noise)" if held == failed == 0 else "mixed")


@dataclass(frozen=True)
class ClaimSummary:
    """One claim of one notebook over the seeds it was measured on: `records` are its `Claim.record()`s."""

    notebook: str
    records: tuple[dict[str, Any], ...]

    @property
    def key(self) -> str:
        return self.records[0].get("key") or self.records[0]["claim"]

    @property
    def text(self) -> str:
        return self.records[0]["claim"]

    @property
    def title(self) -> str:
        """"<notebook>: <claim>", with the claim's minimum gap when it has one."""
        return f"{self.notebook}: {claim_text(self.records[0])}"

    @property
    def measure(self) -> str:
        return self.records[0].get("measure", "test accuracy")

    @property
    def effect(self) -> SeedStats:
        """a minus b, per seed."""
        return SeedStats(tuple(record["effect"] for record in self.records))

    @property
    def noise(self) -> float:
        """Two paired standard errors, averaged over the seeds: the noise each seed's effect was judged against."""
        return float(np.mean([2 * record["standard_error"] for record in self.records]))

    @property
    def held(self) -> int:
        return sum(record["verdict"] == "holds" for record in self.records)

    @property
    def verdict(self) -> str:
        return overall_verdict([record["verdict"] for record in self.records])

    @property
    def expected(self) -> str:
        """The direction the claim expects: 'a > b', or 'a >= b' for an at-least-as-good claim."""
        first = self.records[0]
        return f"{first['a']} {'>=' if first.get('at_least_as_good') else '>'} {first['b']}"

    @property
    def measured(self) -> str:
        """The direction of the mean effect, or a tie when it is within the mean noise."""
        first, effect = self.records[0], self.effect.mean
        if abs(effect) <= self.noise:
            return "tie (within 2 SE)"
        return f"{first['a']} ahead" if effect > 0 else f"{first['b']} ahead"


def claim_summaries(results: Results) -> list[ClaimSummary]:
    """Every claim of every notebook of `results`, its seeds' records together (claims grouped by key, or by text
    for records without one), in the order the file holds them."""
    summaries = []
    for notebook, seeds in results["notebooks"].items():
        grouped: dict[str, list[dict[str, Any]]] = {}
        for measured in seeds.values():
            for record in measured["claims"]:
                grouped.setdefault(record.get("key") or record["claim"], []).append(record)
        summaries += [ClaimSummary(notebook, tuple(records)) for records in grouped.values()]
    return summaries


def claim_row(summary: ClaimSummary, profile: str) -> dict[str, Any]:
    """A claim's table row: its measure, the expected and the measured direction, the effect and the noise over the
    seeds (points), on how many seeds it held, and the overall verdict."""
    return {"measure": summary.measure, "expected": summary.expected, f"measured at {profile}": summary.measured,
            "effect (points)": summary.effect.text(signed=True), "2 SE (points)": 100 * summary.noise,
            "held on": f"{summary.held} of {len(summary.records)} seeds", "verdict": summary.verdict}


def notebook_claims(notebook: str, profile: str, folder: Path = RESULTS_DIR) -> tuple[Path, dict[str, dict[str, Any]]]:
    """The claims benchmark's rows (`claim_row`, keyed by the claim's title) of notebook `notebook` ("05"; "03" also
    takes "03-10pct-labels") and the results file they come from; FileNotFoundError when no results file exists."""
    path, results = claims_results(profile, folder)
    return path, {s.title: claim_row(s, results["profile"]) for s in claim_summaries(results)
                  if s.notebook.split("-")[0] == notebook}


@dataclass(frozen=True)
class FinetunedSeries:
    """Where one method's fine-tuned test accuracy lies in the records of notebook `notebook` ("05" also reads
    "05-..." keys). Either `metric`, a regular expression matching whole metric names, whose group `fraction`
    holds the label share as metric_slug writes it ("0_25") or group `percent` holds it in percent ("10"; with
    neither group: all labels); or `model`, a model compared in the notebook's claims (notebook 03, which records
    no metrics; its label share is in the notebook's key, "03-10pct-labels")."""

    label: str
    notebook: str
    metric: str = ""
    model: str = ""

    def points(self, notebook_key: str, record: Mapping[str, Any]) -> dict[float, float]:
        """{label fraction: test accuracy} of this method in one seed's record of `notebook_key`."""
        if notebook_key.split("-")[0] != self.notebook:
            return {}
        if self.model:
            share = re.search(r"(\d+)pct", notebook_key)
            accuracies = {claim[side]: claim[f"accuracy_{side}"] for claim in record["claims"]
                          if claim.get("measure", "test accuracy") == "test accuracy" for side in ("a", "b")}
            return {int(share.group(1)) / 100 if share else 1.0: accuracies[self.model]} \
                if self.model in accuracies else {}
        found = {}
        for name, value in record.get("metrics", {}).items():
            match = re.fullmatch(self.metric, name)
            if match and value is not None and not math.isnan(value):
                groups = match.groupdict()
                fraction = (float(groups["fraction"].replace("_", ".")) if groups.get("fraction")
                            else float(groups["percent"].replace("_", ".")) / 100 if groups.get("percent") else 1.0)
                found[fraction] = float(value)
        return found


SHARE, PERCENT = r"(?P<fraction>\d+(?:_\d+)?)", r"(?P<percent>\d+(?:_\d+)?)"
# The fine-tuned methods of notebooks 03, 05, 06 and 07, and where their test accuracies are recorded.
FINETUNED_SERIES = (
    FinetunedSeries("scratch", "03", model="scratch"),
    FinetunedSeries("MAE (general)", "03", model="MAE (general)"),
    FinetunedSeries("MAE (face)", "03", model="MAE (face)"),
    FinetunedSeries("MAE (face), CE", "05", metric=f"face_none_ce_{SHARE}_test_acc"),
    FinetunedSeries("Mixup", "05", metric=f"face_mixup_{SHARE}_test_acc"),
    FinetunedSeries("FaceMix", "05", metric=f"face_facemix_{SHARE}_test_acc"),
    FinetunedSeries("SupCon", "05", metric=f"face_supcon_{SHARE}_test_acc"),
    FinetunedSeries("mix-SupCon", "05", metric=f"face_mix_supcon_{SHARE}_test_acc"),
    FinetunedSeries("mix-SupCon, general MAE (MIMIC)", "05", metric=f"general_mix_supcon_{SHARE}_test_acc"),
    FinetunedSeries("scratch, supervised", "06", metric=f"scratch_supervised_{PERCENT}_labels_test_acc"),
    FinetunedSeries("MAE (face), supervised", "06", metric=f"mae_face_supervised_{PERCENT}_labels_test_acc"),
    FinetunedSeries("SSFER (semi)", "06", metric=f"mae_face_ssfer_{PERCENT}_labels_test_acc"),
    FinetunedSeries("FixMatch (semi)", "06", metric=f"mae_face_fixmatch_{PERCENT}_labels_test_acc"),
    FinetunedSeries("CE, noisy labels", "07", metric="ce_test_acc"),
    FinetunedSeries("DR-FER (ours), noisy labels", "07", metric="all_test_acc"),
    FinetunedSeries("DR-FER (ours), 20% symmetric noise", "07", metric="sweep_symmetric_0_2_all_test_acc"),
)


def finetuned_curves(results: Results, series: Iterable[FinetunedSeries] = FINETUNED_SERIES
                     ) -> dict[FinetunedSeries, dict[float, SeedStats]]:
    """{series: {label fraction: test accuracy over the seeds}}; a series the results do not hold maps to {}."""
    curves = {}
    for method in series:
        values: dict[float, list[float]] = {}
        for notebook_key, seeds in results["notebooks"].items():
            for record in seeds.values():
                for fraction, accuracy in method.points(notebook_key, record).items():
                    values.setdefault(fraction, []).append(accuracy)
        curves[method] = {fraction: SeedStats(tuple(found)) for fraction, found in sorted(values.items())}
    return curves


def notebook_metric(results: Results, notebook: str, name: str) -> SeedStats | None:
    """Metric `name` of `notebook` over its seeds, or None when no seed recorded it."""
    values = tuple(float(measured["metrics"][name]) for measured in results["notebooks"].get(notebook, {}).values()
                   if name in measured.get("metrics", {}))
    return SeedStats(values) if values else None
