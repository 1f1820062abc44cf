"""Pictures of contrastive learning: an anchor beside its positives and hard negatives, label-efficiency curves,
and expression accuracy against identity leakage."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from fer_lib.viz.images import show_image, to_display


def pair_rows(rows: Sequence[Mapping[str, torch.Tensor]], cell_size: float = 1.4) -> Figure:
    """One row per anchor, one column per role ("anchor", "positive: TimeAug", "hard negative", ...): each row a
    {role: image (C, H, W) normalised float} in the same role order."""
    roles = list(rows[0])
    fig, axes = plt.subplots(len(rows), len(roles), figsize=(len(roles) * cell_size, len(rows) * (cell_size + 0.25)),
                             squeeze=False)
    for row_axes, row in zip(axes, rows):
        shown = to_display(torch.stack([row[role] for role in roles]))
        for ax, image, role in zip(row_axes, shown, roles):
            show_image(ax, image, role if row is rows[0] else None)
    fig.tight_layout()
    return fig


def label_efficiency_curves(curves: Mapping[str, Mapping[float, float]], references: Mapping[str, float] | None = None,
                            ylabel: str = "linear-probe test accuracy") -> Figure:
    """Accuracy against the share of training labels (log axis), one line per encoder {name: {fraction: acc}};
    `references` {label: value} adds dashed horizontal lines (e.g. the majority class)."""
    fig, ax = plt.subplots(figsize=(6.8, 4.0))
    for index, (name, curve) in enumerate(curves.items()):
        fractions = sorted(curve)
        ax.plot([100 * f for f in fractions], [curve[f] for f in fractions], marker="o", color=f"C{index}", label=name)
    for index, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="gray", linestyle=("--", ":", "-.")[index % 3], linewidth=1, label=f"{label} ({value:.2f})")
    ax.set_xscale("log")
    every = sorted({100 * f for curve in curves.values() for f in curve})
    ax.set_xticks(every, [f"{f:g}%" for f in every])
    ax.set_xlabel("training labels used by the probe")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def leakage_scatter(points: Mapping[str, tuple[float, float]], chance_identity: float | None = None) -> Figure:
    """One point per encoder {name: (identity 1-NN accuracy, expression accuracy)}: lower-right is leakage, the
    upper-left corner is what SSL-FER aims for (expression without identity)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for index, (name, (identity, expression)) in enumerate(points.items()):
        ax.scatter(identity, expression, s=50, color=f"C{index}", label=name, zorder=3)
    if chance_identity is not None:
        ax.axvline(chance_identity, color="gray", linestyle=":", linewidth=1, label=f"identity chance ({chance_identity:.3f})")
    ax.set_xlabel("identity 1-NN accuracy on held-out people (leakage: lower is better)")
    ax.set_ylabel("expression accuracy (linear probe)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig
