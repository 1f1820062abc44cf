"""MAE reconstructions for display, held-out loss and per-region error, on a smoke-sized untrained MAE."""
import matplotlib
import numpy as np
import pytest
import torch

from fer_lib.data.base import FaceDataset
from fer_lib.data.synthfer import LANDMARK_NAMES
from fer_lib.data.transforms import eval_transform
from fer_lib.eval.reconstruction import (compare_errors, held_out_reconstruction_loss, masked_error_maps,
                                         masking_rng, prediction_in_pixels, reconstruct, reconstruction_losses,
                                         region_errors)
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.viz.reconstruction import (error_maps, mask_ratio_grid, masking_steps, reconstruction_rows,
                                       region_error_bars)

matplotlib.use("Agg")

SIZE, PATCH = 32, 8          # the smoke profile: 4 x 4 = 16 patches
GRID = SIZE // PATCH


def smoke_mae(norm_pix_loss: bool = False) -> MaskedAutoencoderViT:
    torch.manual_seed(0)
    return build_mae("vit_smoke", "dec64d1", img_size=SIZE, norm_pix_loss=norm_pix_loss)


def random_faces(count: int = 6) -> FaceDataset:
    images = np.random.default_rng(0).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)
    return FaceDataset(images, np.zeros(count), ("face",))


def normalised(dataset: FaceDataset) -> torch.Tensor:
    transform = eval_transform(SIZE)
    return torch.stack([transform(dataset.image_tensor(index)) for index in range(len(dataset))])


def pixel_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask.repeat_interleave(PATCH, dim=1).repeat_interleave(PATCH, dim=2)[:, None].bool()


def test_reconstruction_holds_images_and_a_patch_grid_per_image() -> None:
    images = normalised(random_faces(3))
    result = reconstruct(smoke_mae(), images, mask_ratio=0.75)
    for field in (result.original, result.masked, result.reconstruction, result.pasted):
        assert field.shape == (3, 3, SIZE, SIZE)
    assert result.mask.shape == result.per_patch_error.shape == (3, GRID, GRID)
    assert result.mask.sum(dim=(1, 2)).tolist() == [12, 12, 12]
    assert torch.equal(result.original, images)


def test_mask_ratio_zero_hides_nothing() -> None:
    images = normalised(random_faces(2))
    result = reconstruct(smoke_mae(), images, mask_ratio=0.0)
    assert result.mask.sum() == 0
    assert torch.equal(result.masked, images) and torch.equal(result.pasted, images)


def test_pasted_image_is_the_original_on_visible_patches_and_the_prediction_on_removed_ones() -> None:
    result = reconstruct(smoke_mae(), normalised(random_faces(2)), mask_ratio=0.5)
    removed = pixel_mask(result.mask).expand_as(result.original)
    assert torch.equal(result.pasted[~removed], result.original[~removed])
    assert torch.equal(result.pasted[removed], result.reconstruction[removed])
    assert (result.masked[removed] == 0).all()


def test_the_same_seed_gives_the_same_mask_and_leaves_the_callers_rng_alone() -> None:
    mae, images = smoke_mae(), normalised(random_faces(4))
    state = torch.get_rng_state()
    first, again = reconstruct(mae, images, 0.75, seed=1), reconstruct(mae, images, 0.75, seed=1)
    other = reconstruct(mae, images, 0.75, seed=2)
    assert torch.equal(first.mask, again.mask) and torch.equal(first.reconstruction, again.reconstruction)
    assert not torch.equal(first.mask, other.mask)
    assert torch.equal(torch.get_rng_state(), state)


def test_reconstruct_runs_in_eval_mode_without_gradients_and_restores_training_mode() -> None:
    mae = smoke_mae().train()
    result = reconstruct(mae, normalised(random_faces(2)), 0.75)
    assert mae.training and not result.reconstruction.requires_grad


def test_with_norm_pix_loss_a_prediction_equal_to_the_normalised_target_displays_as_the_original() -> None:
    mae, images = smoke_mae(norm_pix_loss=True), normalised(random_faces(2))
    shown = prediction_in_pixels(mae, images, mae.pixel_targets(images))
    torch.testing.assert_close(mae.unpatchify(shown), images, atol=1e-4, rtol=1e-4)


