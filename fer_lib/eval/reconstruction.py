"""What a masked autoencoder reconstructs: images for display, held-out loss (pooled and per image), error per
facial region, and the paired comparison of two models' errors.

All functions run the MAE without gradients in eval mode (its mode is restored after) and draw the random
mask under a fixed seed (`masking_rng`), so a figure, a loss or an error map is reproducible and two
models can be compared on exactly the same masks.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from fer_lib.data.base import FaceDataset
from fer_lib.data.transforms import eval_transform
from fer_lib.eval.compare import compare_paired
from fer_lib.eval.metrics import ArrayLike, as_numpy
from fer_lib.eval.regions import region_mass, region_masks
from fer_lib.models.mae import MaskedAutoencoderViT


@contextlib.contextmanager
def masking_rng(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block with torch's RNG of `device` seeded with `seed`; the caller's RNG state is restored after.

    `MaskedAutoencoderViT.random_masking` draws its noise from that RNG, so the same seed gives the same mask.
    """
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type != "cpu" else [], device_type=device.type):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True)
class Reconstruction:
    """One masked forward pass of N images, for display. Images are normalised (N, C, H, W), on the CPU.

    original:        the input
    masked:          the input with removed patches set to 0, i.e. the mean colour once denormalised
    reconstruction:  the decoder's prediction of every patch, in input scale
    pasted:          the prediction on removed patches, the input on visible ones (what the figures show)
    mask:            (N, h, w) per patch, 1 = removed, 0 = visible to the encoder
    per_patch_error: (N, h, w) mean squared error of each patch against the training target (normalised
                     pixels when the model uses norm_pix_loss); only removed patches are trained, so read
                     it where mask == 1
    """

    original: torch.Tensor
    masked: torch.Tensor
    reconstruction: torch.Tensor
    pasted: torch.Tensor
    mask: torch.Tensor
    per_patch_error: torch.Tensor
    mask_ratio: float


