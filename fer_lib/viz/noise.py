"""Noisy labels: a class's loss histogram, clean and flipped labels stacked, with the fitted GMM drawn over it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fer_lib.eval.noise_detection import gmm_densities


def loss_histogram(losses: np.ndarray, flipped: np.ndarray, components: np.ndarray, ax: Axes | None = None,
                   title: str | None = None, bins: int = 30) -> Figure:
    """Per-sample losses (n,) as a histogram stacked by the hidden truth (clean / flipped (n,) bool), with the GMM's
    clean and noisy components (components (3, 2): weight, mean, variance; NaN = no fit) scaled to counts."""
    losses, flipped = np.asarray(losses), np.asarray(flipped, dtype=bool)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.2))
    edges = np.histogram_bin_edges(losses, bins=bins)
    ax.hist([losses[~flipped], losses[flipped]], bins=edges, stacked=True, color=["C0", "C3"], alpha=0.6,
            label=[f"clean label ({int((~flipped).sum())})", f"flipped label ({int(flipped.sum())})"])
    if not np.isnan(components).any():
        grid = np.linspace(edges[0], edges[-1], 200)
        densities = gmm_densities(grid, components) * len(losses) * (edges[1] - edges[0])   # density -> counts
        ax.plot(grid, densities[:, 0], color="C0", linewidth=2, label="GMM: clean component")
        ax.plot(grid, densities[:, 1], color="C3", linewidth=2, label="GMM: noisy component")
    ax.set_xlabel("cross-entropy loss against the (noisy) label")
    ax.set_ylabel("training images")
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
