"""FaceSwap by landmark warping: the target face is kept outside the expression regions, the expression's mouth
is pasted in, a face swapped with itself is unchanged, and missing landmarks are named."""
import cv2
import numpy as np
import pytest

from fer_lib.data.base import DatasetError, FaceDataset
from fer_lib.data.face_swap import (landmark_face_swapped, other_identity_partners, similarity_from_points,
                                    swap_expression, swap_layout)
from fer_lib.data.synthfer import AU_NAMES, LANDMARK_NAMES, SynthFERSpec, generate_stills

FEATURE_POINTS = [i for i, name in enumerate(LANDMARK_NAMES) if name != "chin"]
MOUTH_POINTS = [LANDMARK_NAMES.index(name) for name in ("mouth_left", "mouth_right", "lip_top", "lip_bottom")]
OPEN_MOUTH = [AU_NAMES.index("AU25"), AU_NAMES.index("AU26")]


@pytest.fixture(scope="module")
def faces() -> FaceDataset:
    """24 near-frontal SynthFER faces of 48 px, 8 identities."""
    return generate_stills(SynthFERSpec(image_size=48, num_identities=8, scenes="lab"), 24, "train")


def inter_ocular(landmarks: np.ndarray) -> float:
    eyes = landmarks[[LANDMARK_NAMES.index("eye_left"), LANDMARK_NAMES.index("eye_right")]]
    return float(np.linalg.norm(eyes[0] - eyes[1]))


def far_from_features(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W): pixels outside the box around the face's feature landmarks grown by one inter-ocular distance."""
    margin = inter_ocular(landmarks)
    (x0, y0), (x1, y1) = landmarks[FEATURE_POINTS].min(axis=0) - margin, landmarks[FEATURE_POINTS].max(axis=0) + margin
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (cols < x0) | (cols > x1) | (rows < y0) | (rows > y1)


def open_and_closed_mouth_pairs(faces: FaceDataset, count: int) -> list[tuple[int, int]]:
    """(expression, face) index pairs: the widest-open mouths, each onto the most closed mouth of another person."""
    opening = faces.meta["au"][:, OPEN_MOUTH].sum(axis=1)
    identity = faces.meta["identity"]
    pairs = []
    for expression in np.argsort(-opening)[:count]:
        others = np.flatnonzero(identity != identity[expression])
        pairs.append((int(expression), int(others[np.argmin(opening[others])])))
    return pairs


def test_procrustes_recovers_a_rotation_by_30_degrees_scale_1_5_and_shift_3_minus_2():
    source = np.array([[0.0, 0.0], [4.0, 1.0], [2.0, 5.0], [-3.0, 2.0], [1.0, -4.0]])
    cos, sin = np.cos(np.pi / 6), np.sin(np.pi / 6)
    target = 1.5 * source @ np.array([[cos, -sin], [sin, cos]]).T + np.array([3.0, -2.0])
    expected = np.array([[1.299038, -0.75, 3.0], [0.75, 1.299038, -2.0]])
    np.testing.assert_allclose(similarity_from_points(source, target), expected, atol=1e-5)


def test_swapping_a_face_with_itself_returns_it(faces):
    image, landmarks = faces.images[0], faces.meta["landmarks"][0]
    swapped = swap_expression(image, landmarks, image, landmarks, LANDMARK_NAMES)
    assert np.abs(swapped.astype(int) - image).max() <= 1


def test_a_face_shifted_by_3_and_2_pixels_swaps_onto_its_shifted_copy_unchanged(faces):
    image, landmarks = faces.images[1], faces.meta["landmarks"][1]
    shifted = np.roll(image, (2, 3), axis=(0, 1))                   # 2 rows down, 3 columns right
    swapped = swap_expression(image, landmarks, shifted, landmarks + [3.0, 2.0], LANDMARK_NAMES)
    assert np.abs(swapped.astype(int) - shifted)[4:-4, 4:-4].max() <= 2


def test_pixels_far_from_the_regions_keep_the_target_face(faces):
    for expression, face in open_and_closed_mouth_pairs(faces, 3):
        target, target_landmarks = faces.images[face], faces.meta["landmarks"][face]
        swapped = swap_expression(faces.images[expression], faces.meta["landmarks"][expression], target,
                                  target_landmarks, LANDMARK_NAMES)
        far = far_from_features(target_landmarks, target.shape[:2])
        assert far.sum() > 300
        np.testing.assert_array_equal(swapped[far], target[far])
        assert np.abs(swapped.astype(int) - target)[~far].max() > 30           # the regions did change