def _masked_pass(mae: MaskedAutoencoderViT, images: torch.Tensor, mask_ratio: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred (N, L, p*p*C), mask (N, L) with 1 = removed, per-patch squared error vs the target (N, L)."""
    _, pred, mask = mae(images, mask_ratio)
    return pred, mask, ((pred - mae.pixel_targets(images)) ** 2).mean(dim=-1)


def prediction_in_pixels(mae: MaskedAutoencoderViT, images: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Predicted patches (N, L, p*p*C) of `images` (N, C, H, W) back in the input's scale, (N, L, p*p*C).

    With norm_pix_loss the model predicts each patch normalised by its own mean and variance, which it cannot
    know: the official MAE demo shows a model trained without norm_pix_loss for that reason. Here we undo the
    normalisation with the *original* patch's statistics, so a displayed patch borrows its mean colour and
    contrast from the hidden truth and looks better than the prediction is (`per_patch_error` does not).
    """
    if not mae.norm_pix_loss:
        return pred
    target = mae.patchify(images)
    mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
    return pred * (var + 1e-6) ** 0.5 + mean


def _grid(mae: MaskedAutoencoderViT, per_patch: torch.Tensor) -> torch.Tensor:
    """(N, L) -> (N, h, w) in the patch grid's row-major order."""
    return per_patch.reshape(len(per_patch), *mae.patch_embed.grid_size)


def _pixel_mask(mae: MaskedAutoencoderViT, mask: torch.Tensor) -> torch.Tensor:
    """Patch mask (N, L) -> pixel mask (N, 1, H, W), 1 where the patch was removed."""
    p = mae.patch_embed.patch_size[0]
    return _grid(mae, mask).repeat_interleave(p, dim=1).repeat_interleave(p, dim=2)[:, None]


def _check_removes_patches(mae: MaskedAutoencoderViT, mask_ratio: float) -> None:
    """A score over removed patches needs at least one removed patch per image."""
    length = mae.patch_embed.num_patches
    if int(length * (1 - mask_ratio)) >= length:
        raise ValueError(f"mask_ratio {mask_ratio} removes none of the {length} patches: nothing to score")


@contextlib.contextmanager
def _evaluating(mae: MaskedAutoencoderViT) -> Iterator[torch.device]:
    """No gradients, eval mode (restored after); yields the model's device."""
    was_training = mae.training
    mae.eval()
    try:
        with torch.no_grad():
            yield next(mae.parameters()).device
    finally:
        mae.train(was_training)


def reconstruct(mae: MaskedAutoencoderViT, images: torch.Tensor, mask_ratio: float, seed: int = 0) -> Reconstruction:
    """Mask `mask_ratio` of the patches of normalised images (N, C, H, W) with seed `seed` and reconstruct them.

    mask_ratio 0 hides nothing (reconstruction of fully visible images); the same seed gives the same mask.
    """
    with _evaluating(mae) as device, masking_rng(seed, device):
        images = images.to(device)
        pred, mask, error = _masked_pass(mae, images, mask_ratio)
        reconstruction = mae.unpatchify(prediction_in_pixels(mae, images, pred))
        removed = _pixel_mask(mae, mask)
        return Reconstruction(
            original=images.cpu(), masked=(images * (1 - removed)).cpu(), reconstruction=reconstruction.cpu(),
            pasted=(images * (1 - removed) + reconstruction * removed).cpu(), mask=_grid(mae, mask).cpu(),
            per_patch_error=_grid(mae, error).cpu(), mask_ratio=mask_ratio)


def _image_batches(mae: MaskedAutoencoderViT, dataset: FaceDataset, batch_size: int,
                   device: torch.device) -> Iterator[torch.Tensor]:
    """The dataset's images in order, resized and normalised for the model (eval transform), on `device`."""
    size, channels = mae.patch_embed.img_size[0], mae.patch_embed.proj.in_channels
    loader = DataLoader(dataset.with_transform(eval_transform(size, channels)), batch_size=batch_size,
                        generator=torch.Generator())  # its own RNG: the loader must not move the masks' one
    for batch in loader:
        yield batch["image"].to(device)


def reconstruction_losses(mae: MaskedAutoencoderViT, dataset: FaceDataset, mask_ratio: float,
                          batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    """Each image's MAE loss (N,): the mean squared error of its removed patches, l_n = sum_i m_ni e_ni / sum_i m_ni,
    with e_ni the per-patch MSE against the model's target and m_ni = 1 for removed patches.

    Masks are drawn once from `seed`, batch after batch, so two models scored with the same seed see the same masks
    and their per-image losses pair up (a paired standard error of their difference).
    """
    _check_removes_patches(mae, mask_ratio)
    losses = []
    with _evaluating(mae) as device, masking_rng(seed, device):
        for images in _image_batches(mae, dataset, batch_size, device):
            _, mask, error = _masked_pass(mae, images, mask_ratio)
            losses.append(((error * mask).sum(dim=1) / mask.sum(dim=1)).cpu())
    return torch.cat(losses)


def held_out_reconstruction_loss(mae: MaskedAutoencoderViT, dataset: FaceDataset, mask_ratio: float,
                                 batch_size: int = 256, seed: int = 0) -> float:
    """The MAE loss on a held-out set: mean squared error of every removed patch of every image.

    L = sum_{n,i} m_ni e_ni / sum_{n,i} m_ni: the training loss of `forward`, pooled over all batches. Every image
    has the same number of removed patches, so L is the mean of `reconstruction_losses` (the same masks).
    """
    return float(reconstruction_losses(mae, dataset, mask_ratio, batch_size, seed).mean())


@dataclass(frozen=True)
class ErrorGap:
    """Mean error of a minus that of b on the same images (and masks), with the paired standard error of the gap
    (std(ddof=1) / sqrt(n) of the per-image differences); lower errors are better. A gap beyond 2 standard errors
    either way is significant."""

    name_a: str
    name_b: str
    error_a: float
    error_b: float
    gap: float
    standard_error: float
    n: int

    @property
    def significant(self) -> bool:
        return abs(self.gap) > 2 * self.standard_error

    @property
    def verdict(self) -> str:
        """'errs less than', 'errs more than' or 'is within noise of': a's relation to b."""
        return "is within noise of" if not self.significant else "errs less than" if self.gap < 0 else "errs more than"

    def sentence(self, what: str) -> str:
        """E.g. 'face MAE errs less than general MAE on held-out faces: 0.304 vs 0.687 (ratio 0.44, gap -0.383,
        2 paired standard errors = 0.012).'"""
        ratio = self.error_a / self.error_b if self.error_b > 0 else math.nan
        return (f"{self.name_a} {self.verdict} {self.name_b} {what}: {self.error_a:.3f} vs {self.error_b:.3f} "
                f"(ratio {ratio:.2f}, gap {self.gap:+.3f}, 2 paired standard errors = {2 * self.standard_error:.3f}).")


def compare_errors(errors_a: ArrayLike, errors_b: ArrayLike, name_a: str, name_b: str) -> ErrorGap:
    """Compare two models from their per-image errors (N,) on the same N images and masks
    (`reconstruction_losses`, `RegionError.image_errors`); images where either error is NaN are left out."""
    errors_a, errors_b = as_numpy(errors_a).astype(np.float64), as_numpy(errors_b).astype(np.float64)
    both = np.isfinite(errors_a) & np.isfinite(errors_b)
    paired = compare_paired(errors_a[both], errors_b[both], name_a, name_b)    # the same statistics as accuracies
    return ErrorGap(name_a, name_b, paired.accuracy_a, paired.accuracy_b, paired.gap, paired.standard_error, paired.n)


def masked_error_maps(mae: MaskedAutoencoderViT, dataset: FaceDataset, mask_ratio: float, passes: int = 4,
                      batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    """Per-patch reconstruction error (N, h, w): each patch's mean error over the passes that removed it.

    Each of `passes` masked passes draws a new random mask; a patch's error is only meaningful when it was
    removed (the decoder is not trained on visible patches), so the passes where it was visible are skipped.
    A patch visible in every pass (probability (1 - mask_ratio) ** passes, 0.4% at 0.75 and 4 passes) gets
    its image's mean error over removed patches, so it pulls no region up or down.
    """
    _check_removes_patches(mae, mask_ratio)
    maps = []
    with _evaluating(mae) as device, masking_rng(seed, device):
        for images in _image_batches(mae, dataset, batch_size, device):
            error_sum = torch.zeros(len(images), mae.patch_embed.num_patches, device=device)
            removed = torch.zeros_like(error_sum)
            for _ in range(passes):
                _, mask, error = _masked_pass(mae, images, mask_ratio)
                error_sum += error * mask
                removed += mask
            mean_error = error_sum / removed.clamp(min=1)
            image_mean = error_sum.sum(dim=1, keepdim=True) / removed.sum(dim=1, keepdim=True)
            maps.append(_grid(mae, torch.where(removed > 0, mean_error, image_mean)).cpu())
    return torch.cat(maps)


@dataclass(frozen=True, eq=False)
class RegionError:
    """How hard a facial region is to reconstruct: in the loss's own units, and relative to the whole image.

    error: the mean per-patch error inside the region (patches weighted by how much of them the region covers),
    averaged over the images: the masked-patch MSE of that region, comparable between two models trained with
    the same loss (both with or both without norm_pix_loss). image_errors: (N,) the same per image, so two models
    scored on the same images and masks pair up.
    mass: the region's share of an image's total error; area: its share of the image's area (both averaged
    over the images, see `fer_lib.eval.regions.RegionShare`). relative_error = mass / area is the error per
    unit area inside the region over that of the whole image: 1 = as hard as the model's own average patch, 2 =
    twice as hard, 0.5 = half. It divides out each model's overall error, so it says where a model errs, not how
    much: a model better everywhere can have the higher relative error on a region.
    """

    relative_error: float
    mass: float
    area: float
    error: float
    image_errors: np.ndarray = field(repr=False)


def region_errors(error_maps: ArrayLike, landmarks: ArrayLike, landmark_names: Sequence[str],
                  image_shape: tuple[int, int], radius: float = 0.25) -> dict[str, RegionError]:
    """Absolute and relative reconstruction error of each facial region (eyes, brows, nose, mouth), the
    relatively most difficult first.

    error_maps: (N, h, w) non-negative per-patch errors (`masked_error_maps`); landmarks: (N, K, 2) as (x, y)
    pixels of images of `image_shape` (H, W); regions are discs of `radius` x the inter-ocular distance
    around the landmarks of `landmark_names` (see fer_lib.eval.regions.region_masks).
    """
    maps = as_numpy(error_maps).astype(np.float64)
    masks = region_masks(landmarks, landmark_names, image_shape, radius=radius)
    shares = region_mass(maps, masks)
    errors = {}
    for region, share in shares.items():
        image_errors = _mean_inside(maps, masks[region])
        errors[region] = RegionError(share.mass / share.area if share.area > 0 else math.nan, share.mass, share.area,
                                     float(np.nanmean(image_errors)) if np.isfinite(image_errors).any() else math.nan,
                                     image_errors)
    return dict(sorted(errors.items(), key=lambda item: (math.isnan(item[1].relative_error), -item[1].relative_error)))


def _mean_inside(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N,) mean of maps (N, h, w) weighted by how much of each cell the pixel mask (N, H, W) covers; NaN where
    the mask is empty."""
    coverage = F.adaptive_avg_pool2d(torch.as_tensor(mask, dtype=torch.float64)[:, None], maps.shape[1:])[:, 0]
    coverage = coverage.numpy()
    inside = coverage.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(inside > 0, (maps * coverage).sum(axis=(1, 2)) / inside, np.nan)
