"""Image grids: samples with titles, and misclassified examples per class."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fer_lib.data.transforms import denormalize

Images = np.ndarray | torch.Tensor


def to_display(images: Images) -> np.ndarray:
    """Images as float (N, H, W, C) in [0, 1] for imshow.

    Accepts stored uint8 arrays (N, H, W, C) (FaceDataset.images), uint8 tensors (N, C, H, W) and
    normalised float tensors (N, C, H, W) (a transform's output, undone with `denormalize`).
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
        images = denormalize(images.float()) if images.is_floating_point() else images.float() / 255
        return images.permute(0, 2, 3, 1).numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise TypeError(f"arrays must be uint8 (N, H, W, C); got {images.dtype} {images.shape} "
                        "(pass normalised images as a torch tensor)")
    return images.astype(np.float32) / 255


def show_image(ax: Axes, image: np.ndarray, title: str | None = None) -> None:
    """Draw one display image (H, W, C) in [0, 1] without axes; gray when C == 1."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(image)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)


def image_grid(images: Images, titles: Sequence[str] | None = None, ncols: int = 8,
               cell_size: float = 1.5) -> Figure:
    """Images (see `to_display`) in rows of `ncols`, each with its title."""
    shown = to_display(images)
    ncols = min(ncols, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    title_room = 0.3 if titles is not None else 0.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_size, nrows * (cell_size + title_room)),
                             squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index < len(shown):
            show_image(ax, shown[index], None if titles is None else titles[index])
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def error_examples(images: Images, labels: np.ndarray | torch.Tensor, preds: np.ndarray | torch.Tensor,
                   class_names: Sequence[str], per_class: int = 4, cell_size: float = 1.5) -> Figure:
    """One row per true class: its first `per_class` misclassified images (N, ...), titled true / predicted."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    errors = [np.flatnonzero((labels == c) & (preds != c))[:per_class].tolist() for c in range(len(class_names))]
    shown = iter(to_display(images[sum(errors, [])]))                  # only the images drawn, in row order
    fig, axes = plt.subplots(len(class_names), per_class,
                             figsize=(per_class * cell_size, len(class_names) * (cell_size + 0.4)), squeeze=False)
    for true_class, (row, indices) in enumerate(zip(axes, errors)):
        for ax in row:
            ax.set_axis_off()
        if not indices:
            row[0].text(0.0, 0.5, f"{class_names[true_class]}: no errors", fontsize=8, transform=row[0].transAxes)
        for ax, index in zip(row, indices):
            show_image(ax, next(shown), f"true {class_names[true_class]}\npred {class_names[preds[index]]}")
    fig.tight_layout()
    return fig
