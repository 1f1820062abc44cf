"""Mixed faces with their face boxes (Mixup, CutMix and FaceMix on the same pairs) and the spread of FaceMix's
weights on the real images."""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from timm.data.mixup import cutmix_bbox_and_lam

from fer_lib.methods.facemix import mix_images, partner_iou
from fer_lib.viz.images import show_image, to_display

BOX_COLOURS = ("cyan", "orange")        # sample i's face box, its partner's


def cutmix_images(images: torch.Tensor, lam: float, seed: int = 0) -> tuple[torch.Tensor, tuple[int, ...], float]:
    """timm's CutMix of the batch with its flipped self at `lam`, the rectangle placed by `seed`: the images
    (N, C, H, W), the rectangle (y0, y1, x0, x1) pasted from the partner and the area-corrected lam."""
    state = np.random.get_state()
    np.random.seed(seed)
    (y0, y1, x0, x1), lam = cutmix_bbox_and_lam(images.shape, lam, correct_lam=True)
    np.random.set_state(state)
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = images.flip(0)[:, :, y0:y1, x0:x1]
    return mixed, (int(y0), int(y1), int(x0), int(x1)), float(lam)


def _draw_box(ax: Axes, box: np.ndarray, colour: str, **style: object) -> None:
    """A box x0, y0, x1, y1 in pixel-edge coordinates on an imshow axis (pixel centres at integers)."""
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.2,
                           **style))


def mixing_grid(images: torch.Tensor, boxes: torch.Tensor, lam: float, pairs: int = 4,
                cell_size: float = 1.6) -> Figure:
    """For the first `pairs` samples i of a batch: x_i, its partner x_{N-1-i} and their Mixup, CutMix and FaceMix
    images at `lam`, one column per pair, with the face boxes (i's cyan, the partner's orange) and CutMix's pasted
    rectangle (dotted). The FaceMix row shades the boxes' intersection and gives IoU_i and the weight 1 - IoU_i
    the real images get back (FaceMix's mixed image is Mixup's; the boxes decide the loss).

    images: (N, C, H, W) normalised views; boxes: (N, 4) x0, y0, x1, y1 of the same views."""
    pairs = min(pairs, len(images) // 2)
    boxes = boxes.float().cpu()
    partner_boxes, iou = boxes.flip(0), partner_iou(boxes)
    mixed = mix_images(images, lam)
    cut, (y0, y1, x0, x1), cut_lam = cutmix_images(images, lam)
    rows = [("x_i", images, (0,)), ("partner x_(N-1-i)", images.flip(0), (1,)),
            (f"Mixup, lam {lam:.2f}", mixed, (0, 1)), (f"CutMix, area lam {cut_lam:.2f}", cut, (0, 1)),
            (f"FaceMix, lam {lam:.2f}", mixed, (0, 1))]
    fig, axes = plt.subplots(len(rows), pairs, figsize=(pairs * cell_size, len(rows) * (cell_size + 0.35)),
                             squeeze=False)
    for row, (name, batch, drawn) in enumerate(rows):
        shown = to_display(batch[:pairs])
        facemix = row == len(rows) - 1
        for column, ax in enumerate(axes[row]):
            pair = (boxes[column].numpy(), partner_boxes[column].numpy())
            title = f"{name}\n" if column == 0 else ""
            title += f"IoU {iou[column]:.2f}, real w {1 - iou[column]:.2f}" if facemix else ""
            show_image(ax, shown[column], title.strip() or None)
            for which in drawn:
                _draw_box(ax, pair[which], BOX_COLOURS[which])
            if name.startswith("CutMix"):
                _draw_box(ax, np.array([x0, y0, x1, y1]), "white", linestyle=":")
            corner, far_corner = np.maximum(pair[0][:2], pair[1][:2]), np.minimum(pair[0][2:], pair[1][2:])
            if facemix and (far_corner > corner).all():
                ax.add_patch(Rectangle(corner - 0.5, *(far_corner - corner), color="yellow", alpha=0.2))
    fig.tight_layout()
    return fig


def facemix_weight_histogram(weights_by_setting: Mapping[str, np.ndarray], bins: int = 20) -> Figure:
    """Histograms of FaceMix's real-image weights 1 - IoU_i (each setting's (M,) weights over many batches), the
    mean of each in its legend entry: near 0, FaceMix is Mixup; near 1, the real images count in full."""
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, weights in weights_by_setting.items():
        ax.hist(weights, bins=edges, alpha=0.5, density=True, label=f"{name} (mean {np.mean(weights):.2f})")
    ax.set(xlabel="weight of the real images, 1 - IoU", ylabel="density", xlim=(0, 1))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
