"""What a masked autoencoder reconstructs: images for display, held-out loss, and error per facial region.

All functions run the MAE without gradients in eval mode (its mode is restored after) and draw the random
mask under a fixed seed (`masking_rng`), so a figure, a loss or an error map is reproducible and two
models can be compared on exactly the same masks.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader

from fer_lib.data.base import FaceDataset
from fer_lib.data.transforms import eval_transform
from fer_lib.eval.metrics import ArrayLike
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


def held_out_reconstruction_loss(mae: MaskedAutoencoderViT, dataset: FaceDataset, mask_ratio: float,
                                 batch_size: int = 256, seed: int = 0) -> float:
    """The MAE loss on a held-out set: mean squared error of every removed patch of every image.

    L = sum_{n,i} m_ni e_ni / sum_{n,i} m_ni, with e_ni the per-patch MSE against the model's target and
    m_ni = 1 for removed patches: the training loss of `forward`, pooled over all batches. Masks are drawn
    once from `seed`, batch after batch, so two models scored with the same seed see the same masks.
    """
    _check_removes_patches(mae, mask_ratio)
    total, removed = 0.0, 0.0
    with _evaluating(mae) as device, masking_rng(seed, device):
        for images in _image_batches(mae, dataset, batch_size, device):
            _, mask, error = _masked_pass(mae, images, mask_ratio)
            total += float((error * mask).sum())
            removed += float(mask.sum())
    return total / removed


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


@dataclass(frozen=True)
class RegionError:
    """How hard a facial region is to reconstruct, relative to the whole image (background included).

    mass: the region's share of an image's total error; area: its share of the image's area (both averaged
    over the images, see `fer_lib.eval.regions.RegionShare`). relative_error = mass / area is the error per
    unit area inside the region over that of the whole image: 1 = as hard as the average patch, 2 = twice as
    hard, 0.5 = half. It does not depend on the loss's scale, so models with and without norm_pix_loss compare.
    """

    relative_error: float
    mass: float
    area: float


def region_errors(error_maps: ArrayLike, landmarks: ArrayLike, landmark_names: Sequence[str],
                  image_shape: tuple[int, int], radius: float = 0.25) -> dict[str, RegionError]:
    """Relative reconstruction error of each facial region (eyes, brows, nose, mouth), most difficult first.

    error_maps: (N, h, w) non-negative per-patch errors (`masked_error_maps`); landmarks: (N, K, 2) as (x, y)
    pixels of images of `image_shape` (H, W); regions are discs of `radius` x the inter-ocular distance
    around the landmarks of `landmark_names` (see fer_lib.eval.regions.region_masks).
    """
    shares = region_mass(error_maps, region_masks(landmarks, landmark_names, image_shape, radius=radius))
    errors = {region: RegionError(share.mass / share.area if share.area > 0 else math.nan, share.mass, share.area)
              for region, share in shares.items()}
    return dict(sorted(errors.items(), key=lambda item: (math.isnan(item[1].relative_error), -item[1].relative_error)))
