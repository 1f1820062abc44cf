"""Real-dataset loaders on fake data in each published layout (fer_lib.data.real.fixtures): label maps,
split rules, face handling, the cache, and a DatasetError naming the file for each kind of bad input.

Every fixture image is drawn on a background tone that names its class, so `drawn_classes` reads back the
label the layout gave it, independently of the loaders' maps.
"""
from __future__ import annotations

import logging
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, UNLABELED, DatasetError, FaceDataset
from fer_lib.data.cache import cache_exists, load_cache, read_manifest_extra
from fer_lib.data.faces import central_box, crop_face, detect_faces
from fer_lib.data.real import DATASET_LOADERS, load_real_splits, load_unlabeled_folder, prepare_real_dataset
from fer_lib.data.real.common import stratified_split
from fer_lib.data.real.ferplus import ferplus_target
from fer_lib.data.real.fixtures import (
    CLASS_TONES, FIXTURE_LAYOUTS, draw_face, save_image, tone_class, write_affectnet_folders, write_class_folders,
    write_fer2013, write_fixture_datasets, write_rafdb)

SIZE = 32
SCRIPTS = Path(__file__).resolve().parent.parent / "data_scripts"
LABELED_LAYOUTS = [layout for layout, (name, _) in FIXTURE_LAYOUTS.items() if name != "unlabeled"]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_fixture_datasets(tmp_path_factory.mktemp("layouts"))


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder for this test alone."""
    monkeypatch.setenv("FER_SSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def copy_layout(layouts: dict[str, Path], layout: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(layouts[layout], tmp_path / layout))


def label_names(dataset: FaceDataset) -> list[str]:
    return [dataset.class_names[label] for label in dataset.labels]


def drawn_classes(dataset: FaceDataset) -> list[str]:
    return [tone_class(image) for image in dataset.images]


# ---- every layout: labels, shapes, splits -------------------------------------------------------------

@pytest.mark.parametrize("layout", LABELED_LAYOUTS)
def test_every_image_keeps_the_label_its_layout_gave_it(layouts: dict[str, Path], layout: str) -> None:
    splits = load_real_splits(FIXTURE_LAYOUTS[layout][0], layouts[layout], image_size=SIZE)
    for part in (splits.train, splits.val, splits.test):
        assert len(part) > 0
        assert part.images.shape[1:] == (SIZE, SIZE, 3) and part.images.dtype == np.uint8
        assert part.face_boxes.shape == (len(part), 4)
        assert label_names(part) == drawn_classes(part)


def test_fer2013_emotion_3_is_happy_and_usage_gives_the_split(tmp_path: Path) -> None:
    write_fer2013(tmp_path, rows=[(3, "Training"), (0, "PublicTest"), (6, "PrivateTest")])
    splits = load_real_splits("fer2013", tmp_path, image_size=SIZE)
    assert splits.train.class_names == EMOTIONS_7
    assert (label_names(splits.train), label_names(splits.val), label_names(splits.test)) == (
        ["happy"], ["anger"], ["neutral"])


def test_rafdb_label_1_is_surprise_and_the_basic_folder_is_accepted_as_root(tmp_path: Path) -> None:
    rows = [(f"train_{i:05d}.jpg", 1) for i in range(1, 11)] + [("test_00001.jpg", 7)]
    write_rafdb(tmp_path, rows)
    for root in (tmp_path, tmp_path / "basic"):
        splits = load_real_splits("rafdb", root, image_size=SIZE)
        assert set(label_names(splits.train) + label_names(splits.val)) == {"surprise"}
        assert label_names(splits.test) == ["neutral"]


def test_rafdb_val_is_carved_from_train_and_test_is_the_test_list(layouts: dict[str, Path]) -> None:
    report = prepare_real_dataset("rafdb", layouts["rafdb"], image_size=SIZE)
    counts = {split: part.num_images for split, part in report.splits.items()}
    assert counts == {"train": 63, "val": 7, "test": 14}  # 70 train_ images, 10% of each class to val
    assert all(n == 1 for n in report.splits["val"].class_counts.values())
    assert any("val carved from train" in note for note in report.notes)


def test_aligned_datasets_get_the_fixed_central_face_box(layouts: dict[str, Path]) -> None:
    splits = load_real_splits("rafdb", layouts["rafdb"], image_size=SIZE)
    np.testing.assert_allclose(splits.train.face_boxes, np.tile(central_box(SIZE), (len(splits.train), 1)))


def test_ferplus_majority_drops_unnamed_unknown_notface_and_ambiguous_rows(layouts: dict[str, Path]) -> None:
    report = prepare_real_dataset("ferplus", layouts["ferplus"], image_size=SIZE)
    # fixture: 16 / 8 / 8 clear rows, plus in Training a tie, an unknown winner, a not-a-face, an unnamed row
    assert {split: part.num_images for split, part in report.splits.items()} == {"train": 16, "val": 8, "test": 8}
    assert "rows dropped (no image name): 1" in report.notes
    assert "rows dropped (unknown / not-a-face): 3" in report.notes


def test_ferplus_soft_labels_are_the_normalised_votes_in_the_unified_order(layouts: dict[str, Path]) -> None:
    train = load_real_splits("ferplus", layouts["ferplus"], image_size=SIZE).train
    assert train.class_names == EMOTIONS_8 and train.meta["votes"].shape == (len(train), 10)
    np.testing.assert_allclose(train.soft_labels.sum(axis=1), 1.0, rtol=1e-6)
    first = train.soft_labels[0]  # votes neutral 8, happiness 2
    assert first[EMOTIONS_8.index("neutral")] == pytest.approx(0.8)
    assert first[EMOTIONS_8.index("happy")] == pytest.approx(0.2)


def test_ferplus_probability_mode_keeps_the_tie_that_majority_drops(layouts: dict[str, Path]) -> None:
    splits = load_real_splits("ferplus", layouts["ferplus"], image_size=SIZE, label_mode="probability")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (17, 8, 8)  # val / test stay majority
    tie = splits.train.soft_labels[-1]  # neutral 2, happiness 4, surprise 4
    assert label_names(splits.train)[-1] == "happy"
    np.testing.assert_allclose(tie[[0, 1, 3]], [0.2, 0.4, 0.4])


def test_ferplus_single_votes_are_outliers_so_half_the_votes_can_be_a_majority() -> None:
    votes = np.array([5, 1, 1, 1, 1, 1, 0, 0, 0, 0])  # without outlier removal 5 / 10 is no majority
    assert np.argmax(ferplus_target(votes, "majority")) == 0
    assert ferplus_target(np.array([4, 3, 3, 0, 0, 0, 0, 0, 0, 0]), "majority") is None


def test_ferplus_multi_target_keeps_every_emotion_with_30_percent_of_the_votes() -> None:
    target = ferplus_target(np.array([0, 4, 4, 2, 0, 0, 0, 0, 0, 0]), "multi_target")
    assert np.flatnonzero(target).tolist() == [1, 2]


def test_affectnet_drops_none_uncertain_noface_and_contempt_only_for_7_classes(layouts: dict[str, Path]) -> None:
    seven = prepare_real_dataset("affectnet", layouts["affectnet_csv"], image_size=SIZE)
    eight = prepare_real_dataset("affectnet8", layouts["affectnet_csv"], image_size=SIZE)
    # fixture: 6 training and 2 validation rows per expression 0..7, plus training rows of 8, 9 and 10
    assert list(seven.splits["test"].class_counts) == list(EMOTIONS_7)
    assert list(eight.splits["test"].class_counts) == list(EMOTIONS_8)
    for report, classes in ((seven, 7), (eight, 8)):
        counts = {split: part.num_images for split, part in report.splits.items()}
        assert counts == {"train": 5 * classes, "val": classes, "test": 2 * classes}
    assert ("training.csv: dropped rows: 6 of expression 7, 1 of expression 8, 1 of expression 9, "
            "1 of expression 10") in seven.notes


def test_affectnet_annotated_box_is_cropped_with_margin_and_mapped_into_the_stored_image(
        layouts: dict[str, Path]) -> None:
    train = load_real_splits("affectnet8", layouts["affectnet_csv"], image_size=SIZE).train
    # a square face box with margin 0.2 spans 1/1.4 of the crop, centred
    expected = np.array([0.2, 0.2, 1.2, 1.2]) / 1.4 * SIZE
    np.testing.assert_allclose(train.face_boxes, np.tile(expected, (len(train), 1)), atol=0.5)
    assert set(train.meta) == {"valence", "arousal", "file", "face_outcome"}
    assert np.abs(train.meta["valence"]).max() <= 1 and set(train.meta["face_outcome"]) == {"annotated"}
    assert train.meta["file"][0].startswith("Manually_Annotated_Images/")


def test_affectnet_class_folders_may_be_named_by_index_or_by_name(tmp_path: Path) -> None:
    by_index = load_real_splits("affectnet8", write_affectnet_folders(tmp_path / "index"), image_size=SIZE)
    by_name = load_real_splits("affectnet8", write_affectnet_folders(tmp_path / "name", by_name=True),
                               image_size=SIZE)
    for splits in (by_index, by_name):
        assert label_names(splits.train) == drawn_classes(splits.train)
    assert sorted(label_names(by_index.train)) == sorted(label_names(by_name.train))
    seven = load_real_splits("affectnet", tmp_path / "name", image_size=SIZE)
    assert seven.test.class_names == EMOTIONS_7 and len(seven.test) == 2 * 7  # the contempt folder is dropped


def test_ckplus48_crops_with_a_contempt_folder_have_8_classes_and_skip_the_detector(layouts: dict[str, Path]) -> None:
    report = prepare_real_dataset("ckplus", layouts["ckplus"], image_size=SIZE)
    assert list(report.splits["train"].class_counts) == list(EMOTIONS_8)
    assert report.splits["train"].class_counts["neutral"] == 0
    # 48 px face crops: one path for every image, no detector
    assert all(part.faces == {"aligned": part.num_images} for part in report.splits.values())
    assert sum(part.num_images for part in report.splits.values()) == 84  # 7 classes x 4 sequences x 3 frames


def test_imagefolder_uses_given_train_and_test_folders_and_converts_a_gray_rgb_mix(
        layouts: dict[str, Path]) -> None:
    modes = set()
    for path in (layouts["imagefolder"] / "train").rglob("*.png"):
        with Image.open(path) as image:
            modes.add(image.mode)
    assert modes == {"L", "RGB"}
    report = prepare_real_dataset("imagefolder", layouts["imagefolder"], image_size=SIZE)
    assert report.splits["test"].num_images == 14  # test/ holds 2 per class, untouched
    assert report.notes[0] == "splits as given by train/, test/"
    assert "val carved from train: 10% of each class, seed 0 (test is never used for it)" in report.notes
    assert report.subjects.startswith("subjects unknown")
    assert load_real_splits("imagefolder", layouts["imagefolder"], image_size=SIZE).train.channels == 3


def test_unlabeled_folder_reads_every_image_at_any_depth_without_labels(layouts: dict[str, Path]) -> None:
    dataset = load_unlabeled_folder(layouts["unlabeled"], image_size=SIZE)
    assert len(dataset) == 12 and dataset.channels == 3
    assert dataset.class_names == EMOTIONS_7 and (dataset.labels == UNLABELED).all()


def test_stratified_split_keeps_class_proportions_and_is_fixed_by_the_seed() -> None:
    labels = np.repeat([0, 1, 2], 20)
    val, test, train = stratified_split(labels, [0.1, 0.2], seed=0)
    assert [np.bincount(labels[part]).tolist() for part in (val, test, train)] == [[2] * 3, [4] * 3, [14] * 3]
    assert sorted(np.concatenate([val, test, train]).tolist()) == list(range(60))
    again = stratified_split(labels, [0.1, 0.2], seed=0)
    other = stratified_split(labels, [0.1, 0.2], seed=1)
    assert all((a == b).all() for a, b in zip(again, (val, test, train)))
    assert not (other[0] == val).all()


# ---- face detection and fallbacks ---------------------------------------------------------------------

def test_one_detected_face_is_cropped_with_margin_and_its_box_mapped() -> None:
    face = draw_face(300, 40, np.random.default_rng(0), face_scale=0.2, center=(110, 170))
    image = np.repeat(face[..., None], 3, axis=2)
    crop = crop_face(image, SIZE, detect=True, margin=0.2)
    x0, y0, x1, y1 = crop.box
    assert crop.outcome == "one_face"
    assert x1 - x0 == pytest.approx(SIZE / 1.4, abs=1) and y1 - y0 == pytest.approx(SIZE / 1.4, abs=1)
    assert (x0 + x1) / 2 == pytest.approx(SIZE / 2, abs=1) and (y0 + y1) / 2 == pytest.approx(SIZE / 2, abs=1)


def test_several_faces_give_the_crop_of_the_largest() -> None:
    rng = np.random.default_rng(0)
    big, small = draw_face(200, 40, rng, face_scale=0.3), draw_face(200, 40, rng, face_scale=0.2)
    pair = np.repeat(np.concatenate([small, big], axis=1)[..., None], 3, axis=2)
    boxes = detect_faces(pair)
    largest = boxes[np.argmax(boxes[:, 2] - boxes[:, 0])]
    assert len(boxes) == 2 and largest[0] >= 200  # the big face is the right one
    crop = crop_face(pair, SIZE, detect=True)
    assert crop.outcome == "several_faces"
    np.testing.assert_array_equal(crop.image, crop_face(pair, SIZE, box=largest).image)


def test_no_face_falls_back_to_the_centre_crop_and_central_box() -> None:
    image = np.zeros((60, 80, 3), dtype=np.uint8)
    image[:, 10:70] = 200  # the centre 60x60 square is bright, the sides dark
    crop = crop_face(image, SIZE, detect=True)
    assert crop.outcome == "no_face"
    assert (crop.image == 200).all()
    np.testing.assert_allclose(crop.box, central_box(SIZE))


def test_detector_fallbacks_are_counted_and_named_in_the_report_and_manifest(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "faces", ["happy", "sad"], ["happy", "sad"], 10, 96, ".png", seed=0)
    save_image(root / "happy" / "blank.png", np.full((96, 96), CLASS_TONES["happy"], dtype=np.uint8))
    report = prepare_real_dataset("imagefolder", root, image_size=SIZE)
    assert sum(part.faces.get("no_face", 0) for part in report.splits.values()) == 1
    fallbacks = [(split, entry) for split, part in report.splits.items() for entry in part.fallbacks]
    assert len(fallbacks) == 1 and "blank.png: no face found, centre crop" in fallbacks[0][1]
    assert read_manifest_extra(Path(report.cache_folder) / fallbacks[0][0])["split"]["fallbacks"] == [fallbacks[0][1]]
    assert "face-detector fallbacks: 1" in report.summary()


# ---- bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(DATASET_LOADERS))
def test_a_missing_root_is_named(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetError, match=str(tmp_path / "nowhere")):
        prepare_real_dataset(name, tmp_path / "nowhere", image_size=SIZE)


def test_an_empty_root_asks_for_a_data_root() -> None:
    with pytest.raises(DatasetError, match="no data root given for rafdb"):
        load_real_splits("rafdb", "", image_size=SIZE)


@pytest.mark.parametrize("layout, missing", [
    ("rafdb", "basic/EmoLabel/list_patition_label.txt"),
    ("ferplus", "fer2013new.csv"),
    ("fer2013", "fer2013.csv"),
    ("affectnet_csv", "validation.csv"),
])
def test_a_missing_label_file_is_named(layouts: dict[str, Path], tmp_path: Path, layout: str, missing: str) -> None:
    root = copy_layout(layouts, layout, tmp_path)
    (root / missing).unlink()
    with pytest.raises(DatasetError, match=f"{root / missing}: file not found"):
        prepare_real_dataset(FIXTURE_LAYOUTS[layout][0], root, image_size=SIZE)


@pytest.mark.parametrize("layout, file, column", [
    ("fer2013", "fer2013.csv", "emotion"),
    ("ferplus", "fer2013new.csv", "contempt"),
    ("affectnet_csv", "training.csv", "expression"),
])
def test_wrong_csv_columns_name_the_missing_and_the_found_columns(
        layouts: dict[str, Path], tmp_path: Path, layout: str, file: str, column: str) -> None:
    root = copy_layout(layouts, layout, tmp_path)
    lines = (root / file).read_text().splitlines(keepends=True)
    (root / file).write_text(lines[0].replace(column, "label") + "".join(lines[1:]))
    expected = rf"{root / file}: missing columns \['{column}'\]; found columns \[.*'label'"
    with pytest.raises(DatasetError, match=expected):
        prepare_real_dataset(FIXTURE_LAYOUTS[layout][0], root, image_size=SIZE)


def test_a_pixels_row_of_the_wrong_length_names_the_line_and_length(tmp_path: Path) -> None:
    csv_path = write_fer2013(tmp_path) / "fer2013.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    lines[2] = "0," + " ".join(["7"] * 2303) + ",Training\n"
    csv_path.write_text("".join(lines))
    with pytest.raises(DatasetError, match=f"{csv_path} line 3: pixels row has 2303 values, expected 2304"):
        load_real_splits("fer2013", tmp_path, image_size=SIZE)


def test_a_truncated_csv_names_its_short_last_line(tmp_path: Path) -> None:
    csv_path = write_fer2013(tmp_path) / "fer2013.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    csv_path.write_text("".join(lines[:5]) + lines[5][:1000])  # the download stopped inside line 6
    with pytest.raises(DatasetError, match=f"{csv_path} line 6: 2 fields, expected 3"):
        load_real_splits("fer2013", tmp_path, image_size=SIZE)


@pytest.mark.parametrize("layout, file, line, old, new, message", [
    ("fer2013", "fer2013.csv", 2, "0,", "9,", "unknown FER2013 emotion '9'"),
    ("rafdb", "basic/EmoLabel/list_patition_label.txt", 1, " 2", " 8", "unknown RAF-DB label '8'"),
    ("affectnet_csv", "training.csv", 2, ",0,", ",12,", "unknown AffectNet expression '12'"),
    ("ferplus", "fer2013new.csv", 2, ",8,", ",x,", "column neutral holds 'x'"),
])
def test_an_unknown_label_value_names_the_file_line_and_value(
        layouts: dict[str, Path], tmp_path: Path, layout: str, file: str, line: int, old: str, new: str,
        message: str) -> None:
    root = copy_layout(layouts, layout, tmp_path)
    lines = (root / file).read_text().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    (root / file).write_text("".join(lines))
    with pytest.raises(DatasetError, match=f"{root / file} line {line}: {message}"):
        prepare_real_dataset(FIXTURE_LAYOUTS[layout][0], root, image_size=SIZE)


def test_an_unknown_class_folder_names_the_folder_and_the_accepted_names(
        layouts: dict[str, Path], tmp_path: Path) -> None:
    root = copy_layout(layouts, "jaffe", tmp_path)
    (root / "happiness").rename(root / "smiling")
    with pytest.raises(DatasetError, match=rf"{root / 'smiling'}: unknown class folder 'smiling'; "
                                           r"accepted names: neutral \(neutral\), happy \(happy/happiness\)"):
        prepare_real_dataset("jaffe", root, image_size=SIZE)


def test_corrupt_truncated_and_missing_images_are_skipped_counted_and_named(
        layouts: dict[str, Path], tmp_path: Path) -> None:
    root = copy_layout(layouts, "rafdb", tmp_path)
    aligned = root / "basic" / "Image" / "aligned"
    truncated, garbage, missing = (aligned / f"train_0000{i}_aligned.jpg" for i in (1, 2, 3))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    garbage.write_bytes(b"not an image")
    missing.unlink()
    report = prepare_real_dataset("rafdb", root, image_size=SIZE)
    skipped = [entry for part in report.splits.values() for entry in part.skipped]
    assert sum(part.num_images for part in report.splits.values()) == 84 - 3
    assert sorted(entry.split(": ")[0] for entry in skipped) == sorted(map(str, (truncated, garbage, missing)))
    assert any("truncated" in entry for entry in skipped) and any("file not found" in entry for entry in skipped)
    assert "skipped (unreadable) files: 3" in report.summary()


def test_a_split_of_only_corrupt_images_is_an_error(tmp_path: Path) -> None:
    for index in range(3):
        (tmp_path / f"{index}.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(DatasetError, match=r"unlabeled-all: none of the 3 images could be read, e\.g\. .*0\.jpg"):
        load_unlabeled_folder(tmp_path, image_size=SIZE)


def test_an_empty_class_folder_is_a_warning_in_the_log_and_the_report(
        layouts: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = copy_layout(layouts, "ckplus", tmp_path)
    (root / "neutral").mkdir()
    with caplog.at_level(logging.WARNING):
        report = prepare_real_dataset("ckplus", root, image_size=SIZE)
    assert f"empty class folder {root / 'neutral'}" in caplog.text
    assert any(note.startswith(f"empty class folder {root / 'neutral'}") for note in report.notes)
    assert sum(part.num_images for part in report.splits.values()) == 84


def test_an_unknown_option_names_the_options_of_the_dataset(layouts: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"rafdb: .*'label_mode'.*options are \['val_fraction', 'seed', "
                                         r"'detect_faces'\]"):
        prepare_real_dataset("rafdb", layouts["rafdb"], image_size=SIZE, label_mode="probability")


# ---- the cache ----------------------------------------------------------------------------------------

def test_a_second_load_reads_the_cache_without_the_source(
        layouts: dict[str, Path], tmp_path: Path, own_cache: Path) -> None:
    root = copy_layout(layouts, "fer2013", tmp_path)
    first = load_real_splits("fer2013", root, image_size=SIZE)
    shutil.rmtree(root)
    second = load_real_splits("fer2013", root, image_size=SIZE)
    assert isinstance(second.train.images, np.memmap)
    np.testing.assert_array_equal(first.train.images, second.train.images)
    np.testing.assert_array_equal(first.test.labels, second.test.labels)
    assert prepare_real_dataset("fer2013", root, image_size=SIZE).converted == []


def test_the_cache_folder_is_keyed_by_name_size_root_and_options(layouts: dict[str, Path], own_cache: Path) -> None:
    folder = Path(prepare_real_dataset("rafdb", layouts["rafdb"], image_size=SIZE).cache_folder)
    assert folder.parent == own_cache / "real" and folder.name.startswith(f"rafdb-{SIZE}-")
    assert sorted(p.name for p in folder.iterdir()) == ["test", "train", "val"]
    reseeded = prepare_real_dataset("rafdb", layouts["rafdb"], image_size=SIZE, seed=1)
    assert reseeded.cache_folder != str(folder) and reseeded.converted == ["train", "val", "test"]


def test_an_interrupted_conversion_leaves_no_cache_that_loads(
        layouts: dict[str, Path], tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fer_lib.data.real.convert as convert

    root = copy_layout(layouts, "rafdb", tmp_path)
    real_read = convert.read_rgb

    def interrupt_in_test_split(path: Path) -> np.ndarray:
        if path.name == "test_00005_aligned.jpg":
            raise KeyboardInterrupt
        return real_read(path)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(convert, "read_rgb", interrupt_in_test_split)
        prepare_real_dataset("rafdb", root, image_size=SIZE)
    folder = next((own_cache / "real").iterdir())
    assert cache_exists(folder / "train") and cache_exists(folder / "val") and not cache_exists(folder / "test")
    assert sorted(p.name for p in folder.iterdir()) == ["train", "val"]  # no scratch or half-written files
    with pytest.raises(DatasetError, match="not a dataset cache"):
        load_cache(folder / "test")
    report = prepare_real_dataset("rafdb", root, image_size=SIZE)
    assert report.converted == ["test"] and report.splits["test"].num_images == 14


def test_an_interrupted_cache_write_leaves_nothing_that_loads(
        layouts: dict[str, Path], tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_layout(layouts, "fer2013", tmp_path)

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(np, "savez", interrupt)  # save_cache calls it after writing images.npy
        prepare_real_dataset("fer2013", root, image_size=SIZE)
    folder = next((own_cache / "real").iterdir())
    assert list(folder.iterdir()) == []
    assert prepare_real_dataset("fer2013", root, image_size=SIZE).converted == ["train", "val", "test"]


# ---- scripts ------------------------------------------------------------------------------------------

def run_script(name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", [name, *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPTS / name), run_name="__main__")
    return exit_info.value.code


def test_prepare_dataset_script_converts_and_prints_the_report(
        layouts: dict[str, Path], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--dataset", "jaffe", "--root", str(layouts["jaffe"]), "--image-size", "24", "--seed", "3"]
    assert run_script("prepare_dataset.py", argv, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "jaffe at 24x24 px" in out and "converted: train, val, test" in out
    assert "train       56" in out and "faces train: one_face 56" in out
    assert run_script("prepare_dataset.py", argv, monkeypatch) == 0
    assert "already cached: nothing converted" in capsys.readouterr().out


def test_prepare_dataset_script_reports_bad_input_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--dataset", "rafdb", "--root", str(tmp_path / "nowhere")]
    assert run_script("prepare_dataset.py", argv, monkeypatch) == 2
    assert f"error: {tmp_path / 'nowhere'}: directory not found" in capsys.readouterr().err


def test_make_fixture_datasets_script_writes_every_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_script("make_fixture_datasets.py", [str(tmp_path), "--layout", "rafdb", "--layout", "jaffe"],
                      monkeypatch) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jaffe", "rafdb"]
    assert (tmp_path / "rafdb" / "basic" / "EmoLabel" / "list_patition_label.txt").is_file()


def test_data_options_reach_the_loader_and_an_unknown_one_lists_the_accepted(layouts: dict[str, Path]) -> None:
    from fer_lib.config import make_config
    from fer_lib.data.registry import load_splits

    cfg = make_config("smoke", dataset="ferplus", data_root=str(layouts["ferplus"]), image_size=SIZE)
    assert len(load_splits(cfg.replace(data_options={"label_mode": "probability"}).data).train) == 17  # majority: 16
    with pytest.raises(ValueError, match="val_fraction.*label_mode"):
        load_splits(cfg.replace(data_options={"val_fraction": 0.2}).data)
