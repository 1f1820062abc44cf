"""The README's claims table, generated from the claims benchmark's results (benchmarks/bench_claims.py).

    .venv/bin/python benchmarks/claims_table.py [RESULTS.json ...] [--write README.md]

Per claim: the expected direction, the effect (mean over seeds, in accuracy points) with its mean paired standard
error, on how many seeds the claim held, and the verdict: "held" on every seed, "did not hold" when it failed on
every seed, "not resolved" when it was within the noise on every seed, else "mixed". With --write the table replaces the lines between `<!-- claims:start -->` and
`<!-- claims:end -->` in the file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer_lib.eval.claims_benchmark import claim_summaries

RESULTS = Path(__file__).parent / "results"
START, END = "<!-- claims:start -->", "<!-- claims:end -->"


def claims_table(paths: list[Path]) -> str:
    lines = ["| claim | measured with | effect (points, mean over seeds) | mean 2 SE | held on | verdict |",
             "|---|---|---|---|---|---|"]
    for path in paths:
        results = json.loads(path.read_text())
        setting = f"{results['profile']}, {results['device']}, {results['threads']} thread(s)"
        for claim in claim_summaries(results):
            seeds = len(claim.records)
            lines.append(f"| {claim.title} | {setting}, {seeds} seeds | "
                         f"{100 * claim.effect.mean:+.1f} | {100 * claim.noise:.1f} | {claim.held} of {seeds} | "
                         f"{claim.verdict} |")
    return "\n".join(lines + ["", *best_models(paths)])


def best_models(paths: list[Path]) -> list[str]:
    """Per notebook setting: the test accuracy of the best fine-tuned model (chosen on validation) over the seeds."""
    lines = ["| best fine-tuned ViT (chosen on validation) | seeds | test accuracy | balanced accuracy |",
             "|---|---|---|---|"]
    for path in paths:
        for notebook, seeds in json.loads(path.read_text())["notebooks"].items():
            best = [measured["targets"]["best_finetuned"] for measured in seeds.values() if "targets" in measured]
            if not best:                                    # a notebook without fine-tuned models (04: probes)
                continue
            lines.append(f"| {notebook} | {len(best)} | " + ", ".join(f"{b['test_accuracy']:.3f}" for b in best)
                         + " | " + ", ".join(f"{b['test_balanced_accuracy']:.3f}" for b in best) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", type=Path)
    parser.add_argument("--write", type=Path, help="a markdown file with the claims markers, e.g. README.md")
    args = parser.parse_args()
    table = claims_table(args.results or sorted(RESULTS.glob("claims_*.json")))
    if args.write is None:
        print(table)
        return
    text = args.write.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{args.write} has no {START} ... {END} markers to put the table between")
    before, rest = text.split(START, 1)
    args.write.write_text(f"{before}{START}\n{table}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
