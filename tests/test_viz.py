"""Every figure helper draws small inputs without error and returns a Figure (Agg backend, no display)."""
from __future__ import annotations

from typing import Iterator

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fer_lib.data.base import EMOTIONS_7  # noqa: E402
from fer_lib.data.transforms import eval_transform  # noqa: E402
from fer_lib.viz.attention import attention_heads, attention_overlay  # noqa: E402
from fer_lib.viz.charts import comparison_bars, confusion_heatmap, training_curves  # noqa: E402
from fer_lib.viz.embedding import embedding_scatter  # noqa: E402
from fer_lib.viz.images import error_examples, image_grid, to_display  # noqa: E402

RNG = np.random.default_rng(0)
STORED = RNG.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)              # FaceDataset.images layout
LABELS = np.arange(10) % 7


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def normalised(images: np.ndarray) -> torch.Tensor:
    return eval_transform(16)(torch.from_numpy(images).permute(0, 3, 1, 2))


def test_normalised_tensors_display_as_the_stored_pixels() -> None:
    np.testing.assert_allclose(to_display(normalised(STORED)), STORED / 255, atol=1e-5)
    np.testing.assert_allclose(to_display(torch.from_numpy(STORED).permute(0, 3, 1, 2)), STORED / 255)


def test_image_grid_draws_stored_arrays_normalised_tensors_and_gray_images() -> None:
    for images in (STORED, normalised(STORED), STORED[..., :1]):
        fig = image_grid(images, titles=[f"#{i}" for i in range(10)], ncols=4)
        assert isinstance(fig, Figure) and len(fig.axes) == 12


def test_error_examples_show_only_misclassified_images() -> None:
    preds = LABELS.copy()
    preds[:3] = (preds[:3] + 1) % 7
    fig = error_examples(normalised(STORED), LABELS, preds, EMOTIONS_7, per_class=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true neutral\npred happy", "true happy\npred sad", "true sad\npred surprise"]


def test_attention_overlay_and_per_head_grid() -> None:
    maps = torch.rand(4, 4, 4)
    assert isinstance(attention_overlay(normalised(STORED)[0], maps[0], title="rollout"), Figure)
    _, ax = plt.subplots()
    assert attention_overlay(STORED[0], maps[0].numpy(), ax=ax) is ax.figure
    fig = attention_heads(normalised(STORED)[0], maps, ncols=3)
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes][:2] == ["image", "head 0"]


def test_confusion_heatmap_annotates_counts() -> None:
    confusion = RNG.integers(0, 20, (7, 7))
    confusion[3] = 0                                                         # a class with no test images
    fig = confusion_heatmap(confusion, EMOTIONS_7, title="test")
    assert {text.get_text() for text in fig.axes[0].texts} == {str(count) for count in confusion.flat}


def test_training_curves_for_one_run_and_for_several() -> None:
    history = [{"epoch": e, "train_loss": 2.0 / e, "lr": 1e-3, **({"val_acc": 0.1 * e} if e % 2 else {})}
               for e in range(1, 6)]
    assert len(training_curves(history, ["train_loss", ("val_acc", "lr")]).axes) == 2
    assert isinstance(training_curves({"mask 0.75": history, "mask 0.5": history}, ["val_acc"]), Figure)


def test_comparison_bars_from_a_methods_by_metrics_table() -> None:
    table = {"supervised": {"accuracy": 0.6, "macro_f1": 0.5}, "mae": {"accuracy": 0.7, "macro_f1": 0.65},
             "fixmatch": {"accuracy": 0.75}}
    fig = comparison_bars(table, ylabel="score", title="test split")
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == list(table)


def test_comparison_bars_print_each_value_and_label_a_reference_line() -> None:
    table = {"pixel logreg": {"test accuracy": 0.523}, "small CNN": {"test accuracy": 0.68}}
    ax = comparison_bars(table, references={"majority class": 0.383}, digits=3).axes[0]
    assert {text.get_text() for text in ax.texts} == {"0.523", "0.680"}
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [0.383]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["majority class (0.383)"]


def test_embedding_scatter_by_class_and_by_identity() -> None:
    embedding = RNG.normal(size=(10, 2))
    assert len(embedding_scatter(embedding, LABELS, EMOTIONS_7).axes) == 1
    assert len(embedding_scatter(embedding, LABELS, EMOTIONS_7, identities=RNG.integers(0, 30, 10)).axes) == 2
