"""MAE figures: how an image is masked, what the decoder makes of it (one row per image, or per mask ratio), and
where on the face it errs."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from fer_lib.eval.reconstruction import Reconstruction, RegionError
from fer_lib.eval.regions import REGION_KEYWORDS
from fer_lib.viz.charts import comparison_bars
from fer_lib.viz.images import show_image, to_display


def _image_columns(columns: Sequence[tuple[torch.Tensor, str]], count: int, cell_size: float) -> Figure:
    """A table of images: one row per image (the first `count` of each), one titled column per (images, title)."""
    count = min(count, len(columns[0][0]))
    fig, axes = plt.subplots(count, len(columns), figsize=(len(columns) * cell_size, count * cell_size + 0.3),
                             squeeze=False)
    for column, (images, title) in enumerate(columns):
        for row, image in enumerate(to_display(images[:count])):
            show_image(axes[row, column], image, title if row == 0 else None)
    fig.tight_layout()
    return fig


def reconstruction_rows(reconstruction: Reconstruction, count: int = 4, cell_size: float = 1.6) -> Figure:
    """One row per image (the first `count`): original / masked / reconstruction / reconstruction + visible."""
    return _image_columns([(reconstruction.original, "original"),
                           (reconstruction.masked, f"masked {reconstruction.mask_ratio:.0%}"),
                           (reconstruction.reconstruction, "reconstruction"),
                           (reconstruction.pasted, "reconstruction + visible")], count, cell_size)


def mask_ratio_grid(reconstructions: Sequence[Reconstruction], count: int = 4, cell_size: float = 1.2) -> Figure:
    """One row per image (the first `count`): the original, then for each mask ratio masked | reconstructed.

    reconstructions: one `Reconstruction` per mask ratio, of the same images (e.g. 0.25, 0.5, 0.75, 0.9);
    "reconstructed" is the prediction with the visible patches pasted in.
    """
    columns = [(reconstructions[0].original, "original")]
    for reconstruction in reconstructions:
        columns += [(reconstruction.masked, f"{reconstruction.mask_ratio:.0%} masked"),
                    (reconstruction.pasted, "reconstructed")]
    return _image_columns(columns, count, cell_size)


def masking_steps(image: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor, patch_size: int,
                  cell_size: float = 2.6) -> Figure:
    """MAE's random masking on one image (C, H, W): patch grid, noise per patch (ranked), what the encoder sees.

    noise: (L,) the uniform noise drawn per patch; mask: (L,) 1 = removed. Patches are kept in ascending
    order of noise (argsort), so the kept ones are exactly those with the smallest noise.
    """
    grid = (image.shape[-2] // patch_size, image.shape[-1] // patch_size)
    image, mask = image.detach().cpu(), mask.detach().cpu().reshape(grid)
    removed = mask.repeat_interleave(patch_size, dim=0).repeat_interleave(patch_size, dim=1)   # (H, W)
    shown, masked = to_display(torch.stack([image, image * (1 - removed)]))                 # (H, W, C) each
    noise = noise.detach().cpu().reshape(grid).numpy()
    rank = np.argsort(np.argsort(noise, axis=None)).reshape(grid)             # 0 = smallest noise
    is_removed = mask.numpy().astype(bool)
    kept = int((~is_removed).sum())
    fig, axes = plt.subplots(1, 3, figsize=(3 * cell_size, cell_size + 0.5))
    show_image(axes[0], shown, f"{grid[0]} x {grid[1]} patches of {patch_size} px")
    for row in range(1, grid[0]):
        axes[0].axhline(row * patch_size - 0.5, color="white", linewidth=0.6)
    for col in range(1, grid[1]):
        axes[0].axvline(col * patch_size - 0.5, color="white", linewidth=0.6)
    axes[1].imshow(noise, cmap="viridis", vmin=0, vmax=1)
    for (row, col), value in np.ndenumerate(rank):
        axes[1].text(col, row, str(value), ha="center", va="center", fontsize=6,
                     color="white" if is_removed[row, col] else "red",
                     fontweight="normal" if is_removed[row, col] else "bold")
    axes[1].set_axis_off()
    axes[1].set_title(f"noise rank (red: the {kept} smallest, kept)", fontsize=8)
    show_image(axes[2], masked, f"encoder sees {kept} of {is_removed.size} ({is_removed.mean():.0%} removed)")
    fig.tight_layout()
    return fig


def error_maps(image: torch.Tensor | np.ndarray, maps: Mapping[str, torch.Tensor], image_title: str = "mean image",
               cell_size: float = 2.6) -> Figure:
    """An image (e.g. the mean face) beside per-patch error maps (h, w), one per model, on one colour scale.

    image: (C, H, W) tensor or (H, W, C) uint8 array (see `to_display`); maps: model name -> (h, w) errors.
    """
    arrays = {name: torch.as_tensor(values).detach().cpu().float().numpy() for name, values in maps.items()}
    top = max(float(array.max()) for array in arrays.values())
    fig, axes = plt.subplots(1, 1 + len(arrays), figsize=((1 + len(arrays)) * cell_size + 0.6, cell_size + 0.3))
    show_image(axes[0], to_display(image[None])[0], image_title)
    for ax, (name, array) in zip(axes[1:], arrays.items()):
        heat = ax.imshow(array, cmap="magma", vmin=0, vmax=top)
        ax.set_axis_off()
        ax.set_title(name, fontsize=8)
    fig.colorbar(heat, ax=list(axes[1:]), fraction=0.046, pad=0.04, label="mean squared error")
    return fig


def region_error_bars(errors: Mapping[str, Mapping[str, RegionError]], panel_size: tuple[float, float] = (5.2, 3.4)
                      ) -> Figure:
    """Two panels of bars per facial region, a bar per model (errors: model name -> `region_errors` of it).

    Left, the absolute error: each region's masked-patch MSE, in the loss's units, so the models compare directly
    (lower is better). Right, the relative error: each region's error over the model's own image average (the
    dashed line at 1), which says where on the face a model errs most, not which model errs less.
    """
    present = dict.fromkeys(region for by_region in errors.values() for region in by_region)
    regions = [region for region in REGION_KEYWORDS if region in present] + \
              [region for region in present if region not in REGION_KEYWORDS]
    fig, (left, right) = plt.subplots(1, 2, figsize=(2 * panel_size[0], panel_size[1]))
    comparison_bars({region: {model: by_region[region].error for model, by_region in errors.items()}
                     for region in regions}, ax=left, ylabel="masked-patch MSE (lower is better)",
                    title="absolute error per region", digits=3)
    comparison_bars({region: {model: by_region[region].relative_error for model, by_region in errors.items()}
                     for region in regions}, ax=right, ylabel="region error / model's image average",
                    title="relative error: where each model errs most", references={"image average": 1.0})
    fig.tight_layout()
    return fig