def test_held_out_loss_is_the_models_own_loss_pooled_over_batches() -> None:
    mae, faces = smoke_mae(), random_faces(6)
    images = normalised(faces)
    mae.eval()
    with torch.no_grad(), masking_rng(seed=3):
        batch_losses = [mae(images[start:start + 4], 0.75)[0] for start in (0, 4)]
    expected = (batch_losses[0] * 4 + batch_losses[1] * 2) / 6    # every image has 12 removed patches
    assert held_out_reconstruction_loss(mae, faces, 0.75, batch_size=4, seed=3) == pytest.approx(float(expected))


def test_per_image_losses_are_each_images_removed_patch_error_and_average_to_the_held_out_loss() -> None:
    mae, faces = smoke_mae(), random_faces(6)
    losses = reconstruction_losses(mae, faces, 0.75, batch_size=4, seed=3)
    single = reconstruct(mae, normalised(faces), 0.75, seed=3)            # one batch: the same masks as batch 1
    expected = (single.per_patch_error * single.mask).sum(dim=(1, 2)) / single.mask.sum(dim=(1, 2))
    assert losses.shape == (6,)
    torch.testing.assert_close(losses[:4], expected[:4])
    assert float(losses.mean()) == pytest.approx(held_out_reconstruction_loss(mae, faces, 0.75, batch_size=4, seed=3))


def test_an_error_gap_is_the_mean_per_image_difference_with_its_paired_standard_error() -> None:
    errors_b = np.array([1.0, 2.0, 3.0, 4.0])
    improvement = np.array([0.5, 0.7, 0.5, 0.7])
    gap = compare_errors(errors_b - improvement, errors_b, "face MAE", "general MAE")
    assert gap.gap == pytest.approx(-0.6) and gap.standard_error == pytest.approx(improvement.std(ddof=1) / 2)
    assert gap.significant
    assert gap.sentence("on faces").startswith("face MAE errs less than general MAE on faces: 1.900 vs 2.500")


def test_an_error_gap_within_two_standard_errors_is_within_noise_and_nan_images_are_left_out() -> None:
    gap = compare_errors([1.0, 2.0, np.nan, 3.0], [1.5, 1.5, 0.0, 3.1], "a", "b")
    assert gap.n == 3 and not gap.significant and gap.verdict == "is within noise of"


def test_held_out_loss_refuses_a_mask_ratio_that_removes_nothing() -> None:
    with pytest.raises(ValueError, match="removes none"):
        held_out_reconstruction_loss(smoke_mae(), random_faces(2), mask_ratio=0.0)


def test_one_pass_error_map_is_the_reconstructions_error_on_removed_patches() -> None:
    mae, faces = smoke_mae(), random_faces(3)
    maps = masked_error_maps(mae, faces, 0.75, passes=1, seed=5)
    single = reconstruct(mae, normalised(faces), 0.75, seed=5)
    removed = single.mask.bool()
    assert maps.shape == (3, GRID, GRID)
    torch.testing.assert_close(maps[removed], single.per_patch_error[removed])
    image_mean = (single.per_patch_error * single.mask).sum(dim=(1, 2)) / single.mask.sum(dim=(1, 2))
    torch.testing.assert_close(maps[~removed], image_mean[:, None, None].expand_as(maps)[~removed])


def frontal_landmarks(count: int) -> np.ndarray:
    """(count, K, 2) landmarks of a frontal 32-px face in LANDMARK_NAMES order: eyes on row 12, mouth on row 24."""
    points = {"eye_left": (10, 12), "eye_right": (22, 12), "brow_left": (10, 8), "brow_right": (22, 8),
              "nose_tip": (16, 17), "mouth_left": (12, 24), "mouth_right": (20, 24), "mouth_centre": (16, 24),
              "lip_top": (16, 23), "lip_bottom": (16, 26), "chin": (16, 30)}
    return np.tile(np.array([points[name] for name in LANDMARK_NAMES], np.float32), (count, 1, 1))


