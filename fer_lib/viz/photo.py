"""A photo with its detected faces boxed, and one card per face: the crop, where the model looks, what it says."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fer_lib.data.photos import PhotoFace
from fer_lib.viz.attention import attention_overlay
from fer_lib.viz.images import show_image, to_display


def photo_with_faces(photo: np.ndarray, faces: Sequence[PhotoFace], titles: Sequence[str] | None = None,
                     width: float = 6.0) -> Figure:
    """uint8 (H, W, 3) `photo` with each face's detector box (solid) and cropped square (dashed), labelled
    "face i" and its title; a centre crop (no face found) shows only its dashed square, labelled "centre crop"."""
    height = width * photo.shape[0] / photo.shape[1]
    fig, ax = plt.subplots(figsize=(width, height))
    show_image(ax, photo.astype(np.float32) / 255)
    for index, face in enumerate(faces):
        colour = f"C{index % 10}"
        left, top, side = face.square
        ax.add_patch(Rectangle((left, top), side, side, fill=False, edgecolor=colour, linestyle="--", linewidth=1.2))
        if face.box is not None:
            x0, y0, x1, y1 = face.box
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=2))
        label = f"face {index + 1}" if face.box is not None else "centre crop"
        label += f": {titles[index]}" if titles else ""
        ax.text(left + 2, top + 2, label, color="white", fontsize=8, va="top",
                bbox={"facecolor": colour, "alpha": 0.8, "pad": 2, "linewidth": 0})
    fig.tight_layout()
    return fig


def face_card(face: torch.Tensor, rollout: torch.Tensor | None, probabilities: Mapping[str, np.ndarray],
              class_names: Sequence[str], title: str = "") -> Figure:
    """One face (C, H, W), normalised: the crop, its attention rollout (h, w) over it (None: no panel), and grouped
    bars of the class probabilities {label: (K,)} (e.g. the face and its mirror image)."""
    panels = 2 if rollout is None else 3
    fig, axes = plt.subplots(1, panels, figsize=(2.4 * (panels - 1) + 5.0, 2.6),
                             gridspec_kw={"width_ratios": [1] * (panels - 1) + [2.4]})
    show_image(axes[0], to_display(face[None])[0], "the crop the model sees")
    if rollout is not None:
        attention_overlay(face, rollout, ax=axes[1], title="attention rollout")
    bars, width = axes[-1], 0.8 / len(probabilities)
    positions = np.arange(len(class_names))
    for index, (label, values) in enumerate(probabilities.items()):
        bars.bar(positions + (index - (len(probabilities) - 1) / 2) * width, values, width, label=label)
    bars.set_xticks(positions, class_names, rotation=30, ha="right")
    bars.set_ylim(0, 1)
    bars.set_ylabel("probability")
    bars.grid(axis="y", alpha=0.3)
    bars.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def against_reference(reference: Mapping[str, np.ndarray], faces: Mapping[str, Sequence[float]],
                      reference_label: str = "test faces", panel_size: tuple[float, float] = (3.4, 2.6)) -> Figure:
    """One panel per measure: the histogram of its values over the reference images {measure: (N,)}, and a
    labelled vertical line per face of the photo {measure: one value per face}."""
    fig, axes = plt.subplots(1, len(reference), figsize=(panel_size[0] * len(reference), panel_size[1]),
                             squeeze=False)
    for ax, (measure, values) in zip(axes[0], reference.items()):
        ax.hist(values, bins=20, color="0.7", label=reference_label)
        for index, value in enumerate(faces[measure]):
            ax.axvline(value, color=f"C{index % 10}", linewidth=2, label=f"face {index + 1}")
        ax.set_title(measure, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("images")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
