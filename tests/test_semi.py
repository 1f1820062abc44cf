"""Semi-supervised fine-tuning: SSFER's label draw, the pseudo-label loss on hand-made logits (threshold, weight,
which teacher), its measurements, and tiny runs of `fit` and of the recipe."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fer_lib.config import make_config
from fer_lib.data.base import EMOTIONS_7, UNLABELED, DatasetError, FaceDataset
from fer_lib.data.label_split import append_unlabeled, labeled_unlabeled_split
from fer_lib.data.registry import load_splits
from fer_lib.data.transforms import NoisyRandAugment, WeakStrong, strong_transform, train_transform
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.methods.base import StepContext
from fer_lib.methods.semi import PseudoLabelling, SemiSettings
from fer_lib.recipes.semi import semi_supervised_finetune, teacher_pseudo_labels, threshold_sweep
from tests.train_tiny import tiny_dataset

LN2, LN9 = math.log(2), math.log(9)


def faces(labels: list[int], size: int = 8, channels: int = 3, **meta: np.ndarray) -> FaceDataset:
    images = np.arange(len(labels))[:, None, None, None] * np.ones((1, size, size, channels))
    return FaceDataset(images.astype(np.uint8), np.array(labels), EMOTIONS_7,
                       soft_labels=np.eye(7, dtype=np.float32)[labels], meta=meta, name="hand-made")


# --- the label draw --------------------------------------------------------------------------------------------

def test_ssfer_keeps_max_1_round_p_n_c_labels_per_class_and_hides_the_rest() -> None:
    labels = [0] * 10 + [1] * 6 + [2] * 4                     # 25%: round(2.5) = 2, round(1.5) = 2, round(1.0) = 1
    labeled, unlabeled = labeled_unlabeled_split(faces(labels), 0.25, seed=0)
    assert np.bincount(labeled.labels, minlength=3).tolist() == [2, 2, 1]
    assert len(unlabeled) == 15 and (unlabeled.labels == UNLABELED).all() and unlabeled.soft_labels is None
    shown = np.concatenate([labeled.images[:, 0, 0, 0], unlabeled.images[:, 0, 0, 0]])   # image i is filled with i
    assert sorted(shown.tolist()) == list(range(20))
    assert (unlabeled.meta["true_label"] == np.array(labels)[unlabeled.images[:, 0, 0, 0]]).all()
    assert (labeled.meta["true_label"] == labeled.labels).all()
    again, _ = labeled_unlabeled_split(faces(labels), 0.25, seed=0)
    assert np.array_equal(again.images, labeled.images)


def test_a_class_with_one_image_keeps_it_and_a_noisy_splits_clean_label_stays_the_true_label() -> None:
    clean = np.array([1, 1, 1, 1, 2])
    labeled, unlabeled = labeled_unlabeled_split(faces([0, 0, 1, 1, 2], true_label=clean), 0.1, seed=1)
    assert np.bincount(labeled.labels, minlength=3).tolist() == [1, 1, 1]
    assert (unlabeled.meta["true_label"] == clean[unlabeled.images[:, 0, 0, 0]]).all()
    with pytest.raises(DatasetError, match="already unlabeled"):
        labeled_unlabeled_split(FaceDataset(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, UNLABELED]), EMOTIONS_7),
                                0.5, seed=0)


def test_an_appended_corpus_is_resized_channel_matched_and_keeps_its_hidden_labels_where_known() -> None:
    _, unlabeled = labeled_unlabeled_split(faces([0, 0, 1, 1], size=8), 0.5, seed=0)
    corpus = FaceDataset(np.full((3, 4, 4, 1), 200, np.uint8), np.full(3, UNLABELED), EMOTIONS_7, name="corpus")
    merged = append_unlabeled(unlabeled, corpus)
    assert merged.images.shape == (5, 8, 8, 3) and (merged.images[2:] == 200).all()
    assert merged.meta["true_label"].tolist() == [*unlabeled.meta["true_label"].tolist(), -1, -1, -1]
    with pytest.raises(DatasetError, match="true_label"):
        append_unlabeled(corpus, corpus)


# --- the loss on hand-made logits --------------------------------------------------------------------------------

class Logits(nn.Module):
    """A 'model' whose logits are its input images (N, 1, 1, K), times `scale`."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.scale * images.flatten(1)


