"""Image transforms (torchvision transforms v2) from uint8 (C, H, W) tensors to normalised floats.

All use ImageNet mean/std so official MAE checkpoints and our own encoders see the same input scale.
Grayscale inputs are repeated to `channels` (and RGB reduced to gray when channels == 1).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _is_plain_tensor(inpt: object) -> bool:
    return type(inpt) is torch.Tensor


class MatchChannels(v2.Transform):
    """Repeat a 1-channel image to 3 channels, or average 3 to 1, so a gray/RGB mix never crashes. A v2 transform:
    face boxes (`tv_tensors.BoundingBoxes`) passed with the image go through unchanged."""

    _transformed_types = (_is_plain_tensor, tv_tensors.Image)

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def transform(self, inpt: torch.Tensor, params: dict) -> torch.Tensor:
        if inpt.shape[-3] == self.channels:
            return inpt
        if self.channels == 3:
            matched = inpt.expand(*inpt.shape[:-3], 3, *inpt.shape[-2:])
        else:
            matched = inpt.float().mean(dim=-3, keepdim=True).round().to(inpt.dtype)
        return tv_tensors.wrap(matched, like=inpt) if isinstance(inpt, tv_tensors.Image) else matched


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
                     magnitude: float = 9.0, magnitude_std: float = 0.5) -> v2.Compose:
    """Weak augmentation + RandAugment at timm's "rand-m9-mstd0.5" (`NoisyRandAugment`): the strong view of
    FixMatch-style semi-supervision (SSFER stage 3)."""
    return v2.Compose([MatchChannels(channels),
                       v2.RandomResizedCrop(image_size, scale=scale, antialias=True),
                       v2.RandomHorizontalFlip(), NoisyRandAugment(magnitude, magnitude_std), *_normalize(channels)])


def contrastive_transform(image_size: int, channels: int = 3, crop_min: float = 0.2, jitter: float = 0.4,
                          grayscale_prob: float = 0.2, blur_prob: float = 0.5) -> v2.Compose:
    """One view of SimCLR's augmentation (as SSL-FER and CRS-CONT use it): random resized crop down to
    `crop_min` of the area, flip, colour jitter (brightness, contrast, saturation `jitter`, hue `jitter` / 2)
    with p 0.8, grayscale with `grayscale_prob`, Gaussian blur with `blur_prob`. Called once per view."""
    kernel = max(3, (image_size // 10) | 1)                         # odd, about a tenth of the image
    return v2.Compose([MatchChannels(channels),
                       v2.RandomResizedCrop(image_size, scale=(crop_min, 1.0), antialias=True),
                       v2.RandomHorizontalFlip(),
                       v2.RandomApply([v2.ColorJitter(jitter, jitter, jitter, jitter / 2)], p=0.8),
                       v2.RandomGrayscale(grayscale_prob),
                       v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_prob),
                       *_normalize(channels)])


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo `_normalize` for display: (…, C, H, W) float -> [0, 1]."""
    channels = images.shape[-3]
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.5,), (0.25,))
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(-1, 1, 1)
    return (images * std_t + mean_t).clamp(0, 1)


class NoisyRandAugment(v2.RandAugment):
    """torchvision's RandAugment on timm's 0-10 magnitude scale with timm's magnitude noise ("rand-m9-mstd0.5"):
    each image draws its level from N(magnitude, magnitude_std), clipped to [0, 10], and both ops use it.

    torchvision has no magnitude std, and its `magnitude` indexes 31 bins (9 is 30% of each op's range, timm's m9
    is 90%); timm's own RandAugment works on PIL images only and draws from Python's `random`, which the datasets'
    per-sample seeding does not cover. Here the level is drawn with torch's RNG on uint8 tensors, so a strong view
    stays a function of the sample's seed. Unlike timm, each drawn op is always applied (timm: with p 0.5); the
    torchvision op set is timm's "inc1" set (posterize and solarize grow stronger with the level).
    """

    def __init__(self, magnitude: float = 9.0, magnitude_std: float = 0.5, num_ops: int = 2) -> None:
        super().__init__(num_ops=num_ops, num_magnitude_bins=101)          # bin i = level i / 10
        self.level, self.level_std = magnitude, magnitude_std

    def forward(self, *inputs: Any) -> Any:
        level = min(max(self.level + self.level_std * float(torch.randn(())), 0.0), 10.0)
        self.magnitude = round(10 * level)
        return super().forward(*inputs)


class WeakStrong:
    """Two views of one image for pseudo-labelling: [weak(x), strong(x)]; a batch collates them to two
    (B, C, H, W) tensors, the teacher's input and the student's."""

    def __init__(self, weak: Callable[[torch.Tensor], torch.Tensor],
                 strong: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.weak, self.strong = weak, strong

    def __call__(self, image: torch.Tensor) -> list[torch.Tensor]:
        return [self.weak(image), self.strong(image)]
