"""Charts: training curves from a fit history, a confusion-matrix heatmap, grouped bars of a results table (with
reference lines)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

History = Sequence[Mapping[str, float]]


def training_curves(history: History | Mapping[str, History], keys: Sequence[str | Sequence[str]],
                    panel_size: tuple[float, float] = (4.0, 3.0)) -> Figure:
    """One panel per entry of `keys` (a history key, or several keys sharing a panel) against the epoch.

    history: the per-epoch records of `fit` (dicts with "epoch", "train_loss", "val_acc", "lr", ...), or a
    mapping run name -> history to compare runs. Epochs where a key is missing are skipped.
    """
    runs = history if isinstance(history, Mapping) else {"": history}
    panels = [[key] if isinstance(key, str) else list(key) for key in keys]
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size[0] * len(panels), panel_size[1]), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for run, records in runs.items():
            for key in panel:
                points = [(record.get("epoch", index + 1), record[key])
                          for index, record in enumerate(records) if key in record]
                label = " ".join(part for part in (run, key if len(panel) > 1 else "") if part)
                ax.plot(*zip(*points), marker="o", markersize=3, label=label or None)
        ax.set_title(", ".join(panel), fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_heatmap(confusion: np.ndarray, class_names: Sequence[str], ax: Axes | None = None,
                      title: str | None = None) -> Figure:
    """Counts (K, K) (rows = true class) coloured by row-normalised fraction, each cell annotated with its count."""
    confusion = np.asarray(confusion)
    fractions = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    if ax is None:
        size = 1.0 + 0.6 * len(class_names)
        _, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(confusion):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=8,
                color="white" if fractions[row, col] > 0.5 else "black")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.figure.tight_layout()
    return ax.figure


def comparison_bars(table: Mapping[str, Mapping[str, float]], metrics: Sequence[str] | None = None,
                    ax: Axes | None = None, ylabel: str = "", title: str | None = None,
                    references: Mapping[str, float] | None = None, digits: int = 2) -> Figure:
    """Grouped bars of a table {row (method, dataset): {metric: value}}: one group per row, a bar per metric,
    each bar labelled with its value (`digits` decimals); `references` {label: value} adds a labelled dashed
    horizontal line per entry (a baseline, a chance level)."""
    rows = list(table)
    metrics = list(metrics or dict.fromkeys(metric for values in table.values() for metric in values))
    if ax is None:
        _, ax = plt.subplots(figsize=(2.5 + len(rows) * (0.5 + 0.45 * len(metrics)), 3.5))
    width = 0.8 / len(metrics)
    positions = np.arange(len(rows))
    for index, metric in enumerate(metrics):
        values = [table[row].get(metric, np.nan) for row in rows]
        bars = ax.bar(positions + (index - (len(metrics) - 1) / 2) * width, values, width,
                      label=metric if len(metrics) > 1 else None)
        ax.bar_label(bars, fmt=f"%.{digits}f", fontsize=7)
    for index, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"C{len(metrics) + index}", linestyle="--", linewidth=1.2,
                   label=f"{label} ({value:.{digits}f})")
    slanted = len(rows) > 4 or max((len(str(row)) for row in rows), default=0) > 14   # long labels overlap
    ax.set_xticks(positions, rows, rotation=30 if slanted else 0, ha="right" if slanted else "center")
    ax.set_ylabel(ylabel)
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