def mouth_patch(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Gray patch (0.6 x 1.2 inter-ocular distances) centred on the mouth landmarks, zero mean and unit std."""
    size = inter_ocular(landmarks)
    centre = landmarks[MOUTH_POINTS].mean(axis=0)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    patch = cv2.getRectSubPix(gray, (int(1.2 * size), int(0.6 * size)), (float(centre[0]), float(centre[1])))
    return (patch - patch.mean()) / (patch.std() + 1e-6)


def test_the_mouth_of_the_output_is_closer_to_the_aligned_expression_mouth_than_the_target_mouth_is(faces):
    for expression, face in open_and_closed_mouth_pairs(faces, 3):
        target, target_landmarks = faces.images[face], faces.meta["landmarks"][face]
        expression_landmarks = faces.meta["landmarks"][expression]
        swapped = swap_expression(faces.images[expression], expression_landmarks, target, target_landmarks,
                                  LANDMARK_NAMES)
        matrix, _ = cv2.estimateAffinePartial2D(expression_landmarks[FEATURE_POINTS].astype(np.float32),
                                                target_landmarks[FEATURE_POINTS].astype(np.float32))
        aligned = cv2.warpAffine(faces.images[expression], matrix, target.shape[1::-1])
        reference = mouth_patch(aligned, target_landmarks)
        output_distance = np.abs(mouth_patch(swapped, target_landmarks) - reference).mean()
        target_distance = np.abs(mouth_patch(target, target_landmarks) - reference).mean()
        assert output_distance < 0.75 * target_distance


def test_each_image_gets_another_identity_as_partner():
    identity = np.array([0, 0, 1, 1, 1, 2])
    chosen = np.stack([other_identity_partners(identity, seed) for seed in range(30)])  # (30, 6)
    assert (identity[chosen] != identity).all()
    assert set(chosen[:, 0]) == {2, 3, 4, 5}                         # every other person's image gets drawn


@pytest.mark.parametrize("with_identity", [True, False])
def test_the_dataset_swap_puts_each_expression_on_another_face(faces, with_identity):
    subset = faces.subset(np.arange(8))
    if not with_identity:
        subset.meta.pop("identity")
    identity = faces.meta["identity"][:8] if with_identity else np.arange(8)
    swapped = landmark_face_swapped(subset, LANDMARK_NAMES, seed=0)
    assert swapped.shape == subset.images.shape and swapped.dtype == np.uint8
    for index in range(8):
        hosts = [other for other in range(8) if identity[other] != identity[index] and np.array_equal(
            swapped[index][far_from_features(subset.meta["landmarks"][other], (48, 48))],
            subset.images[other][far_from_features(subset.meta["landmarks"][other], (48, 48))])]
        assert hosts, f"image {index} was not pasted onto another identity's face"


def test_a_dataset_without_landmarks_is_named_in_the_error(faces):
    bare = FaceDataset(images=faces.images[:4], labels=faces.labels[:4], class_names=faces.class_names,
                       meta={"identity": faces.meta["identity"][:4]}, name="my-faces")
    with pytest.raises(DatasetError, match=r"landmarks.*'my-faces'"):
        landmark_face_swapped(bare, LANDMARK_NAMES, seed=0)


def test_the_dlib68_layout_pastes_brows_and_eyes_and_nose_and_mouth_but_not_the_jaw():
    upper, lower = swap_layout("dlib68", 68).regions
    assert sorted(upper) == [*range(17, 27), *range(36, 48)]
    assert sorted(lower) == [*range(27, 36), *range(48, 68)]
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(8, 40, (68, 2))
    landmarks[36:42, 0], landmarks[42:48, 0] = rng.uniform(10, 18, 6), rng.uniform(30, 38, 6)
    image = rng.integers(0, 256, (48, 48, 1), dtype=np.uint8)
    assert np.abs(swap_expression(image, landmarks, image, landmarks, "dlib68").astype(int) - image).max() <= 1


def test_landmark_names_without_a_mouth_are_refused_with_the_region_named():
    with pytest.raises(ValueError, match="nose \\+ mouth"):
        swap_layout(("eye_left", "eye_right", "brow_left", "brow_right", "chin"), 5)
