"""Notebook 09's pieces: a photo read and its faces cropped as the loaders crop them, test-time views and the
agreement across them, fine-tuned classifiers and MAEs loaded from their checkpoints, the zoo's classifier entries."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fer_lib.config import make_config
from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8
from fer_lib.data.faces import central_box
from fer_lib.data.photos import photo_faces, read_photo
from fer_lib.eval.domain_gap import ViewPredictions, changed_views, view_predictions
from fer_lib.models.checkpoints import CheckpointError
from fer_lib.paths import REPO_ROOT
from fer_lib.recipes.build import classifier_model, mae_model
from fer_lib.recipes.trained import load_classifier, load_mae
from fer_lib.viz.photo import against_reference, face_card, photo_with_faces
from fer_lib.zoo import ZooError, ZooRecipe, build_entry, read_manifest, zoo_classifier, zoo_for

matplotlib.use("Agg")

SMOKE_MAE = ZooRecipe("mae-face-smoke", "a one-epoch MAE at the smoke profile",
                      ("pretrain-mae", "--profile", "smoke", "--domain", "face", "--pretrain-epochs", "1",
                       "--threads", "1"))
SMOKE_CLASSIFIER = ZooRecipe("classifier-face-smoke", "the smoke MAE fine-tuned for one epoch",
                             ("finetune", "--profile", "smoke", "--init", "MAE", "--threads", "1"))
REAL_ZOO = REPO_ROOT / "zoo"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return read_photo()


def test_the_default_photo_is_scikit_images_astronaut_and_uploaded_bytes_read_alike(astronaut: np.ndarray) -> None:
    assert astronaut.shape == (512, 512, 3) and astronaut.dtype == np.uint8
    encoded = io.BytesIO()
    Image.fromarray(astronaut).save(encoded, format="PNG")
    assert np.array_equal(read_photo(encoded.getvalue()), astronaut)


def test_a_phone_photo_stands_up_by_its_exif_orientation(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), "white")
    exif = image.getexif()
    exif[0x0112] = 6                                      # taken sideways: to be turned 90 degrees clockwise
    image.save(tmp_path / "phone.jpg", exif=exif)
    assert read_photo(tmp_path / "phone.jpg").shape == (40, 20, 3)


def test_a_name_that_is_neither_a_file_nor_a_sample_is_refused() -> None:
    with pytest.raises(FileNotFoundError, match="neither an image file nor a scikit-image sample"):
        read_photo("no-such-photo.jpg")


def test_the_astronauts_face_is_found_and_cropped_with_the_loaders_margin(astronaut: np.ndarray) -> None:
    faces = photo_faces(astronaut, size=48)
    assert len(faces) == 1 and faces[0].crop.outcome == "one_face" and faces[0].crop.image.shape == (48, 48, 3)
    x0, y0, x1, y1 = faces[0].box
    left, top, side = faces[0].square
    assert side == round(1.4 * max(x1 - x0, y1 - y0))
    assert left <= x0 and top <= y0 and left + side >= x1 and top + side >= y1


def test_several_faces_are_each_found_largest_first(astronaut: np.ndarray) -> None:
    smaller = cv2.resize(astronaut[:, ::-1], None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    group = np.zeros((512, 512 + smaller.shape[1], 3), np.uint8)
    group[:, :512], group[:smaller.shape[0], 512:] = astronaut, smaller       # and her mirror image, smaller
    faces = photo_faces(group, size=32)
    areas = [(face.box[2] - face.box[0]) * (face.box[3] - face.box[1]) for face in faces]
    assert len(faces) == 2 and areas[0] > areas[1]
    assert all(face.crop.outcome == "one_face" for face in faces)


def test_without_a_face_the_centre_square_is_offered() -> None:
    faces = photo_faces(np.full((60, 100, 3), 128, np.uint8), size=32)
    assert len(faces) == 1 and faces[0].box is None and faces[0].crop.outcome == "no_face"
    assert faces[0].square == (20, 0, 60) and np.allclose(faces[0].crop.box, central_box(32))


def test_the_views_are_the_image_its_mirror_and_crops_resized_back() -> None:
    images = torch.randint(0, 256, (3, 3, 20, 20), dtype=torch.uint8)
    views = changed_views(images)
    assert list(views)[:2] == ["original", "mirrored"] and len(views) == 6
    assert torch.equal(views["original"], images) and torch.equal(views["mirrored"], images.flip(-1))
    assert all(view.shape == images.shape and view.dtype == torch.uint8 for view in views.values())
    flat = torch.full((1, 3, 20, 20), 77, dtype=torch.uint8)
    assert all(torch.equal(view, flat) for view in changed_views(flat).values())


def test_agreement_is_the_share_of_other_views_that_keep_the_originals_class() -> None:
    classes = torch.tensor([[0, 1], [0, 2], [1, 1], [0, 1]])             # (views, faces): face 0 keeps 2 of 3
    probabilities = nn.functional.one_hot(classes, 3).float() * 0.6 + 0.1
    views = ViewPredictions(("original", "a", "b", "c"), probabilities)
    assert views.predictions.tolist() == [0, 1]
    assert np.allclose(views.agreement, [2 / 3, 2 / 3]) and np.allclose(views.confidence, [0.7, 0.7])


def test_a_model_that_ignores_its_input_agrees_with_itself_in_every_view() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    nn.init.zeros_(model[1].weight)
    views = view_predictions(model, torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8),
                             lambda images: images.float() / 255, torch.device("cpu"))
    assert views.probabilities.shape == (6, 5, 4) and np.all(views.agreement == 1.0)
    assert torch.allclose(views.probabilities.sum(dim=2), torch.ones(6, 5))


def test_a_fine_tuned_classifier_loads_every_weight_and_names_its_classes(tmp_path: Path) -> None:
    cfg = make_config("smoke")
    for classes in (EMOTIONS_7, EMOTIONS_8):
        trained = classifier_model(cfg, len(classes)).eval()
        torch.save({"model": trained.state_dict(), "best": {"epoch": 1}}, tmp_path / "best.pt")
        loaded, names = load_classifier(cfg, tmp_path / "best.pt")
        images = torch.randn(2, 3, 32, 32)
        assert names == classes and torch.allclose(loaded.eval()(images), trained(images))


def test_an_mae_is_not_taken_for_a_classifier_and_loads_as_an_mae(tmp_path: Path) -> None:
    cfg = make_config("smoke")
    torch.save({"model": mae_model(cfg).state_dict()}, tmp_path / "mae.pt")
    with pytest.raises(CheckpointError, match="no classifier head"):
        load_classifier(cfg, tmp_path / "mae.pt")
    assert load_mae(cfg, tmp_path / "mae.pt").state_dict().keys() == mae_model(cfg).state_dict().keys()
    with pytest.raises(CheckpointError, match="does not fit"):
        load_mae(make_config("quick"), tmp_path / "mae.pt")


def test_the_photo_figures_draw(astronaut: np.ndarray) -> None:
    faces = photo_faces(astronaut, size=32)
    assert photo_with_faces(astronaut, faces, ["happy 40%"]).axes[0].patches
    face = torch.randn(3, 32, 32)
    card = face_card(face, torch.rand(4, 4), {"this face": np.full(7, 1 / 7)}, EMOTIONS_7, "face 1")
    assert len(card.axes) == 3 and len(face_card(face, None, {"x": np.ones(7)}, EMOTIONS_7).axes) == 2
    figure = against_reference({"confidence": np.random.rand(50)}, {"confidence": [0.5]})
    assert figure.axes[0].get_title() == "confidence"


@pytest.fixture(scope="module")
def smoke_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway zoo holding a smoke MAE and the classifier fine-tuned from it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_SSL_RUNS", str(tmp_path_factory.mktemp("zoo-runs")))
        patch.setenv("FER_SSL_CACHE", os.environ.get("FER_SSL_CACHE", str(tmp_path_factory.getbasetemp() / "cache")))
        patch.setenv("FER_SSL_ZOO", str(tmp_path_factory.mktemp("zoo")))
        build_entry(SMOKE_MAE)
        mae_path = str(Path(os.environ["FER_SSL_ZOO"]) / "mae-face-smoke.pt")
        build_entry(ZooRecipe(SMOKE_CLASSIFIER.name, SMOKE_CLASSIFIER.description,
                              tuple(mae_path if part == "MAE" else part for part in SMOKE_CLASSIFIER.argv)))
        yield Path(os.environ["FER_SSL_ZOO"])


def test_a_zoo_classifier_records_its_kind_classes_and_scores_and_loads_strictly(smoke_zoo: Path) -> None:
    entry = read_manifest()["classifier-face-smoke"]
    assert entry["kind"] == "classifier" and entry["domain"] == "face" and entry["class_names"] == list(EMOTIONS_7)
    assert entry["init_sha256"] == read_manifest()["mae-face-smoke"]["sha256"] and entry["images_seen"] == 384
    assert 0 <= entry["test_accuracy"] <= 1 and entry["best_epoch"] == 1
    model, names = zoo_classifier("classifier-face-smoke")
    stored = torch.load(smoke_zoo / "classifier-face-smoke.pt", weights_only=True)["model"]
    assert names == EMOTIONS_7 and model.state_dict().keys() == stored.keys()
    assert {value.dtype for value in stored.values()} == {torch.float16}
    assert torch.equal(model.head.weight, stored["head.weight"].float())


def test_zoo_for_tells_classifiers_from_maes(smoke_zoo: Path) -> None:
    cfg = make_config("smoke")
    assert zoo_for(cfg, "face") == smoke_zoo / "mae-face-smoke.pt"
    assert zoo_for(cfg, "face", kind="classifier") == smoke_zoo / "classifier-face-smoke.pt"
    assert zoo_for(make_config("smoke", image_size=48), "face", kind="classifier") is None
    with pytest.raises(ZooError, match="an MAE, not a classifier"):
        zoo_classifier("mae-face-smoke")


def committed_classifiers() -> list[str]:
    manifest = REAL_ZOO / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return [name for name, entry in entries.items() if entry.get("kind") == "classifier"]


@pytest.mark.skipif(not committed_classifiers(), reason="no classifier in the committed zoo")
def test_every_committed_zoo_classifier_verifies_loads_and_fits_its_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_SSL_ZOO", str(REAL_ZOO))
    for name in committed_classifiers():
        entry = read_manifest()[name]
        model, names = zoo_classifier(name)
        assert list(names) == entry["class_names"] and sum(p.numel() for p in model.parameters()) > 0
        cfg = make_config(entry["settings"]["profile"])
        assert zoo_for(cfg, entry["domain"], kind="classifier") == REAL_ZOO / f"{name}.pt"
