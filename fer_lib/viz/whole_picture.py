"""Notebook 08's pictures: label efficiency of every method in two panels (fine-tuned over seeds, frozen probe),
and accuracy against what it cost."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fer_lib.eval.claims_benchmark import SeedStats

MARKERS = "osD^v<>Ph*Xp"


def _percent_axis(ax: Axes, fractions: list[float]) -> None:
    ax.set_xscale("log")
    ax.set_xticks([100 * f for f in fractions], [f"{100 * f:g}%" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("share of the training labels")
    ax.grid(alpha=0.3)


def _nudged(fractions: Mapping[str, list[float]], step: float = 0.022) -> dict[tuple[str, float], float]:
    """{(name, fraction): x position in percent}, the names that share a fraction spread evenly around it (log axis)."""
    positions = {}
    for fraction in sorted({f for shares in fractions.values() for f in shares}):
        sharing = [name for name, shares in fractions.items() if fraction in shares]
        for rank, name in enumerate(sharing):
            positions[name, fraction] = 100 * fraction * 10 ** (step * (rank - (len(sharing) - 1) / 2))
    return positions


def label_efficiency_panels(finetuned: Mapping[str, Mapping[float, SeedStats]], groups: Mapping[str, str],
                            probed: Mapping[str, Mapping[float, float]], probe_noise: Mapping[str, Mapping[float, float]],
                            tuned_references: Mapping[str, float] | None = None,
                            probe_references: Mapping[str, float] | None = None,
                            fractions: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 1.0)) -> Figure:
    """Left: fine-tuned test accuracy {method: {fraction: SeedStats}}, mean with the seeds' standard deviation as
    error bar (hollow marker: one seed), one marker shape per group {method: group} (e.g. the notebook that
    measured it), nudged sideways so that points at one fraction do not hide each other. Right: the frozen
    linear probe {encoder: {fraction: accuracy}}, error bars `probe_noise` (same layout). The references
    {label: accuracy} of each panel are drawn as dashed lines (e.g. the majority class of its test set)."""
    fig, (tuned_ax, probe_ax) = plt.subplots(1, 2, figsize=(15, 5.2), sharey=True)
    shapes = {group: MARKERS[i % len(MARKERS)] for i, group in enumerate(dict.fromkeys(groups.values()))}
    palette = plt.get_cmap("tab20")
    nudged = _nudged({name: list(curve) for name, curve in finetuned.items()})
    for index, (name, curve) in enumerate(finetuned.items()):
        shown = sorted(curve)
        if not shown:
            continue
        color = palette(index % 10 * 2 + index // 10 % 2)          # tab20's strong colours first
        tuned_ax.errorbar([nudged[name, f] for f in shown], [curve[f].mean for f in shown], capsize=2, color=color,
                          yerr=[0.0 if curve[f].n < 2 else curve[f].spread for f in shown],
                          marker=shapes[groups[name]], linestyle="-" if len(shown) > 1 else "none", label=name,
                          markerfacecolor=color if all(curve[f].n > 1 for f in shown) else "white")
    nudged = _nudged({name: list(curve) for name, curve in probed.items()})
    for index, (name, curve) in enumerate(probed.items()):
        shown = sorted(curve)
        probe_ax.errorbar([nudged[name, f] for f in shown], [curve[f] for f in shown], capsize=2, marker="o",
                          yerr=[probe_noise[name][f] for f in shown], color=f"C{index % 10}", label=name)
    for ax, title, references in (
            (tuned_ax, "fine-tuned: claims benchmark, mean ± SD over seeds (hollow: 1 seed)", tuned_references),
            (probe_ax, "frozen, linear probe: measured here, ± 2 SE of the test sample", probe_references)):
        for style, (label, value) in zip(("--", ":", "-."), (references or {}).items()):
            ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=f"{label} ({value:.2f})")
        _percent_axis(ax, sorted(set(fractions) | {f for curve in (*finetuned.values(), *probed.values()) for f in curve}))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    tuned_ax.set_ylabel("test accuracy")
    fig.tight_layout()
    return fig


def cost_scatter(points: Mapping[str, tuple[float, float]], xlabel: str, ylabel: str, title: str = "") -> Figure:
    """One point per encoder {name: (cost, accuracy)}, each in its colour with a legend naming them."""
    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    for index, (name, (cost, accuracy)) in enumerate(points.items()):
        ax.scatter(cost, accuracy, s=50, color=f"C{index % 10}", marker=MARKERS[index // 10 % len(MARKERS)],
                   label=name, zorder=3)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def cost_bars(rows: Mapping[str, tuple[float, float]], groups: Mapping[str, str], xlabel: str, accuracy_label: str,
              title: str = "") -> Figure:
    """One horizontal bar per run {name: (cost, accuracy)} in the given order, coloured by its group {name: group}
    (e.g. its share of the labels), with `accuracy_label` and the accuracy written after the bar."""
    fig, ax = plt.subplots(figsize=(8.5, 0.8 + 0.24 * max(len(rows), 1)))
    colours = {group: f"C{i % 10}" for i, group in enumerate(dict.fromkeys(groups.values()))}
    for position, (name, (cost, accuracy)) in enumerate(rows.items()):
        group = groups[name]
        shown = group not in ax.get_legend_handles_labels()[1]
        ax.barh(position, cost, color=colours[group], label=group if shown else None)
        ax.text(cost, position, f" {accuracy_label} {accuracy:.3f}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), list(rows), fontsize=7)
    ax.invert_yaxis()
    ax.margins(x=0.25)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    if colours:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