def as_images(logits: list[list[float]]) -> torch.Tensor:
    return torch.tensor(logits).view(len(logits), 1, 1, -1)


def batch(weak: list[list[float]], strong: list[list[float]], true_labels: list[int]) -> dict:
    """One labeled face with logits [0, 0] and label 0 (CE = ln 2), and the unlabeled views' logits."""
    return {"labeled": {"image": as_images([[0.0, 0.0]]), "label": torch.tensor([0])},
            "unlabeled": {"image": [as_images(weak), as_images(strong)], "true_label": torch.tensor(true_labels)}}


def context(teacher: nn.Module | None = None) -> StepContext:
    return StepContext(epoch=0, step_in_epoch=0, global_step=0, total_steps=1, teacher=teacher)


# sample A: the teacher says class 0 with p 0.9; sample B: p 0.5 (never confident)
WEAK = [[LN9, 0.0], [0.0, 0.0]]
STRONG = [[math.log(3), 0.0], [5.0, -5.0]]                  # A's strong view: p(0) = 3/4


def test_the_loss_is_labeled_ce_plus_weight_times_masked_ce_averaged_over_all_unlabeled() -> None:
    method = PseudoLabelling(2, teacher="self", threshold=0.7, unlabeled_weight=5.0)
    output = method(Logits(), batch(WEAK, STRONG, [0, 1]), context())
    # A confident (0.9 >= 0.7), pseudo-label 0, CE = ln(4/3); B masked out; the mean runs over both samples
    assert output.loss.item() == pytest.approx(LN2 + 5.0 * math.log(4 / 3) / 2, rel=1e-5)
    assert float(output.metrics["loss_unlabeled"]) == pytest.approx(math.log(4 / 3) / 2, rel=1e-5)
    assert float(output.metrics["mask_rate"]) == 0.5


def test_above_the_threshold_nothing_is_pseudo_labelled_and_only_the_labeled_loss_remains() -> None:
    method = PseudoLabelling(2, teacher="self", threshold=0.95, unlabeled_weight=5.0)
    output = method(Logits(), batch(WEAK, STRONG, [0, 1]), context())
    assert output.loss.item() == pytest.approx(LN2, rel=1e-5) and float(output.metrics["mask_rate"]) == 0.0


def test_ssfer_takes_the_pseudo_label_from_the_ema_teacher_not_from_the_student() -> None:
    method = PseudoLabelling(2, teacher="ema", threshold=0.7, unlabeled_weight=5.0)
    negating_teacher = Logits(scale=-1.0)                     # A: p(1) = 0.9, so the pseudo-label is 1: CE = ln 4
    output = method(Logits(), batch(WEAK, STRONG, [0, 1]), context(negating_teacher))
    assert output.loss.item() == pytest.approx(LN2 + 5.0 * math.log(4) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="ema_decay"):
        method(Logits(), batch(WEAK, STRONG, [0, 1]), context(None))


def test_fixmatchs_own_weak_prediction_passes_no_gradient_while_the_strong_view_does() -> None:
    method = PseudoLabelling(2, teacher="self", threshold=0.7, unlabeled_weight=1.0)
    step = batch(WEAK, STRONG, [0, 1])
    weak, strong = (view.requires_grad_() for view in step["unlabeled"]["image"])
    method(Logits(), step, context()).loss.backward()
    assert weak.grad is None and strong.grad[0].abs().sum() > 0 and strong.grad[1].abs().sum() == 0


