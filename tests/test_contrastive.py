"""The contrastive method (SimCLR, SupCon, CRS-CONT, SSL-FER's options), its corpus and the MaskFN descriptor."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from fer_lib.config import make_config
from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, DatasetError, FaceDataset
from fer_lib.data.descriptors import expression_descriptors
from fer_lib.data.sequences import load_sequence_folder
from fer_lib.data.synthfer import LANDMARK_NAMES
from fer_lib.data.transforms import contrastive_transform
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.losses.contrastive import supcon_loss
from fer_lib.methods.base import StepContext
from fer_lib.methods.contrastive import COARSE_CLASSES, Contrastive, ContrastiveSettings, coarse_label_table
from fer_lib.models.vit import build_classifier
from fer_lib.recipes.contrastive import contrastive_corpus

CONTEXT = StepContext(epoch=0, step_in_epoch=0, global_step=0, total_steps=1)


def test_coarse_classes_put_contempt_and_the_unpleasant_expressions_in_negative() -> None:
    table = coarse_label_table(EMOTIONS_8)
    negative = COARSE_CLASSES.index("negative")
    assert [EMOTIONS_8[k] for k in range(8) if table[k] == negative] == ["sad", "fear", "disgust", "anger", "contempt"]
    assert COARSE_CLASSES[table[EMOTIONS_8.index("surprise")]] == "surprise"
    with pytest.raises(ValueError, match="no coarse class for boredom"):
        coarse_label_table(("happy", "boredom"))


def test_variant_names_say_what_is_switched_on() -> None:
    assert ContrastiveSettings().variant() == "SimCLR"
    assert ContrastiveSettings(time_aug=True, mask_false_negatives=True).variant() == "SimCLR+TimeAug+MaskFN"
    assert ContrastiveSettings(loss="supcon", labels="coarse").variant() == "SupCon (coarse)"
    assert ContrastiveSettings(loss="crs_cont", negative_class_weight=1.0).variant() == "CRS-CONT (weight 1.0)"


def test_crs_cont_without_its_extra_terms_is_coarse_supcon_with_half_weight_on_negative_anchors() -> None:
    settings = ContrastiveSettings(loss="crs_cont", coarse_ce_weight=0.0, coarse_ntxent_weight=0.0, temperature=0.5,
                                   base_temperature=0.5)
    method = Contrastive(settings, feature_dim=8, class_names=EMOTIONS_7)
    features = F.normalize(torch.randn(6, 2, 128, generator=torch.Generator().manual_seed(0)), dim=2)
    labels = torch.tensor([1, 2, 4, 0, 3, 6])                  # happy, sad, fear, neutral, surprise, anger
    coarse = torch.tensor([0, 1, 1, 2, 3, 1])
    weights = torch.tensor([1.0, 0.5, 0.5, 1.0, 1.0, 0.5])
    expected = supcon_loss(features, coarse, temperature=0.5, base_temperature=0.5, anchor_weights=weights)
    assert method._supervised(features, labels, {}).item() == pytest.approx(expected.item(), rel=1e-6)


def tiny_sequences(size: int = 16) -> FaceDataset:
    """4 people x 1 clip x 16 frames of random faces with landmarks on a fixed layout and a companion image."""
    rng = np.random.default_rng(0)
    n = 64
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    layout = np.array([[5, 6], [11, 6], [5, 4], [11, 4], [8, 9], [6, 12], [10, 12], [8, 12], [8, 11], [8, 13], [8, 15]],
                      dtype=np.float32) * size / 16
    return FaceDataset(images, rng.integers(0, 7, n), EMOTIONS_7, name="tiny-sequences", meta={
        "identity": np.repeat(np.arange(4), 16), "sequence_id": np.repeat(np.arange(4), 16),
        "frame_index": np.tile(np.arange(16), 4), "landmarks": np.repeat(layout[None], n, axis=0),
        "face_swap": images[::-1].copy()})


@pytest.mark.parametrize("settings", [
    ContrastiveSettings(),
    ContrastiveSettings(time_aug=True, hard_negatives=True, face_swap=True, mask_false_negatives=True),
    ContrastiveSettings(loss="supcon", labels="coarse"),
    ContrastiveSettings(loss="crs_cont"),
], ids=lambda s: s.variant())
def test_every_variant_trains_two_steps_with_a_finite_loss(settings: ContrastiveSettings, tmp_path: Path) -> None:
    data = tiny_sequences()
    data.meta["expression_descriptor"] = expression_descriptors(data, LANDMARK_NAMES)
    views = data.with_transform(contrastive_transform(16, crop_min=0.5))
    model = build_classifier("vit_smoke", 0, img_size=16)
    method = Contrastive(settings, model.num_features, EMOTIONS_7)
    result = fit(model, method, views, TrainSettings(epochs=1, batch_size=32, base_lr=1e-3, device="cpu"), tmp_path)
    assert np.isfinite(result.history[-1]["train_loss"])
    assert any(name.startswith("head.") for name in method.state_dict())     # the head is the method's


def test_the_time_aug_positive_is_a_frame_two_to_six_steps_away() -> None:
    method = Contrastive(ContrastiveSettings(time_aug=True), 8, EMOTIONS_7)
    data = tiny_sequences().requesting(method.request, "TimeAug")
    gaps = {abs(data[i, seed]["sequence_neighbour_index"] - i) for i in (20, 40) for seed in range(60)}
    assert gaps == {2, 3, 4, 5, 6}


def test_a_temporal_variant_on_data_without_sequences_names_the_missing_folder() -> None:
    cfg = make_config("smoke", dataset="rafdb", data_root="/nowhere", contrastive_time_aug=True)
    with pytest.raises(DatasetError, match="needs frame sequences.*contrastive_pretrain_sequences_root"):
        contrastive_corpus(cfg)


def test_the_descriptor_needs_landmarks_and_is_unit_length() -> None:
    data = tiny_sequences()
    descriptors = expression_descriptors(data, LANDMARK_NAMES)
    assert descriptors.shape == (64, 216) and np.allclose(np.linalg.norm(descriptors, axis=1), 1, atol=1e-5)
    bare = FaceDataset(data.images, data.labels, EMOTIONS_7, name="no-landmarks")
    with pytest.raises(DatasetError, match="MaskFN needs facial landmarks .* 'no-landmarks'"):
        expression_descriptors(bare, LANDMARK_NAMES)


def test_a_sequence_folder_gives_people_clips_and_frame_order(tmp_path: Path) -> None:
    for person, clips in (("ann", 2), ("bob", 1)):
        for clip in range(clips):
            folder = tmp_path / person / f"clip{clip}"
            folder.mkdir(parents=True)
            for frame in range(3):
                Image.fromarray(np.full((20, 30, 3), 10 * frame, np.uint8)).save(folder / f"{frame:03d}.png")
    data = load_sequence_folder(tmp_path, 16)
    assert data.images.shape == (9, 16, 16, 3)
    assert data.meta["identity"].tolist() == [0] * 6 + [1] * 3
    assert data.meta["sequence_id"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert data.meta["frame_index"].tolist() == [0, 1, 2] * 3
    with pytest.raises(DatasetError, match="no frames found"):
        load_sequence_folder(tmp_path / "ann" / "clip0", 16)


def test_dlib_landmarks_name_the_same_regions_as_synthfer_points() -> None:
    from fer_lib.data.descriptors import named_points
    landmarks = np.zeros((68, 2))
    landmarks[36:42] = [10, 20]
    landmarks[48] = [12, 40]
    points = named_points(landmarks, "dlib68")
    assert points["eye_left"].tolist() == [10, 20] and points["mouth_left"].tolist() == [12, 40]
