"""SampleRequest: samples carry the metadata, views and partner images a method asks for."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from fer_lib.data import requests
from fer_lib.data.base import EMOTIONS_7, UNLABELED, DatasetError, FaceDataset
from fer_lib.data.requests import PARTNERS, SampleRequest

#                  sequence 0 (person 0)  seq. 1 (person 1)  person 2   person 3 (seq. 2 has one frame)
IDENTITY = np.array([0, 0, 0, 0, 0,         1, 1, 1,           2, 2,      3, 3])
SEQUENCE = np.array([0, 0, 0, 0, 0,         1, 1, 1,           -1, -1,    2, -1])
FRAME = np.array([0, 1, 2, 3, 4,            0, 1, 2,           0, 0,      0, 0])
LABEL = np.array([0, 0, 1, 1, 0,            0, 2, 2,           1, UNLABELED, 3, 3])
TRUE_LABEL = np.array([0, 0, 1, 1, 1,       0, 2, 2,           1, 4,      3, 3])   # index 4's label is noisy
PARTNER_KINDS = tuple(requests.PARTNERS)
SEEDS = range(40)


def tiny_faces(transform: v2.Transform | None = None, **meta: np.ndarray) -> FaceDataset:
    """12 random 8x8 RGB images whose red channel is the constant 20 * index, so any crop or flip shows its source."""
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    images[..., 0] = 20 * np.arange(12)[:, None, None]
    meta = meta or {"identity": IDENTITY, "sequence_id": SEQUENCE, "frame_index": FRAME, "true_label": TRUE_LABEL}
    return FaceDataset(images, LABEL, EMOTIONS_7, meta=meta, transform=transform, name="tiny")


def source_index(image: torch.Tensor) -> int:
    """The index of the stored image a float view in [0, 1] came from (its red channel)."""
    return round(float(image[0].mean()) * 255 / 20)


def partners(dataset: FaceDataset, kind: str, anchor: int) -> set[int]:
    """Every partner of `anchor` drawn over 40 seeds (-1 when none was found)."""
    samples = [dataset[anchor, seed] for seed in SEEDS]
    return {sample[f"{kind}_index"] if sample[f"{kind}_found"] else -1 for sample in samples}


def test_a_request_for_identity_and_frame_puts_them_in_every_sample_and_the_default_loader_collates_them() -> None:
    dataset = tiny_faces().requesting(SampleRequest(meta=("identity", "frame_index")), "TimeAug")
    batch = next(iter(DataLoader(dataset, batch_size=12)))
    assert torch.equal(batch["identity"], torch.as_tensor(IDENTITY)) and batch["identity"].dtype == torch.int64
    assert torch.equal(batch["frame_index"], torch.as_tensor(FRAME))


def test_a_full_request_collates_into_fixed_shape_batches() -> None:
    request = SampleRequest(meta=("identity",), views=2, partners=PARTNER_KINDS)
    batch = next(iter(DataLoader(tiny_faces().requesting(request, "Everything"), batch_size=12)))
    assert [view.shape for view in batch["image"]] == [(12, 3, 8, 8)] * 2
    for kind in PARTNER_KINDS:
        assert batch[kind].shape == (12, 3, 8, 8)
        assert batch[f"{kind}_index"].dtype == torch.int64 and batch[f"{kind}_found"].dtype == torch.bool


def test_a_missing_meta_key_is_a_dataset_error_naming_the_method_the_dataset_and_the_key() -> None:
    dataset = tiny_faces(frame_index=FRAME)
    with pytest.raises(DatasetError, match=r"SimCLR needs identity from dataset 'tiny', which has frame_index, label"):
        dataset.requesting(SampleRequest(meta=("identity",)), "SimCLR")
    with pytest.raises(DatasetError, match=r"TimeAug needs sequence_id from dataset 'tiny'"):
        dataset.requesting(SampleRequest(partners=("sequence_neighbour",)), "TimeAug")


def test_label_partners_on_an_unlabeled_dataset_are_a_dataset_error() -> None:
    dataset = tiny_faces()
    unlabeled = FaceDataset(dataset.images, np.full(12, UNLABELED), EMOTIONS_7, meta=dataset.meta, name="corpus")
    with pytest.raises(DatasetError, match="HardNeg needs label from dataset 'corpus'"):
        unlabeled.requesting(SampleRequest(partners=("same_person_other_expression",)), "HardNeg")


def test_an_unknown_partner_is_a_value_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown partner twin; known: sequence_neighbour, same_person_other"):
        SampleRequest(partners=("twin",))


def test_merging_requests_takes_the_union() -> None:
    simclr = SampleRequest(meta=("identity",), views=2)
    time_aug = SampleRequest(meta=("identity", "frame_index"), partners=("sequence_neighbour",), max_frame_gap=3)
    assert simclr.merge(time_aug) == SampleRequest(("identity", "frame_index"), 2, ("sequence_neighbour",), 3)


def test_two_views_are_two_augmentations_of_one_image_and_the_same_seed_repeats_them() -> None:
    augment = v2.Compose([v2.RandomResizedCrop(8, scale=(0.3, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                          v2.ToDtype(torch.float32, scale=True)])
    dataset = tiny_faces(augment).requesting(SampleRequest(views=2), "SimCLR")
    first, second = dataset[5, 7]["image"]
    assert source_index(first) == source_index(second) == 5
    assert not torch.equal(first, second)
    again = dataset[5, 7]["image"]
    assert torch.equal(again[0], first) and torch.equal(again[1], second)
    assert not torch.equal(dataset[5, 8]["image"][0], first)


def test_a_partner_is_drawn_under_the_sample_seed() -> None:
    augment = v2.Compose([v2.RandomResizedCrop(8, scale=(0.3, 1.0), antialias=True),
                          v2.ToDtype(torch.float32, scale=True)])
    dataset = tiny_faces(augment).requesting(SampleRequest(partners=PARTNER_KINDS), "All")
    for kind in PARTNER_KINDS:
        first, again = dataset[2, 11], dataset[2, 11]
        assert first[f"{kind}_index"] == again[f"{kind}_index"] and torch.equal(first[kind], again[kind])
        assert source_index(first[kind]) == first[f"{kind}_index"]


def test_a_sequence_neighbour_has_the_same_sequence_and_another_frame_within_the_gap() -> None:
    dataset = tiny_faces().requesting(SampleRequest(partners=("sequence_neighbour",), max_frame_gap=1), "TimeAug")
    assert partners(dataset, "sequence_neighbour", 2) == {1, 3}
    assert partners(dataset, "sequence_neighbour", 0) == {1}
    assert partners(dataset, "sequence_neighbour", 7) == {6}
    wider = dataset.requesting(SampleRequest(partners=("sequence_neighbour",), max_frame_gap=2), "TimeAug")
    assert partners(wider, "sequence_neighbour", 2) == {0, 1, 3, 4}


def test_a_same_person_other_expression_partner_has_the_same_identity_and_another_label() -> None:
    dataset = tiny_faces().requesting(SampleRequest(partners=("same_person_other_expression",)), "HardNeg")
    assert partners(dataset, "same_person_other_expression", 0) == {2, 3}
    assert partners(dataset, "same_person_other_expression", 2) == {0, 1, 4}
    assert partners(dataset, "same_person_other_expression", 8) == {-1}     # person 2's other image is unlabeled


def test_a_same_expression_other_person_partner_has_the_same_label_and_another_identity() -> None:
    dataset = tiny_faces().requesting(SampleRequest(partners=("same_expression_other_person",)), "FaceSwap")
    assert partners(dataset, "same_expression_other_person", 0) == {5}
    assert partners(dataset, "same_expression_other_person", 8) == {2, 3}
    assert partners(dataset, "same_expression_other_person", 6) == {-1}     # only person 1 looks "sad"


def test_an_anchor_with_no_possible_partner_gets_found_false_and_its_own_image() -> None:
    dataset = tiny_faces().requesting(SampleRequest(partners=PARTNER_KINDS), "All")
    for anchor in (9, 10):      # 9: unlabeled, in no sequence; 10: a one-frame sequence, person 3 shows one label
        sample = dataset[anchor, 0]
        for kind in PARTNER_KINDS:
            assert not sample[f"{kind}_found"] and sample[f"{kind}_index"] == anchor
            assert torch.equal(sample[kind], sample["image"])


def test_the_clean_label_comes_through_as_true_label_when_requested() -> None:
    dataset = tiny_faces().requesting(SampleRequest(meta=("true_label",)), "NoisyLabels")
    assert (dataset[4]["label"], int(dataset[4]["true_label"])) == (0, 1)


def test_subset_and_with_transform_keep_the_request() -> None:
    request = SampleRequest(meta=("identity",))
    dataset = tiny_faces().requesting(request, "SupCon")
    assert dataset.subset(np.arange(4)).request == dataset.with_transform(None).request == request
    assert int(dataset.subset(np.array([5]))[0]["identity"]) == 1


def test_partner_lookup_tables_are_built_once_per_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    original = requests.SortedPairs.of
    monkeypatch.setattr(requests.SortedPairs, "of", lambda group, key: builds.append(1) or original(group, key))
    dataset = tiny_faces().requesting(SampleRequest(partners=PARTNER_KINDS), "All")
    for copy in (dataset, dataset.with_transform(None)):
        for index in range(12):
            copy[index]
    assert len(builds) == len({(PARTNERS[kind].group, PARTNERS[kind].key) for kind in PARTNER_KINDS})


def test_without_a_request_a_sample_holds_image_label_and_index() -> None:
    assert set(tiny_faces()[3]) == {"image", "label", "index"}


def test_a_far_partner_is_a_frame_of_the_same_sequence_at_least_min_far_gap_away() -> None:
    dataset = tiny_faces().requesting(SampleRequest(partners=("same_sequence_far",), min_far_gap=3), "HardNeg")
    assert partners(dataset, "same_sequence_far", 0) == {3, 4}
    assert partners(dataset, "same_sequence_far", 2) == {-1}          # frames 0..4: none lies 3 from frame 2
    assert partners(dataset, "same_sequence_far", 4) == {0, 1}


def test_frame_gap_weights_choose_the_gap_so_a_zero_weight_gap_is_never_drawn() -> None:
    only_two = SampleRequest(partners=("sequence_neighbour",), max_frame_gap=2, frame_gap_weights=(0, 1))
    dataset = tiny_faces().requesting(only_two, "TimeAug")
    assert partners(dataset, "sequence_neighbour", 2) == {0, 4}
    assert partners(dataset, "sequence_neighbour", 0) == {2}                    # -2 does not exist, so +2
    ssl_fer = SampleRequest(partners=("sequence_neighbour",), max_frame_gap=6, frame_gap_weights=(0, 5, 4, 3, 2, 1))
    assert partners(tiny_faces().requesting(ssl_fer, "TimeAug"), "sequence_neighbour", 0) == {2, 3, 4}


def test_a_companion_image_and_several_partner_views_pass_through_the_transform() -> None:
    flip = v2.RandomHorizontalFlip(p=1.0)
    swapped = np.flip(tiny_faces().images, axis=0).copy()                     # image i's companion is image 11 - i
    dataset = tiny_faces(flip, identity=IDENTITY, face_swap=swapped)
    sample = dataset.requesting(SampleRequest(images=("face_swap",)), "FaceSwap")[3]
    assert torch.equal(sample["face_swap"], torch.from_numpy(swapped[3]).permute(2, 0, 1).flip(-1))
    two = tiny_faces().requesting(SampleRequest(partners=("same_person_other_expression",), partner_views=2), "HardNeg")
    assert len(two[0]["same_person_other_expression"]) == 2


def test_a_missing_companion_image_array_is_named() -> None:
    with pytest.raises(DatasetError, match="FaceSwap needs face_swap from dataset 'tiny'"):
        tiny_faces().requesting(SampleRequest(images=("face_swap",)), "FaceSwap")
