"""Scatter of a 2-D embedding coloured by expression class and, beside it, by identity."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def embedding_scatter(embedding: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      identities: np.ndarray | None = None, point_size: float = 6.0) -> Figure:
    """Points (N, 2) coloured by class (legend of `class_names`); a second panel by identity (N,) if given, with
    the 10 most frequent identities in colour and the others grey (more colours than 10 cannot be told apart).

    Clusters in the identity panel that cut across classes are identity leakage in the features.
    """
    embedding, labels = np.asarray(embedding), np.asarray(labels)
    panels = 1 if identities is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels + 1.5, 4.5), squeeze=False)
    by_class = axes[0, 0]
    colours = plt.get_cmap("tab10")
    for index, name in enumerate(class_names):
        points = embedding[labels == index]
        by_class.scatter(points[:, 0], points[:, 1], s=point_size, color=colours(index % 10), label=name)
    by_class.legend(fontsize=8, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    by_class.set_title("by expression")
    if identities is not None:
        ids, counts = np.unique(np.asarray(identities), return_counts=True)
        shown = ids[np.argsort(-counts, kind="stable")[:10]]
        others = ~np.isin(identities, shown)
        axes[0, 1].scatter(embedding[others, 0], embedding[others, 1], s=point_size, color="0.85")
        for index, identity in enumerate(shown):
            points = embedding[np.asarray(identities) == identity]
            axes[0, 1].scatter(points[:, 0], points[:, 1], s=point_size * 1.5, color=colours(index), label=f"id {identity}")
        axes[0, 1].legend(fontsize=8, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
        axes[0, 1].set_title(f"by identity: the 10 most frequent of {len(ids)} in colour")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
