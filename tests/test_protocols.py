"""Evaluation protocols on real layouts: subject-independent splits, k-fold cross-validation over subjects, one
face-crop path per dataset, CK+'s released layout, and the file and subject of every stored image.

The CK+ fixtures (CK+48-style class folders and the released cohn-kanade-images/ + Emotion/ layout) hold 12
subjects; S010 appears in 7 sequences, one per class. JAFFE's holds 10 posers, one image per class each.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_lib.cli import main
from fer_lib.config import make_config
from fer_lib.data.base import EMOTIONS_8, DatasetError, DatasetSplits
from fer_lib.data.real import load_real_splits, prepare_real_dataset
from fer_lib.data.real.crops import decide_face_detection
from fer_lib.data.real.common import Sample
from fer_lib.data.real.fixtures import (
    draw_face, save_image, tone_class, write_ckplus, write_ckplus_released, write_jaffe)
from fer_lib.data.real.subjects import SUBJECT_PATTERNS, subjects_by_regex
from fer_lib.data.registry import load_splits
from fer_lib.data.splits import subject_fold, subject_folds, subject_holdout
from fer_lib.recipes.crossval import CrossValResult, cross_validate

SIZE = 24


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("protocols")
    return {"ckplus": write_ckplus(base / "ckplus"), "released": write_ckplus_released(base / "released"),
            "jaffe": write_jaffe(base / "jaffe")}


def people(splits: DatasetSplits) -> dict[str, set[str]]:
    return {name: set(getattr(splits, name).meta["subject"]) for name in ("train", "val", "test")}


def shared_people(splits: dict[str, set[str]]) -> set[str]:
    train, val, test = splits["train"], splits["val"], splits["test"]
    return (train & val) | (train & test) | (val & test)


# ---- split helpers on arrays --------------------------------------------------------------------------

SUBJECTS = np.repeat(np.array([f"S{i:03d}" for i in range(12)]), 5)   # 12 people, 5 images each
LABELS = np.tile(np.arange(5), 12)


def test_a_subject_holdout_keeps_every_person_on_one_side_and_covers_every_image() -> None:
    val, test, train = subject_holdout(SUBJECTS, LABELS, [0.2, 0.2], seed=0)
    assert sorted(np.concatenate([val, test, train]).tolist()) == list(range(60))
    sides = [set(SUBJECTS[part]) for part in (val, test, train)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert all(np.sum(np.isin(SUBJECTS, list(side))) == len(part) for side, part in zip(sides, (val, test, train)))
    assert len(sides[0]) >= 1 and len(sides[1]) >= 1 and len(sides[2]) >= 6


def test_k_fold_over_subjects_tests_every_person_exactly_once() -> None:
    tests = subject_folds(SUBJECTS, LABELS, 4, seed=0)
    assert sorted(np.concatenate(tests).tolist()) == list(range(60))
    tested = [set(SUBJECTS[test]) for test in tests]
    assert sum(len(people) for people in tested) == 12 and set().union(*tested) == set(SUBJECTS)


def test_a_fold_splits_the_other_folds_people_into_val_and_train() -> None:
    val, test, train = subject_fold(SUBJECTS, LABELS, 4, 2, 0.1, seed=0)
    np.testing.assert_array_equal(test, subject_folds(SUBJECTS, LABELS, 4, seed=0)[2])
    assert len(val) and len(train) and not set(SUBJECTS[val]) & set(SUBJECTS[train])
    assert not (set(SUBJECTS[val]) | set(SUBJECTS[train])) & set(SUBJECTS[test])
    assert len(val) + len(test) + len(train) == 60


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    first, again, other = (subject_holdout(SUBJECTS, LABELS, [0.2, 0.2], seed) for seed in (0, 0, 1))
    assert all((a == b).all() for a, b in zip(first, again))
    assert any(len(a) != len(b) or (a != b).any() for a, b in zip(first, other))


def test_more_folds_than_people_is_an_error_naming_both_counts() -> None:
    with pytest.raises(DatasetError, match="13-fold cross-validation over subjects needs at least 13 subjects.*"
                                           "only 12"):
        subject_folds(SUBJECTS, LABELS, 13, seed=0)


# ---- subjects from names and CSV ----------------------------------------------------------------------

def test_subject_patterns_read_ckplus_and_jaffe_names_and_a_custom_group() -> None:
    assert subjects_by_regex(["anger/S010_004_00000017.png", "S010.png"], SUBJECT_PATTERNS["ckplus"]) == ["S010", None]
    assert subjects_by_regex(["happiness/KA.HA1.29.tiff"], SUBJECT_PATTERNS["jaffe"]) == ["KA"]
    assert subjects_by_regex(["happy/person7_take2.jpg"], r"person(\d+)_") == ["7"]


def test_a_subject_csv_maps_files_by_relative_path_or_bare_name(roots: dict[str, Path], tmp_path: Path) -> None:
    files = sorted(p.relative_to(roots["ckplus"]).as_posix() for p in roots["ckplus"].rglob("*.png"))
    # every other row names the file by its bare name; the subject is the 3 digits after "S"
    rows = [f"{name if i % 2 else Path(name).name},person-{Path(name).name[1:4]}" for i, name in enumerate(files)]
    table = tmp_path / "subjects.csv"
    table.write_text("file,subject\n" + "\n".join(rows) + "\n")
    splits = load_real_splits("imagefolder", roots["ckplus"], image_size=SIZE, subject_csv=str(table))
    assert "person-010" in set().union(*people(splits).values())
    assert not shared_people(people(splits))


def test_a_regex_that_misses_some_files_names_them_and_the_count(roots: dict[str, Path]) -> None:
    # S050, S053 and S055 (5 sequences of 3 frames) do not match
    with pytest.raises(DatasetError, match=r"15 of 84 images have no subject by subject_regex 'S0\[0-4\]\\\\d_', "
                                           r"e\.g\. disgust/S050_001_00000008\.png"):
        prepare_real_dataset("imagefolder", roots["ckplus"], image_size=SIZE, subject_regex=r"S0[0-4]\d_")


# ---- the default split of each loader -----------------------------------------------------------------

def test_ckplus_class_folders_without_split_folders_put_no_person_on_two_sides(roots: dict[str, Path]) -> None:
    splits = load_real_splits("ckplus", roots["ckplus"], image_size=SIZE)
    sides = people(splits)
    assert not shared_people(sides)
    assert sum(len(names) for names in sides.values()) == 12
    holding_s010 = [name for name, names in sides.items() if "S010" in names]
    assert len(holding_s010) == 1 and (getattr(splits, holding_s010[0]).meta["subject"] == "S010").sum() == 21


def test_the_same_folder_read_without_subjects_leaks_people_and_the_report_says_so(roots: dict[str, Path]) -> None:
    report = prepare_real_dataset("imagefolder", roots["ckplus"], image_size=SIZE)
    splits = load_real_splits("imagefolder", roots["ckplus"], image_size=SIZE)
    by_file = {name: set(subjects_by_regex(list(getattr(splits, name).meta["file"]), r"(S\d{3})_"))
               for name in ("train", "val", "test")}
    assert "S010" in shared_people(by_file)  # per image: S010's 21 frames land on several sides
    assert report.subjects.startswith("subjects unknown") and "not subject-independent" in report.subjects
    assert "subjects unknown" in report.summary() and all(part.people is None for part in report.splits.values())


def test_jaffe_posers_are_read_from_file_names_and_kept_apart(roots: dict[str, Path]) -> None:
    report = prepare_real_dataset("jaffe", roots["jaffe"], image_size=SIZE)
    splits = load_real_splits("jaffe", roots["jaffe"], image_size=SIZE)
    sides = people(splits)
    assert set().union(*sides.values()) == {"KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM"}
    assert not shared_people(sides)
    assert report.subjects.startswith("subject-independent: no person in two splits")
    # one image per poser and class, so every split holds 7 images per person
    assert {name: part.num_images for name, part in report.splits.items()} == {
        name: 7 * part.people for name, part in report.splits.items()}


def test_given_split_folders_that_share_people_are_reported_as_not_subject_independent(
        roots: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, subjects in (("train", (1, 2, 3, 4)), ("test", (4, 5))):
        for subject in subjects:
            for label in ("happy", "sad"):
                save_image(tmp_path / split / label / f"S{subject:03d}_001_0000000{1 + (label == 'sad')}.png",
                           draw_face(48, 60, rng, face_scale=0.42))
    report = prepare_real_dataset("ckplus", tmp_path, image_size=SIZE)
    assert report.subjects.startswith("NOT subject-independent: 1 people in more than one split, e.g. S004 in "
                                      "train, test")
    assert any(note.startswith("val carved from train by subject") for note in report.notes)


# ---- k-fold cross-validation through data_options ------------------------------------------------------

def test_ten_folds_over_ckplus_subjects_test_every_image_once_and_never_train_on_a_tested_person(
        roots: dict[str, Path]) -> None:
    cfg = make_config("smoke", dataset="ckplus", data_root=str(roots["ckplus"]), image_size=SIZE)
    tested_files = []
    for fold in range(10):
        splits = load_splits(cfg.replace(data_options={"folds": 10, "fold": fold}).data)
        assert not shared_people(people(splits))
        tested_files += list(splits.test.meta["file"])
    assert len(tested_files) == len(set(tested_files)) == 84


def test_folds_need_known_subjects_and_a_fold_in_range(roots: dict[str, Path]) -> None:
    with pytest.raises(DatasetError, match="3-fold cross-validation over subjects needs the subject of every "
                                           "image; subjects unknown"):
        prepare_real_dataset("imagefolder", roots["ckplus"], image_size=SIZE, folds=3)
    with pytest.raises(ValueError, match=r"fold must be in 0\.\.2 for 3 folds, got 3"):
        prepare_real_dataset("ckplus", roots["ckplus"], image_size=SIZE, folds=3, fold=3)


def test_cross_validation_mean_and_std_are_over_folds_with_the_sample_std() -> None:
    folds = [{"fold": k, "test_images": 6, "test_people": 1, "test_accuracy": accuracy}
             for k, accuracy in enumerate((0.5, 0.7, 0.9))]
    result = CrossValResult("finetune", "scratch", "ckplus", folds, Path("runs"))
    assert result.mean()["test_accuracy"] == pytest.approx(0.7)
    assert result.std()["test_accuracy"] == pytest.approx(0.2)  # sqrt((0.2^2 + 0 + 0.2^2) / 2)
    assert "test acc 0.7000 ± 0.2000" in result.summary()


def test_cross_validation_probes_each_fold_and_tests_every_image_once(roots: dict[str, Path]) -> None:
    cfg = make_config("smoke", dataset="ckplus", data_root=str(roots["ckplus"]), image_size=SIZE, probe_knn_k=3)
    result = cross_validate(cfg, None, folds=3, recipe="probe")
    assert [fold["fold"] for fold in result.folds] == [0, 1, 2]
    assert sum(fold["test_images"] for fold in result.folds) == 84
    assert sum(fold["test_people"] for fold in result.folds) == 12
    assert {"test_accuracy", "knn_test_accuracy", "val_accuracy"} <= set(result.folds[0])
    assert (result.run_dir / "crossval.json").is_file()


def test_cross_validation_refuses_a_dataset_without_people() -> None:
    with pytest.raises(ValueError, match="needs a dataset whose loader knows each image's person.*'rafdb'"):
        cross_validate(make_config("smoke", dataset="rafdb", data_root="/nowhere"), folds=3)


def test_the_crossval_command_fine_tunes_every_fold_and_prints_mean_and_std(
        roots: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    code = main(["crossval", "--profile", "smoke", "--dataset", "ckplus", "--data-root", str(roots["ckplus"]),
                 "--folds", "3", "--finetune-batch-size", "16", "--image-size", str(SIZE)])
    out = capsys.readouterr().out
    assert code == 0
    assert "3-fold cross-validation over subjects: ckplus, finetune, scratch" in out
    assert len(re.findall(r"^[012] +\d+ +\d+ +[01]\.\d{4}", out, flags=re.MULTILINE)) == 3
    assert re.search(r"mean ± std over 3 folds: test acc [01]\.\d{4} ± \d\.\d{4}", out)


# ---- one face-crop path per dataset -------------------------------------------------------------------

def test_48px_crops_take_one_path_where_forcing_the_detector_takes_two(roots: dict[str, Path]) -> None:
    auto = prepare_real_dataset("ckplus", roots["ckplus"], image_size=SIZE)
    forced = prepare_real_dataset("ckplus", roots["ckplus"], image_size=SIZE, detect_faces=True)
    assert {outcome for part in auto.splits.values() for outcome in part.faces} == {"aligned"}
    assert auto.face_crops.startswith("face crops, no detection (probe of 32 images")
    assert {"one_face", "no_face"} <= {outcome for part in forced.splits.values() for outcome in part.faces}


def test_wide_shots_go_through_the_detector_and_each_image_records_its_path(roots: dict[str, Path]) -> None:
    report = prepare_real_dataset("ckplus", roots["released"], image_size=SIZE)
    splits = load_real_splits("ckplus", roots["released"], image_size=SIZE)
    assert report.face_crops.startswith("Haar detection on every image")
    assert set(splits.train.meta["face_outcome"]) == {"one_face"}


def test_no_face_in_any_probed_image_means_the_images_are_taken_as_crops(tmp_path: Path) -> None:
    blank = [Sample(save_image(tmp_path / f"{i}.png", np.full((40, 40), 90, np.uint8)), 0) for i in range(3)]
    decision = decide_face_detection(blank)
    assert not decision.detect and "found no face in any" in decision.reason


# ---- CK+ released layout ------------------------------------------------------------------------------

def test_ckplus_released_keeps_the_last_3_frames_of_each_labelled_sequence(roots: dict[str, Path]) -> None:
    report = prepare_real_dataset("ckplus", roots["released"], image_size=SIZE)
    splits = load_real_splits("ckplus", roots["released"], image_size=SIZE)
    assert sum(part.num_images for part in report.splits.values()) == 28 * 3  # the unlabelled sequence is left out
    assert report.notes[0].startswith("CK+ released layout: 28 labelled sequences of 29")
    for part in (splits.train, splits.val, splits.test):
        assert [part.class_names[label] for label in part.labels] == [tone_class(image) for image in part.images]
    files = sorted(f for part in (splits.train, splits.val, splits.test) for f in part.meta["file"]
                   if "/S010/001/" in f)  # its emotion file names frame 6 of 7
    assert [f[-12:] for f in files] == ["00000004.png", "00000005.png", "00000006.png"]
    assert not shared_people(people(splits))


def test_ckplus_released_neutral_frames_add_the_first_frame_of_each_sequence(roots: dict[str, Path]) -> None:
    splits = load_real_splits("ckplus", roots["released"], image_size=SIZE, neutral_frames=1)
    everything = [splits.train, splits.val, splits.test]
    neutral = EMOTIONS_8.index("neutral")
    assert sum(len(part) for part in everything) == 28 * 4
    assert sum(int((part.labels == neutral).sum()) for part in everything) == 28
    for part in everything:
        first = part.meta["frame_index"] == 0
        assert (part.labels[first] == neutral).all()
        assert {tone_class(image) for image in part.images[first]} <= {"neutral"}


def test_ckplus_released_meta_pairs_frames_of_one_sequence_and_one_person(roots: dict[str, Path]) -> None:
    train = load_real_splits("ckplus", roots["released"], image_size=SIZE).train
    assert {"file", "subject", "identity", "sequence_id", "frame_index", "face_outcome"} <= set(train.meta)
    for sequence in np.unique(train.meta["sequence_id"]):
        members = train.meta["sequence_id"] == sequence
        assert len(set(train.meta["subject"][members])) == 1 and sorted(train.meta["frame_index"][members]) == [3, 4, 5]
    for subject in np.unique(train.meta["subject"]):
        assert len(set(train.meta["identity"][train.meta["subject"] == subject])) == 1


def test_a_bad_ckplus_emotion_value_names_the_file(roots: dict[str, Path], tmp_path: Path) -> None:
    root = Path(shutil.copytree(roots["released"], tmp_path / "released"))
    label_file = next((root / "Emotion").rglob("*_emotion.txt"))
    label_file.write_text("   9.0000000e+00\n")
    with pytest.raises(DatasetError, match=rf"{label_file}: unknown CK\+ emotion '9.0000000e\+00'; expected a number "
                                           r"0\.\.7 \(0 neutral, 1 anger, 2 contempt"):
        prepare_real_dataset("ckplus", root, image_size=SIZE)
