"""Reliability diagrams: accuracy against confidence, one panel per model."""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from fer_lib.eval.calibration import ReliabilityBins


def reliability_diagram(bins_by_model: Mapping[str, ReliabilityBins], panel_size: float = 2.8) -> Figure:
    """Per model: the accuracy of each confidence bin (bars) against the diagonal of perfect calibration, the gap
    to it shaded (above the diagonal: under-confident, below: over-confident), the share of test images per bin as
    a thin line, and the ECE in the title."""
    fig, axes = plt.subplots(1, len(bins_by_model), figsize=(panel_size * len(bins_by_model), panel_size + 0.3),
                             squeeze=False, sharey=True)
    for ax, (name, bins) in zip(axes[0], bins_by_model.items()):
        left, width = bins.edges[:-1], np.diff(bins.edges)
        filled = bins.counts > 0
        ax.bar(left[filled], bins.accuracy[filled], width[filled], align="edge", color="C0", edgecolor="white",
               label="accuracy")
        ax.bar(left[filled], bins.confidence[filled] - bins.accuracy[filled], width[filled],
               bottom=bins.accuracy[filled], align="edge", color="C3", alpha=0.3, label="gap to confidence")
        ax.plot(bins.edges[[0, -1]], bins.edges[[0, -1]], color="gray", linestyle="--", linewidth=1)
        ax.step(bins.edges[1:], bins.counts / bins.counts.sum(), where="pre", color="gray", linewidth=0.8,
                alpha=0.7, label="share of images")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", title=f"{name}\nECE {100 * bins.ece:.1f}%")
        ax.title.set_fontsize(9)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
