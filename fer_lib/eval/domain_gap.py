"""Whether a classifier's answer on a face survives small changes of view: a mirror image, smaller and shifted
crops. Measured the same way on the training domain's test faces, it says how far a face from elsewhere (a photo)
lies from what the model knows: a model that meets its own kind of face answers the same under every view.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF

from fer_lib.models.vit import evaluating

# name -> (share of the side kept, relative position of the square crop: 0 = left / top, 1 = right / bottom)
VIEW_CROPS = {"centre 90%": (0.9, 0.5, 0.5), "centre 80%": (0.8, 0.5, 0.5),
              "top-left 90%": (0.9, 0.0, 0.0), "bottom-right 90%": (0.9, 1.0, 1.0)}


def changed_views(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """uint8 images (N, C, H, W) under each view, same shape: "original", "mirrored", then the square crops of
    VIEW_CROPS resized back to H x W."""
    height, width = images.shape[-2:]
    views = {"original": images, "mirrored": TF.horizontal_flip(images)}
    for name, (share, across, down) in VIEW_CROPS.items():
        crop_height, crop_width = round(share * height), round(share * width)
        top, left = round(down * (height - crop_height)), round(across * (width - crop_width))
        views[name] = TF.resized_crop(images, top, left, crop_height, crop_width, [height, width], antialias=True)
    return views


def class_probabilities(model: nn.Module, images: torch.Tensor, device: torch.device,
                        batch_size: int = 256) -> torch.Tensor:
    """Softmax of `model`'s logits in eval mode: normalised images (N, C, H, W) -> (N, K) on the CPU."""
    model.to(device)
    with evaluating(model):
        return torch.cat([F.softmax(model(batch.to(device)).float(), dim=1).cpu()
                          for batch in images.split(batch_size)])


@dataclass(frozen=True)
class ViewPredictions:
    """Class probabilities of N images under V views, (V, N, K); view 0 is the original."""

    views: tuple[str, ...]
    probabilities: torch.Tensor

    @property
    def predictions(self) -> np.ndarray:
        """The class of each original image, (N,)."""
        return self.probabilities[0].argmax(dim=1).numpy()

    @property
    def confidence(self) -> np.ndarray:
        """The largest class probability of each original image (max softmax), (N,)."""
        return self.probabilities[0].max(dim=1).values.numpy()

    @property
    def agreement(self) -> np.ndarray:
        """Share of the other views that predict the original's class, (N,): 1 = the answer never changes."""
        changed = self.probabilities[1:].argmax(dim=2).numpy()                  # (V - 1, N)
        return (changed == self.predictions[None]).mean(axis=0)


def view_predictions(model: nn.Module, images: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor],
                     device: torch.device) -> ViewPredictions:
    """`model`'s class probabilities for uint8 images (N, C, H, W) under every test-time view, each view passed
    through `transform` (the evaluation transform: resize and normalise)."""
    views = changed_views(images)
    return ViewPredictions(tuple(views), torch.stack([class_probabilities(model, transform(view), device)
                                                      for view in views.values()]))
