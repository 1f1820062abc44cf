"""Image transforms (torchvision transforms v2) from uint8 (C, H, W) tensors to normalised floats.

All use ImageNet mean/std so official MAE checkpoints and our own encoders see the same input scale.
Grayscale inputs are repeated to `channels` (and RGB reduced to gray when channels == 1).
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MatchChannels(torch.nn.Module):
    """Repeat a 1-channel image to 3 channels, or average 3 to 1, so a gray/RGB mix never crashes."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-3] == self.channels:
            return image
        if self.channels == 3:
            return image.expand(*image.shape[:-3], 3, *image.shape[-2:])
        return image.float().mean(dim=-3, keepdim=True).round().to(image.dtype)


def _normalize(channels: int) -> list[torch.nn.Module]:
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.5,), (0.25,))
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]


def eval_transform(image_size: int, channels: int = 3) -> v2.Compose:
    """Resize to `image_size` (square) and normalise: validation and test."""
    return v2.Compose([MatchChannels(channels), v2.Resize((image_size, image_size), antialias=True),
                       *_normalize(channels)])


def train_transform(image_size: int, channels: int = 3, scale: tuple[float, float] = (0.2, 1.0)) -> v2.Compose:
    """RandomResizedCrop(scale) + horizontal flip + normalise: the MAE pre-training / weak augmentation."""
    return v2.Compose([MatchChannels(channels),
                       v2.RandomResizedCrop(image_size, scale=scale, antialias=True),
                       v2.RandomHorizontalFlip(), *_normalize(channels)])


def strong_transform(image_size: int, channels: int = 3, scale: tuple[float, float] = (0.2, 1.0),
                     magnitude: int = 9) -> v2.Compose:
    """Weak augmentation + RandAugment(magnitude): the strong view of FixMatch-style semi-supervision."""
    return v2.Compose([MatchChannels(channels),
                       v2.RandomResizedCrop(image_size, scale=scale, antialias=True),
                       v2.RandomHorizontalFlip(), v2.RandAugment(magnitude=magnitude), *_normalize(channels)])


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo `_normalize` for display: (…, C, H, W) float -> [0, 1]."""
    channels = images.shape[-3]
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.5,), (0.25,))
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(-1, 1, 1)
    return (images * std_t + mean_t).clamp(0, 1)
