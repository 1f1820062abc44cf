"""The claims benchmark: each notebook's claims at a profile (default `quick`), over several seeds.

For notebook 03 and each seed (the fine-tuning seed: initialisation, order, augmentation; the data stay fixed,
so every comparison is paired on the same test faces), it fine-tunes and probes the classroom ViT from random
weights, from the face MAE and from the general-image MAE (the checkpoint zoo's entries where they fit the
profile, else pre-trained here), with all labels (`--notebook 03`) and with 10% of them (`--notebook 03-10pct-labels`: the same recipe and number
of optimiser steps), and measures notebook 03's claims
(`fer_lib.eval.claims.initialisation_claims`) plus the targets of the classroom-evidence issue.

Writes benchmarks/results/claims[_<suffix>].json after every seed. It picks up where it stopped: every run lives
in its own run folder (named by its settings), so a rerun finds the finished ones, and seeds already in the
file are not measured again. `benchmarks/claims_table.py` turns the file into the README's table.

Notebooks 04-07 are measured by executing each notebook with its default parameters at the seed (papermill), and
`claim_runs = True` where a notebook has it (05-07 train only part of their runs by default, to stay near 5
minutes): their claims and metrics are read from the run folder the notebook writes.

    .venv/bin/python benchmarks/bench_claims.py [--notebook 03 | 03-10pct-labels | 04 | 05 | 05-10pct-labels | 06 |
        06-5pct-labels | 07] [--seeds 0 1 2]
        [--threads 1] [--full-ablation]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import papermill
import torch

from fer_lib.config import RunConfig, make_config
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import eval_transform
from fer_lib.engine.devices import apply_threads, resolve_device
from fer_lib.eval.claims import initialisation_claims
from fer_lib.eval.predict import predict_logits
from fer_lib.paths import REPO_ROOT
from fer_lib.recipes.finetune import finetune_and_evaluate
from fer_lib.recipes.pretrain import pretrain_mae
from fer_lib.recipes.probe import probe_encoder
from fer_lib.report import metric_slug, write_json_atomic
from fer_lib.runs import list_runs
from fer_lib.zoo import zoo_for

RESULTS = Path(__file__).parent / "results"


def encoders(cfg: RunConfig) -> dict[str, Any]:
    """The three initialisations of notebook 03: random weights, and the face and general MAE (zoo or live)."""
    found = {domain: zoo_for(cfg, domain) or pretrain_mae(cfg, domain).checkpoint for domain in ("face", "general")}
    return {"scratch": None, "MAE (general)": found["general"], "MAE (face)": found["face"]}


def notebook_03(cfg: RunConfig, label_fraction: float = 1.0) -> dict[str, Any]:
    """Notebook 03's claims and the best fine-tuned model at one seed, with `label_fraction` of the labels. With
    fewer labels the epochs grow so that every model takes as many optimiser steps as with all of them (what
    `-p label_fraction 0.1 -p finetune_epochs 50` runs in the notebook): the same compute, fewer labels."""
    suffix = "" if label_fraction == 1.0 else f", {100 * label_fraction:g}% labels"
    budget = cfg.replace(label_fraction=label_fraction, finetune_epochs=round(cfg.finetune.epochs / label_fraction))
    splits = load_splits(budget.data)
    test = splits.test.with_transform(eval_transform(cfg.data.image_size, cfg.data.channels))
    device = resolve_device(cfg.engine.device)
    finetune_correct, probe_correct, tuned = {}, {}, {}
    for label, init in encoders(cfg).items():
        tuned[label] = finetune_and_evaluate(budget, init, splits, label=metric_slug(label))
        finetune_correct[label] = (predict_logits(tuned[label].model, test, device)[0].argmax(dim=1).numpy()
                                   == splits.test.labels)
        probe = probe_encoder(budget, init, splits, device)
        probe_correct[label] = probe.linear.classifier.predict(probe.features["test"].numpy()) == splits.test.labels
    majority = np.bincount(splits.train.labels).argmax()
    claims = initialisation_claims(finetune_correct, probe_correct, splits.test.labels == majority, suffix)
    best = max(tuned, key=lambda label: tuned[label].val.accuracy)                      # chosen on validation
    return {"claims": [claim.record() for claim in claims],
            "targets": {"best_finetuned": {"model": best, "test_accuracy": tuned[best].test.accuracy,
                                           "test_balanced_accuracy": tuned[best].test.balanced_accuracy}},
            "finetune_epochs": budget.finetune.epochs, "train_images": len(splits.train)}


def executed_notebook(name: str, parameters: dict[str, Any] | None = None) -> Callable[..., dict[str, Any]]:
    """Notebook `name`'s claims at one seed, measured by executing the notebook itself (papermill, its default
    parameters at the config's profile, seed and threads, plus `parameters`, `full_ablation`, and `claim_runs = True`
    where the notebook has that parameter: every run its claims need), so the benchmark measures exactly what the
    notebook shows; the claims and metrics come from the run folder it writes."""
    def measure(cfg: RunConfig, full_ablation: bool = False) -> dict[str, Any]:
        source = REPO_ROOT / "notebooks" / f"{name}.ipynb"
        variant = "".join(f"-{key}-{value}" for key, value in (parameters or {}).items())
        target = Path(os.environ["FER_SSL_RUNS"]) / cfg.profile / "executed" / f"{name}{variant}-seed{cfg.seed}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.environ["TQDM_DISABLE"] = "1"
        switches = {**(parameters or {}), "full_ablation": full_ablation}
        if "claim_runs" in papermill.inspect_notebook(source):
            switches["claim_runs"] = True
        papermill.execute_notebook(source, target, parameters={"profile": cfg.profile, "seed": cfg.seed,
                                                               "device": cfg.engine.device, "threads": cfg.engine.threads,
                                                               **switches},
                                   cwd=str(source.parent), progress_bar=False, execution_timeout=CELL_TIMEOUT)
        folder = seed_folder(Path(os.environ["FER_SSL_RUNS"]) / cfg.profile, name, cfg.seed)
        return {"claims": json.loads((folder / "claims.json").read_text()),
                "metrics": json.loads((folder / "metrics.json").read_text()), **switches}
    return measure


def seed_folder(run_root: Path, notebook: str, seed: int) -> Path:
    """The most recently used run folder of `notebook` at `seed` (seeds may run in parallel, each in its folder)."""
    runs = {name: entry for name, entry in list_runs(run_root.name, "notebook").items() if entry["label"] == notebook
            and json.loads((run_root / name / "run.json").read_text())["identity"]["seed"] == seed}
    return run_root / max(runs, key=lambda name: runs[name]["used"])


CELL_TIMEOUT = 3600     # seconds per cell: a cell that never returns fails its seed instead of blocking the benchmark
NOTEBOOKS_RUN_AS_IS = ("04_contrastive", "05_mixing", "06_semi_supervised", "07_noisy_labels")
NOTEBOOKS = {"03": notebook_03, "03-10pct-labels": lambda cfg: notebook_03(cfg, 0.1),
             **{name[:2]: executed_notebook(name) for name in NOTEBOOKS_RUN_AS_IS},
             # the claims at a second label budget: SSFER's "low label fractions" (05) and "5% and 10%" (06)
             "05-10pct-labels": executed_notebook("05_mixing", {"facemix_sweep_fractions": "0.1"}),
             "06-5pct-labels": executed_notebook("06_semi_supervised", {"semi_label_fraction": 0.05})}
EXECUTED = set(NOTEBOOKS) - {"03", "03-10pct-labels"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", default="03", choices=sorted(NOTEBOOKS))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (results are kept per count)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--full-ablation", action="store_true",
                        help="notebooks 04-07: run with full_ablation = True (every row, and the claims that need them)")
    args = parser.parse_args()
    threads = apply_threads(args.threads)
    # Runs of another thread count must not be found as finished: float order differs, so they get their own root.
    os.environ["FER_SSL_RUNS"] = str(REPO_ROOT / "runs" / "claims" / f"threads-{threads}")
    path = RESULTS / f"claims_{args.profile}_{args.device if args.device != 'auto' else resolve_device('auto').type}" \
                     f"_threads{threads}.json"
    results = json.loads(path.read_text()) if path.is_file() else {"notebooks": {}}
    for seed in args.seeds:
        done = results["notebooks"].setdefault(args.notebook, {})
        if str(seed) in done:
            print(f"notebook {args.notebook}, seed {seed}: already measured")
            continue
        started = time.perf_counter()
        cfg = make_config(args.profile, seed=seed, device=args.device, threads=threads)
        measure = NOTEBOOKS[args.notebook]
        measured = measure(cfg, args.full_ablation) if args.notebook in EXECUTED else measure(cfg)
        done[str(seed)] = {**measured, "seconds": time.perf_counter() - started}
        results.update({"profile": args.profile, "threads": threads, "device": str(resolve_device(args.device)),
                        "torch": torch.__version__, "python": platform.python_version(),
                        "cpu_count": os.cpu_count()})
        if path.is_file():          # another process may have added seeds meanwhile (seeds run in parallel)
            for notebook, seeds in json.loads(path.read_text())["notebooks"].items():
                results["notebooks"].setdefault(notebook, {}).update(
                    {key: value for key, value in seeds.items() if key not in results["notebooks"][notebook]})
        write_json_atomic(path, results)
        for claim in done[str(seed)]["claims"]:
            print(f"seed {seed}: {claim['claim']}: {100 * claim['effect']:+.1f} points "
                  f"(2 SE {200 * claim['standard_error']:.1f}): {claim['verdict']}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
