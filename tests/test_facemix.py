"""FaceMix (SSFER) and MIMIC's mix-supervised contrastive loss: the loss on hand-made logits, the partner rule,
face boxes that follow the augmentation, the as-released variant, and the mixed positives' weights."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from fer_lib.data.base import EMOTIONS_7, DatasetError, FaceDataset  # noqa: E402
from fer_lib.data.requests import SampleRequest  # noqa: E402
from fer_lib.data.transforms import MatchChannels, train_transform  # noqa: E402
from fer_lib.engine.train import TrainSettings, fit  # noqa: E402
from fer_lib.methods.base import StepContext  # noqa: E402
from fer_lib.methods.facemix import FaceMix, FaceMixSettings, facemix_loss, mix_images, partner_iou  # noqa: E402
from fer_lib.methods.mix_supcon import MixSupCon, MixSupConSettings, mixed_class_distributions  # noqa: E402
from fer_lib.models.vit import build_vit_classifier  # noqa: E402
from fer_lib.viz.mixing import cutmix_images, facemix_weight_histogram, mixing_grid  # noqa: E402

CONTEXT = StepContext(epoch=0, step_in_epoch=0, global_step=0, total_steps=1)
LN3 = math.log(3.0)


def faces(count: int = 2, size: int = 16, boxes: np.ndarray | None = None) -> FaceDataset:
    """`count` black gray-scale images with labels 0, 1, ... and the given face boxes."""
    return FaceDataset(np.zeros((count, size, size, 1), np.uint8), np.arange(count) % 7, EMOTIONS_7, face_boxes=boxes)


# ---- the loss -------------------------------------------------------------------------------------------------------

# Two samples, labels 0 and 1, lam = 3/4. Mixed logits: sample 0 [ln 3, 0] (softmax 3/4, 1/4) against its target
# [3/4, 1/4]; sample 1 [0, 0] (1/2, 1/2), any target. Real logits: sample 0 [0, 0] (CE ln 2), sample 1 [ln 3, 0]
# (label 1 has probability 1/4: CE ln 4).
MIXED_LOGITS = torch.tensor([[LN3, 0.0], [0.0, 0.0]])
REAL_LOGITS = torch.tensor([[0.0, 0.0], [LN3, 0.0]])
LABELS = torch.tensor([0, 1])
VIRTUAL = (-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) + math.log(2.0)) / 2
REAL_PAIR = math.log(2.0) + math.log(4.0)          # CE(x_i, y_i) + CE(x_partner, y_partner), the same for i = 0, 1


def test_aligned_faces_train_on_the_virtual_image_only() -> None:
    loss = facemix_loss(MIXED_LOGITS, REAL_LOGITS, LABELS, iou=torch.ones(2), lam=0.75)
    assert loss.item() == pytest.approx(VIRTUAL)


def test_disjoint_faces_add_both_real_images_in_full() -> None:
    loss = facemix_loss(MIXED_LOGITS, REAL_LOGITS, LABELS, iou=torch.zeros(2), lam=0.75)
    assert loss.item() == pytest.approx(VIRTUAL + REAL_PAIR)


def test_half_overlapping_faces_give_the_real_images_half_their_weight() -> None:
    loss = facemix_loss(MIXED_LOGITS, REAL_LOGITS, LABELS, iou=torch.full((2,), 0.5), lam=0.75)
    assert loss.item() == pytest.approx(VIRTUAL + 0.5 * REAL_PAIR)


def test_the_partner_of_sample_i_is_sample_n_minus_1_minus_i() -> None:
    images = torch.arange(4.0).view(4, 1, 1, 1)                     # image i is filled with the value i
    assert mix_images(images, 0.25).flatten().tolist() == [2.25, 1.75, 1.25, 0.75]   # 0.25 i + 0.75 (3 - i)
    boxes = torch.tensor([[0.0, 0, 2, 2], [0, 0, 4, 4], [0, 0, 4, 2], [1, 1, 3, 3]])
    # box 0 vs box 3: intersection [1, 1, 2, 2] = 1, union 4 + 4 - 1; box 1 vs box 2: 8 / 16
    assert partner_iou(boxes).tolist() == pytest.approx([1 / 7, 0.5, 0.5, 1 / 7])


def test_two_empty_boxes_have_iou_zero_not_nan() -> None:
    assert partner_iou(torch.zeros(2, 4)).tolist() == [0.0, 0.0]


# ---- face boxes follow the augmentation ------------------------------------------------------------------------------

def test_the_box_follows_a_horizontal_flip_and_a_centre_crop_with_the_image() -> None:
    data = faces(1, boxes=np.array([[2.0, 4.0, 10.0, 12.0]], np.float32))
    data.images[0, 6, 9] = 255                                       # a mark inside the face: row 6, column 9
    flip_then_crop = v2.Compose([MatchChannels(3), v2.RandomHorizontalFlip(p=1.0), v2.CenterCrop(8)])
    sample = data.with_transform(flip_then_crop).requesting(SampleRequest(meta=("face_box",)), "test")[0]
    # flip in a 16 px image: x -> 16 - x, so x 2..10 -> 6..14; the 8 px centre crop shifts by 4 and clips x at 8
    assert sample["face_box"].tolist() == [2.0, 0.0, 8.0, 8.0]
    # the mark moved alike: column 9 -> 6 -> 2, row 6 -> 2
    assert sample["image"].shape == (3, 8, 8) and sample["image"][:, 2, 2].tolist() == [255, 255, 255]


def test_each_view_is_served_with_its_own_box() -> None:
    data = faces(1, boxes=np.array([[0.0, 0.0, 4.0, 16.0]], np.float32))   # a box on the left edge
    data.images[0, :, 0] = 255                                               # and a bright left column
    coin_flip = v2.Compose([MatchChannels(1), v2.RandomHorizontalFlip(p=0.5)])
    served = data.with_transform(coin_flip).requesting(SampleRequest(meta=("face_box",), views=2), "test")
    flipped_views = []
    for seed in range(8):
        sample = served[0, seed]
        for view, box in zip(sample["image"], sample["face_box"]):
            flipped = bool(view[0, 0, -1] == 255)
            assert box.tolist() == ([12.0, 0.0, 16.0, 16.0] if flipped else [0.0, 0.0, 4.0, 16.0])
            flipped_views.append(flipped)
    assert any(flipped_views) and not all(flipped_views)


def test_a_dataset_without_face_boxes_is_refused_by_name() -> None:
    method = FaceMix(FaceMixSettings())
    with pytest.raises(DatasetError, match="FaceMix needs face_box"):
        faces(2).requesting(method.request, "FaceMix")


# ---- as released vs correct ------------------------------------------------------------------------------------------

def test_as_released_real_terms_see_the_mixed_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The images are their own logits (model = flatten): x_0 = [2, 0] (label 0), x_1 = [0, 2] (label 1), lam = 1/2,
    disjoint boxes (IoU 0). The mixed images are both [1, 1]: CE ln 2 whatever the target. Correct: the real terms
    see x_0, x_1, CE ln(1 + e^-2) each. As released: they see the mixed [1, 1], CE ln 2 each."""
    monkeypatch.setattr(np.random, "beta", lambda a, b: 0.5)
    batch = {"image": torch.tensor([[2.0, 0.0], [0.0, 2.0]]).view(2, 1, 1, 2), "label": torch.tensor([0, 1]),
             "face_box": torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]])}
    model = nn.Flatten()
    correct = FaceMix(FaceMixSettings(), label_smoothing=0.0)(model, batch, CONTEXT).loss
    released = FaceMix(FaceMixSettings(as_released=True), label_smoothing=0.0)(model, batch, CONTEXT).loss
    assert correct.item() == pytest.approx(math.log(2) + 2 * math.log(1 + math.exp(-2)))
    assert released.item() == pytest.approx(3 * math.log(2))