def test_distribution_alignment_scales_q_by_the_labeled_over_the_unlabeled_class_prior() -> None:
    method = PseudoLabelling(2, distribution_alignment=True, alignment_momentum=0.0)
    probs = torch.tensor([[0.9, 0.1], [0.7, 0.3]])            # mean (0.8, 0.2); labeled prior (0.5, 0.5)
    aligned = method.align(probs, torch.tensor([0, 1]))
    expected = torch.tensor([[0.9 / 0.8, 0.1 / 0.2], [0.7 / 0.8, 0.3 / 0.2]])
    torch.testing.assert_close(aligned, expected / expected.sum(1, keepdim=True))
    assert aligned[1].argmax() == 1                          # the rarely predicted class wins the second face


# --- the measurements --------------------------------------------------------------------------------------------

def test_mask_rate_pseudo_label_accuracy_and_class_counts_on_a_constructed_batch() -> None:
    # pseudo-labels 0, 0, 1, 1, 0 with confidence 0.9, 0.6, 0.95, 0.8, 0.9; threshold 0.7 -> A, C, D, E confident
    weak = [[LN9, 0.0], [math.log(1.5), 0.0], [0.0, math.log(19)], [0.0, math.log(4)], [LN9, 0.0]]
    true_labels = [0, 0, 0, 1, UNLABELED]                     # right, right, wrong, right, unknown
    method = PseudoLabelling(2, teacher="self", threshold=0.7)
    output = method(Logits(), batch(weak, weak, true_labels), context())
    assert float(output.metrics["mask_rate"]) == pytest.approx(4 / 5)
    statistics = method.epoch_statistics()
    assert statistics["pseudo_acc_confident"] == pytest.approx(2 / 3)      # A right, C wrong, D right
    assert statistics["pseudo_acc_all"] == pytest.approx(3 / 4)            # A, B, D of the four known
    assert (statistics["pseudo_count_0"], statistics["pseudo_count_1"]) == (2, 2)   # A, E / C, D
    assert (statistics["true_count_0"], statistics["true_count_1"]) == (3, 1)
    method.on_epoch_start(Logits(), {}, 1)
    assert math.isnan(method.epoch_statistics()["pseudo_acc_all"]) and method.pseudo_confusion.sum() == 0


def test_the_threshold_sweep_trades_coverage_for_precision_per_class() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.75, 0.25], [0.5, 0.5]])
    true_labels = np.array([0, 1, 1, 1, -1])                  # the last is unknown and not scored
    sweep = threshold_sweep(probs, true_labels, np.array([0.5, 0.7, 0.95]))
    np.testing.assert_allclose(sweep.coverage, [1.0, 0.75, 0.0])
    np.testing.assert_allclose(sweep.precision[:2], [0.5, 2 / 3])
    assert math.isnan(sweep.precision[2])
    np.testing.assert_allclose(sweep.class_coverage[1], [1.0, 2 / 3])      # at 0.7: class 1's faces 3 and 4
    np.testing.assert_allclose(sweep.class_precision[1], [0.5, 1.0])       # pseudo 0: faces 1, 4 (1 right)
    np.testing.assert_allclose(sweep.class_counts[0], [3, 1])


def test_settings_give_ssfers_and_fixmatchs_constants_and_the_label_budgets() -> None:
    settings = SemiSettings(sweep_fractions="0.05, 0.25,1")
    assert settings.constants("ema") == (0.7, 5.0, 1) and settings.constants("self") == (0.95, 1.0, 7)
    assert settings.fractions == (0.05, 0.1, 0.25, 1.0)
    with pytest.raises(ValueError, match="teacher"):
        SemiSettings(teacher="mean")


def test_the_strong_view_draws_its_randaugment_level_around_9_of_10_and_weak_strong_gives_both_views() -> None:
    augment = NoisyRandAugment(magnitude=9.0, magnitude_std=0.5)
    image = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    torch.manual_seed(0)
    levels = []
    for _ in range(200):
        augment(image)
        levels.append(augment.magnitude / 10)
    assert 8.85 < np.mean(levels) < 9.15 and 0.35 < np.std(levels) < 0.65 and max(levels) <= 10
    views = WeakStrong(train_transform(16), strong_transform(16))(image)
    assert [tuple(view.shape) for view in views] == [(3, 16, 16), (3, 16, 16)]


