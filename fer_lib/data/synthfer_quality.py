"""How hard is a FER dataset? Baselines that bracket what a model can reach on it.

- majority class: predict the most frequent training class;
- identity leakage: predict each test image's class from its identity alone (the identity's most frequent
  training class), i.e. what a model gains by recognising people instead of expressions;
- pixel logistic regression: a linear model on raw pixels (should be far below a CNN);
- small CNN: a few conv layers trained briefly with plain torch;
- AU oracle (SynthFER only): logistic regression on the true action units, the ceiling set by the designed
  ambiguity of the expressions (and by label noise).
All take a train and a test `FaceDataset` and return a test accuracy in [0, 1]. They run on one thread: these
models are small, timings stay reproducible, and multi-threaded BLAS stalls badly on a busy 2-core machine.
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from fer_lib.data.base import FaceDataset


def majority_class_accuracy(train: FaceDataset, test: FaceDataset) -> float:
    """Accuracy of always predicting the most frequent training label."""
    return float(np.mean(test.labels == np.bincount(train.labels, minlength=train.num_classes).argmax()))


def identity_leakage_accuracy(train: FaceDataset, test: FaceDataset) -> float:
    """Accuracy of predicting the most frequent training label of the test image's identity (meta["identity"]).

    Identities unseen in training fall back to the global majority class.
    """
    counts = np.zeros((max(train.meta["identity"].max(), test.meta["identity"].max()) + 1, train.num_classes))
    np.add.at(counts, (train.meta["identity"], train.labels), 1)
    counts += 1e-3 * np.bincount(train.labels, minlength=train.num_classes) / len(train)  # ties, unseen -> majority
    return float(np.mean(counts[test.meta["identity"]].argmax(axis=1) == test.labels))


@contextmanager
def single_thread() -> Iterator[None]:
    """Limit torch and the BLAS / OpenMP pools to one thread inside the block, restoring torch's setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(previous)


def _logistic_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                       regularisation: float, max_iter: int) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=max_iter))
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)            # max_iter is the budget
        model.fit(train_x, train_y)
        return float(np.mean(model.predict(test_x) == test_y))


def au_oracle_accuracy(train: FaceDataset, test: FaceDataset) -> float:
    """Logistic regression on the true action units (meta["au"]): the ceiling of an expression reader."""
    return _logistic_accuracy(train.meta["au"], train.labels, test.meta["au"], test.labels, 1.0, 1000)


def pixel_logreg_accuracy(train: FaceDataset, test: FaceDataset, regularisation: float = 1e-3,
                          max_iter: int = 100) -> float:
    """Logistic regression on raw pixels (standardised), inverse L2 strength `regularisation`."""
    flat = lambda data: np.asarray(data.images, np.float32).reshape(len(data), -1) / 255  # noqa: E731
    return _logistic_accuracy(flat(train), train.labels, flat(test), test.labels, regularisation, max_iter)


def vote_agreement(dataset: FaceDataset) -> float:
    """Fraction of images whose annotators' most voted class is the label (needs soft labels)."""
    return float(np.mean(dataset.soft_labels.argmax(axis=1) == dataset.labels))


class SmallCNN(nn.Sequential):
    """Four 3x3 conv blocks (BN, ReLU, 2x2 max-pool after the first three), global average pool, linear."""

    def __init__(self, channels: int, num_classes: int, width: int = 24) -> None:
        widths = [channels, width, 2 * width, 4 * width, 4 * width]
        blocks: list[nn.Module] = []
        for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            blocks += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if index < 3:
                blocks.append(nn.MaxPool2d(2))
        super().__init__(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(widths[-1], num_classes))


def _as_tensor(dataset: FaceDataset) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float (N, C, H, W) centred on 0."""
    return torch.from_numpy(np.array(dataset.images)).permute(0, 3, 1, 2).float().div_(255).sub_(0.5)


def _augment(images: torch.Tensor, generator: torch.Generator, shift: int = 4) -> torch.Tensor:
    """Random horizontal flip and translation by up to `shift` pixels (reflect padding) of a batch."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    size = images.shape[-1]
    padded = nn.functional.pad(images, (shift,) * 4, mode="reflect")
    dx, dy = torch.randint(0, 2 * shift + 1, (2,), generator=generator).tolist()
    return padded[..., dy:dy + size, dx:dx + size]


def small_cnn_accuracy(train: FaceDataset, test: FaceDataset, epochs: int = 10, batch_size: int = 64,
                       lr: float = 2e-3, seed: int = 0) -> tuple[float, float]:
    """Train `SmallCNN` on CPU for `epochs` (AdamW, cosine schedule, flip + shift augmentation).

    Returns (test accuracy, training seconds).
    """
    with single_thread():
        return _train_small_cnn(train, test, epochs, batch_size, lr, seed)


def _train_small_cnn(train: FaceDataset, test: FaceDataset, epochs: int, batch_size: int, lr: float,
                     seed: int) -> tuple[float, float]:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train_x, train_y, test_x = _as_tensor(train), torch.from_numpy(train.labels), _as_tensor(test)
    model = SmallCNN(train.channels, train.num_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * (len(train_x) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for batch in order[:len(order) // batch_size * batch_size].view(-1, batch_size):
            loss = nn.functional.cross_entropy(model(_augment(train_x[batch], generator)), train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(part).argmax(dim=1) for part in test_x.split(256)])
    return float((predictions.numpy() == test.labels).mean()), seconds


def separability_report(train: FaceDataset, test: FaceDataset, cnn_epochs: int = 0) -> dict[str, float]:
    """All baselines that apply to these datasets (AU oracle / leakage need SynthFER-like metadata)."""
    report = {"majority_class": majority_class_accuracy(train, test),
              "pixel_logreg": pixel_logreg_accuracy(train, test)}
    if "identity" in train.meta and "identity" in test.meta:
        report["identity_leakage"] = identity_leakage_accuracy(train, test)
    if "au" in train.meta and "au" in test.meta:
        report["au_oracle"] = au_oracle_accuracy(train, test)
    if test.soft_labels is not None:
        report["vote_agreement"] = vote_agreement(test)
    if cnn_epochs > 0:
        report["small_cnn"], report["small_cnn_seconds"] = small_cnn_accuracy(train, test, epochs=cnn_epochs)
    return report