def test_facemix_trains_through_fit_with_the_boxes_of_each_view(tmp_path: Path) -> None:
    boxes = np.tile(np.array([[2.0, 2.0, 12.0, 14.0]], np.float32), (8, 1))
    data = faces(8, boxes=boxes).with_transform(train_transform(16, 3, (0.3, 1.0)))
    model = build_vit_classifier("vit_smoke", 7, img_size=16)
    settings = TrainSettings(epochs=1, batch_size=4, base_lr=1e-3, device="cpu", amp=False, resume=False)
    result = fit(model, FaceMix(FaceMixSettings()), data, settings, tmp_path)
    record = result.history[-1]
    assert math.isfinite(record["train_loss"]) and 0.0 <= record["train_iou"] <= 1.0


# ---- MIMIC's mix-supervised contrastive loss ------------------------------------------------------------------------

def test_a_mixed_image_is_a_positive_of_both_classes_with_weights_lam_and_one_minus_lam() -> None:
    labels = torch.tensor([0, 1, 2])
    distributions = mixed_class_distributions(labels, lam=0.3, num_classes=3)     # rows: x_0, x_1, x_2, x~_0, ...
    mask = distributions @ distributions.T
    mixed_0, mixed_1 = 3, 4                     # x~_0 = 0.3 x_0 + 0.7 x_2; x~_1 = 0.3 x_1 + 0.7 x_1
    assert mask[0, mixed_0].item() == pytest.approx(0.3)
    assert mask[2, mixed_0].item() == pytest.approx(0.7)
    assert mask[1, mixed_0].item() == 0.0
    assert mask[1, mixed_1].item() == pytest.approx(1.0)
    assert mask[:3, :3].tolist() == torch.eye(3).tolist()          # real images: positives share the label


