"""Attention (or any per-patch map) drawn over its image: one map, or one panel per head."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fer_lib.viz.images import Images, show_image, to_display


def attention_overlay(image: Images, attention_map: np.ndarray | torch.Tensor, ax: Axes | None = None,
                      alpha: float = 0.5, title: str | None = None) -> Figure:
    """One image (C, H, W) tensor or (H, W, C) uint8 array with a map (h, w) upsampled, min-max scaled, blended."""
    shown = to_display(image[None])[0]                                         # (H, W, C)
    heat = torch.as_tensor(attention_map).detach().cpu().float()[None, None]
    heat = F.interpolate(heat, size=shown.shape[:2], mode="bilinear", align_corners=False)[0, 0].numpy()
    heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    show_image(ax, shown, title)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    return ax.figure


def attention_heads(image: Images, maps: np.ndarray | torch.Tensor, titles: Sequence[str] | None = None,
                    ncols: int = 6, cell_size: float = 2.0) -> Figure:
    """The image, then one overlay per map (heads, h, w), e.g. each head's CLS attention of one block."""
    maps = torch.as_tensor(maps).detach().cpu().float()
    titles = titles or [f"head {index}" for index in range(len(maps))]
    panels = len(maps) + 1
    ncols = min(ncols, panels)
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_size, nrows * (cell_size + 0.3)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    show_image(axes.flat[0], to_display(image[None])[0], "image")
    for ax, head_map, title in zip(axes.flat[1:], maps, titles):
        attention_overlay(image, head_map, ax=ax, title=title)
    fig.tight_layout()
    return fig
