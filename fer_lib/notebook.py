"""What every notebook's first and last code cells call: `start` builds the run context, `finish` records it.

    run = start("02_mae_pretraining", globals())     # config, seeding, threads, device, the notebook's folder
    run.save_figure(fig, "loss_curves")               # -> the report
    run.finish({"face_mae_final_loss": ...})          # metrics -> the report, printed as a small table

A notebook's folder is runs/<profile>/notebook-<name>-<hash of its settings>/, so a variant (another
`finetune_epochs`, say) keeps its own figures and metrics beside the default run's.
"""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from IPython.display import Markdown, display

from fer_lib.config import FLAT_NAMES, RunConfig, make_config, result_identity
from fer_lib.engine.devices import apply_threads, resolve_device
from fer_lib.eval.claims import Claim
from fer_lib.eval.claims_benchmark import notebook_claims
from fer_lib.report import markdown_table, write_json_atomic
from fer_lib.runs import open_run

if TYPE_CHECKING:
    import ipywidgets as widgets
    import matplotlib.figure


@dataclasses.dataclass
class RunContext:
    """One notebook run: its config, device and folder; it saves figures and records metrics."""

    notebook: str
    cfg: RunConfig
    device: torch.device
    folder: Path
    claims: list[Claim] = dataclasses.field(default_factory=list)

    def save_figure(self, figure: "matplotlib.figure.Figure", name: str) -> Path:
        """Save a key figure as <folder>/figures/<name>.png; the run report embeds it."""
        path = self.folder / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110, bbox_inches="tight")
        return path

    def claim(self, claim: Claim) -> None:
        """Print a paper's claim with its measured verdict; `finish` records it for the report's claims table."""
        self.claims.append(claim)
        print(f"- {claim.sentence()}")

    def finish(self, metrics: dict[str, Any]) -> None:
        """Record the measured metrics (<folder>/metrics.json) and claims (claims.json) for the report; say where,
        not all of them again."""
        write_json_atomic(self.folder / "metrics.json", metrics)
        write_json_atomic(self.folder / "claims.json", [claim.record() for claim in self.claims])
        print(f"recorded {len(metrics)} measured numbers in {self.folder / 'metrics.json'} (the run report lists them)")


def start(notebook: str, namespace: Mapping[str, Any]) -> RunContext:
    """The notebook's run context, seeded. A notebook calls `start(name, globals())`.

    `namespace["profile"]` picks the profile and every other name of `namespace` that is a setting's flat name
    overrides it (None keeps the profile's value): the parameters cell and whatever papermill injects with
    `-p name value`, so every setting is a parameter.
    """
    overrides = {k: v for k, v in namespace.items() if k in FLAT_NAMES and k != "profile"}
    cfg = make_config(namespace.get("profile", "quick"), **overrides)
    apply_threads(cfg.engine.threads)
    folder = open_run(cfg.profile, cfg.seed, "notebook", notebook, result_identity(cfg))
    device = resolve_device(cfg.engine.device)
    print(f"{notebook}: profile={cfg.profile} dataset={cfg.data.dataset} image_size={cfg.data.image_size} "
          f"arch={cfg.arch} device={device} torch_threads={torch.get_num_threads()} folder={folder}")
    return RunContext(notebook, cfg, device, folder)


def table(rows: dict[str, dict[str, Any]], digits: int = 3) -> Markdown:
    """{row: {column: value}} shown as a markdown table in the notebook."""
    return Markdown(markdown_table(rows, digits))


def show_benchmark_claims(notebook: str, profile: str) -> None:
    """Display the claims of notebook `notebook` ("05") as the claims benchmark measured them over its seeds,
    and the results file they come from."""
    path, rows = notebook_claims(notebook, profile)
    print(f"\nEvery claim of this notebook in the claims benchmark ({path.name}: the runs of claim_runs at each seed; "
          f"python benchmarks/bench_claims.py --notebook {notebook} measures them):")
    display(table(rows, digits=1))


def explorer(function: Callable[..., None], **controls: "widgets.ValueWidget") -> None:
    """`function` drawn once at the controls' values (the picture an executed or static copy keeps), then the
    controls, which redraw it live below them in Jupyter. Nothing is drawn into the widget until a control moves,
    so a headless run (papermill, nbval) sends no output-widget messages. A static copy shows a note instead of
    the widget's text."""
    import ipywidgets as widgets

    function(**{name: control.value for name, control in controls.items()})
    drawn = widgets.Output()

    def redraw(_: Any) -> None:
        with drawn:
            drawn.clear_output(wait=True)
            function(**{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(redraw, names="value")
    bundle = widgets.VBox([*controls.values(), drawn])._repr_mimebundle_()
    bundle["text/plain"] = "(the controls of this explorer appear when the notebook runs in Jupyter)"
    display(bundle, raw=True)


def show_source(function: Any) -> Markdown:
    """The source of a library function, shown in the notebook: the lines that teach, read from the library
    itself, so the notebook can never show other code than the one that trains."""
    return Markdown(f"```python\n{inspect.getsource(function)}```")