def test_without_mixing_or_contrastive_weight_mix_supcon_is_cross_entropy() -> None:
    torch.manual_seed(0)
    model = build_vit_classifier("vit_smoke", 3, img_size=16).eval()
    batch = {"image": torch.randn(4, 3, 16, 16), "label": torch.tensor([0, 1, 2, 0])}
    method = MixSupCon(MixSupConSettings(weight=0.0, alpha=0.0), model.num_features, label_smoothing=0.1)
    output = method(model, batch, CONTEXT)
    expected = F.cross_entropy(model(batch["image"]), batch["label"], label_smoothing=0.1)
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert output.metrics["contrastive"].item() > 0                # computed, weighted 0


@pytest.mark.parametrize("alpha, encoded", [(1.0, 8), (0.0, 4)])
def test_mix_supcon_adds_one_mixed_image_per_image_unless_alpha_is_zero(alpha: float, encoded: int) -> None:
    torch.manual_seed(0)
    model = build_vit_classifier("vit_smoke", 3, img_size=16)
    batch = {"image": torch.randn(4, 3, 16, 16), "label": torch.tensor([0, 1, 2, 0])}
    seen = []
    model.patch_embed.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    output = MixSupCon(MixSupConSettings(alpha=alpha), model.num_features)(model, batch, CONTEXT)
    assert seen == [encoded] and torch.isfinite(output.loss)


# ---- figures ---------------------------------------------------------------------------------------------------------

def test_cutmix_pastes_the_partners_rectangle_and_corrects_lam_to_the_area_kept() -> None:
    images = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)])
    mixed, (y0, y1, x0, x1), lam = cutmix_images(images, 0.75)
    pasted = (y1 - y0) * (x1 - x0)
    assert mixed[0].sum().item() == 3 * pasted and lam == pytest.approx(1 - pasted / 64)


def test_the_mixing_figures_draw_a_column_per_pair_and_a_histogram_per_setting() -> None:
    boxes = torch.tensor([[1.0, 1.0, 6.0, 7.0], [2.0, 1.0, 8.0, 7.0], [0.0, 0.0, 4.0, 4.0], [6.0, 7.0, 8.0, 8.0]])
    grid = mixing_grid(torch.randn(4, 3, 8, 8), boxes, lam=0.6, pairs=2)
    assert len(grid.axes) == 5 * 2 and "IoU 0.00" in grid.axes[-2].get_title()     # pair 0: boxes 0 and 3 apart
    histogram = facemix_weight_histogram({"flip only": np.array([0.1, 0.2]), "crops": np.array([0.5, 0.9])})
    assert [text.get_text() for text in histogram.axes[0].get_legend().get_texts()] == \
        ["flip only (mean 0.15)", "crops (mean 0.70)"]