# --- tiny runs ---------------------------------------------------------------------------------------------------

def test_two_steps_of_fit_with_an_ema_teacher_log_the_losses_and_count_every_unlabeled_face(tmp_path: Path) -> None:
    labeled, unlabeled = labeled_unlabeled_split(tiny_dataset(num_images=64, size=16), 0.4, seed=0)
    weak, strong = train_transform(16, scale=(0.5, 1)), strong_transform(16, scale=(0.5, 1))
    method = PseudoLabelling(7, teacher="ema", threshold=0.0, unlabeled_weight=5.0)     # every face is confident
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 7))
    settings = TrainSettings(epochs=1, batch_size=12, base_lr=0.05, device="cpu", ema_decay=0.999, seed=0,
                             stream_batch_sizes={"unlabeled": 12})
    result = fit(model, method, {"labeled": labeled.with_transform(weak),
                                 "unlabeled": unlabeled.with_transform(WeakStrong(weak, strong))}, settings, tmp_path)
    record = result.history[0]
    assert len(labeled) == 26 and record["step"] == 2                 # an epoch: one pass over 26 labeled faces
    assert record["train_loss"] == pytest.approx(record["train_loss_labeled"] + 5.0 * record["train_loss_unlabeled"])
    assert record["train_mask_rate"] == 1.0 and record["train_loss_unlabeled"] > 0
    assert method.pseudo_confusion.sum() == 2 * 12 and result.ema_model is not None


def test_the_recipe_draws_stage_2s_labels_keeps_the_best_val_epoch_and_logs_pseudo_labels_per_epoch() -> None:
    cfg = make_config("smoke", image_size=16, synthfer_train=96, synthfer_val=24, synthfer_test=24,
                      synthfer_identities=8, semi_epochs=2, semi_batch_size=8, semi_threshold=0.3)
    result = semi_supervised_finetune(cfg, None, fraction=0.25, teacher="ema")
    assert result.run_dir.name.startswith("semi-ssfer-scratch-") and (result.run_dir / "best.pt").is_file()
    val_acc = [record["val_acc"] for record in result.history]
    assert result.best_epoch == int(np.argmax(val_acc)) + 1
    assert result.val.accuracy == pytest.approx(max(val_acc), abs=1e-6) and result.test.num_samples == 24
    counts = [sum(record[f"train_pseudo_count_{k}"] for k in range(7)) for record in result.history]
    seen = [sum(record[f"train_true_count_{k}"] for k in range(7)) for record in result.history]
    steps = len(result.labeled) // 8
    assert seen == [steps * 8] * 2 and all(count <= steps * 8 for count in counts)
    assert "ema_val_acc" in result.history[-1] and len(result.unlabeled) == 96 - len(result.labeled)
    stage2_train = load_splits(cfg.replace(label_fraction=0.25).data).train       # what a stage-2 fine-tune sees
    assert np.array_equal(result.labeled.images, stage2_train.images)
    probs, true_labels = teacher_pseudo_labels(result.teacher, result.unlabeled, 16, 3, torch.device("cpu"))
    assert probs.shape == (len(result.unlabeled), 7)
    assert np.array_equal(true_labels, result.unlabeled.meta["true_label"])


def test_the_recipe_names_the_setting_when_the_unlabeled_stream_is_empty_or_too_small() -> None:
    cfg = make_config("smoke", image_size=16, synthfer_train=96, synthfer_val=24, synthfer_test=24,
                      synthfer_identities=8, semi_batch_size=8)
    with pytest.raises(ValueError, match="leaves no unlabeled training image.*semi_extra_unlabeled"):
        semi_supervised_finetune(cfg, None, fraction=1.0)
    with pytest.raises(ValueError, match="fewer than one unlabeled batch of 20 x 8"):
        semi_supervised_finetune(cfg.replace(semi_fixmatch_unlabeled_ratio=20), None, fraction=0.25, teacher="self")