def test_an_error_map_high_only_on_the_mouth_ranks_the_mouth_first() -> None:
    error_maps = np.full((2, 8, 8), 0.1)
    error_maps[:, 5:7, 3:5] = 5.0                                 # the 4-px cells of rows 20-27, columns 12-19
    errors = region_errors(error_maps, frontal_landmarks(2), LANDMARK_NAMES, (SIZE, SIZE))
    assert list(errors)[0] == "mouth"
    assert errors["mouth"].relative_error > 2
    assert errors["eyes"].relative_error < 1 and errors["brows"].relative_error < 1


def test_a_uniform_error_map_gives_every_region_relative_error_one() -> None:
    errors = region_errors(np.ones((2, 4, 4)), frontal_landmarks(2), LANDMARK_NAMES, (SIZE, SIZE))
    assert [error.relative_error for error in errors.values()] == pytest.approx([1.0] * 4)


def test_a_uniform_error_map_gives_every_region_that_error_in_absolute_terms() -> None:
    errors = region_errors(np.full((2, 4, 4), 0.3), frontal_landmarks(2), LANDMARK_NAMES, (SIZE, SIZE))
    for error in errors.values():
        assert error.error == pytest.approx(0.3)
        assert error.image_errors == pytest.approx([0.3, 0.3])


def test_a_model_twice_as_bad_everywhere_has_twice_the_absolute_error_and_the_same_relative_error() -> None:
    better = np.random.default_rng(0).uniform(0.1, 1.0, (3, 8, 8))
    good, bad = (region_errors(maps, frontal_landmarks(3), LANDMARK_NAMES, (SIZE, SIZE))
                 for maps in (better, 2 * better))
    for region in good:
        assert bad[region].error == pytest.approx(2 * good[region].error)
        assert bad[region].relative_error == pytest.approx(good[region].relative_error)


def test_masking_keeps_the_patches_with_the_smallest_noise_drawn_under_the_same_seed() -> None:
    mae, image = smoke_mae(), normalised(random_faces(1))
    with masking_rng(0):
        noise = torch.rand(1, GRID * GRID)
    with masking_rng(0):
        _, mask, _ = mae.random_masking(mae.patchify(image), 0.75)
    assert torch.equal(mask.bool(), noise.argsort(dim=1).argsort(dim=1) >= 4)   # ranks 0-3 are kept


def test_figures_have_a_panel_per_image_and_step() -> None:
    mae, images = smoke_mae(), normalised(random_faces(3))
    ratios = [reconstruct(mae, images, ratio) for ratio in (0.25, 0.5, 0.75, 0.9)]
    assert len(reconstruction_rows(ratios[2], count=2).axes) == 2 * 4
    assert len(mask_ratio_grid(ratios, count=3).axes) == 3 * (1 + 2 * 4)
    noise = torch.rand(GRID * GRID)
    assert len(masking_steps(images[0], noise, ratios[2].mask[0], PATCH).axes) == 3
    maps = {"face MAE": ratios[2].per_patch_error[0], "general MAE": ratios[3].per_patch_error[0]}
    assert len(error_maps(images[0], maps).axes) == 1 + 2 + 1                # image, two maps, colour bar


def test_region_chart_shows_absolute_errors_left_and_relative_errors_right_in_a_fixed_region_order() -> None:
    maps = np.random.default_rng(0).uniform(0.1, 1.0, (3, 8, 8))
    errors = {name: region_errors(scale * maps, frontal_landmarks(3), LANDMARK_NAMES, (SIZE, SIZE))
              for name, scale in (("face MAE", 1.0), ("general MAE", 2.0))}
    left, right = region_error_bars(errors).axes
    assert [label.get_text() for label in left.get_xticklabels()] == ["eyes", "brows", "nose", "mouth"]
    heights = [bar.get_height() for bar in left.patches]                       # face MAE's bars, then general's
    assert heights[4:] == pytest.approx([2 * height for height in heights[:4]])
    assert [line.get_ydata()[0] for line in right.get_lines()] == [1.0]
