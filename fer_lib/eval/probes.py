"""Probes on frozen features: a linear probe (logistic regression) and a weighted k-NN classifier."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from fer_lib.eval.metrics import ArrayLike, ClassificationReport, as_numpy, classification_report


@dataclass(frozen=True)
class ProbeResult:
    """The C chosen on validation, the validation accuracy of every C, and the test report at the chosen C.

    classifier: the fitted StandardScaler + LogisticRegression; `classifier.decision_function(features)`
    gives (N, K) logits for other feature sets (e.g. cross-dataset transfer). unconverged_c: the Cs whose
    solver stopped at max_iter before converging (recorded here instead of printed as warnings).
    """

    c: float
    val_accuracy: float
    val_accuracy_per_c: dict[float, float]
    test: ClassificationReport
    classifier: Pipeline
    unconverged_c: tuple[float, ...] = ()


def linear_probe(train_features: ArrayLike, train_labels: ArrayLike, val_features: ArrayLike,
                 val_labels: ArrayLike, test_features: ArrayLike, test_labels: ArrayLike,
                 class_names: Sequence[str], c_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0),
                 max_iter: int = 2000) -> ProbeResult:
    """Standardised multinomial logistic regression on frozen features (N, D); C picked on validation only.

    For each inverse regularisation strength C in `c_grid` a probe is fitted on train and scored on val;
    the best C (the smallest on ties) is the only one ever applied to test.
    """
    probes, unconverged = {}, []
    for c in sorted(c_grid):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            probes[c] = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter)).fit(
                as_numpy(train_features), as_numpy(train_labels))
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            unconverged.append(c)
    val_accuracy = {c: float(probe.score(as_numpy(val_features), as_numpy(val_labels))) for c, probe in probes.items()}
    best_c = max(val_accuracy, key=lambda c: (val_accuracy[c], -c))
    test_preds = probes[best_c].predict(as_numpy(test_features))
    return ProbeResult(c=best_c, val_accuracy=val_accuracy[best_c], val_accuracy_per_c=val_accuracy,
                       test=classification_report(test_preds, test_labels, class_names),
                       classifier=probes[best_c], unconverged_c=tuple(unconverged))


@torch.no_grad()
def cosine_neighbours(queries: ArrayLike, keys: ArrayLike, k: int, exclude_self: bool = False,
                      batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The k keys most cosine-similar to each query: (similarities (Q, k), indices (Q, k)), best first.

    queries (Q, D), keys (M, D). exclude_self: queries are the keys themselves, so row i skips key i.
    """
    queries = F.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=1)
    keys = F.normalize(torch.as_tensor(keys, dtype=torch.float32), dim=1)
    similarities, indices = [], []
    for start in range(0, len(queries), batch_size):
        block = queries[start:start + batch_size] @ keys.T                       # (B, M)
        if exclude_self:
            rows = torch.arange(len(block))
            block[rows, rows + start] = -torch.inf
        top = block.topk(k, dim=1)
        similarities.append(top.values)
        indices.append(top.indices)
    return torch.cat(similarities), torch.cat(indices)


def knn_classify(train_features: ArrayLike, train_labels: ArrayLike, query_features: ArrayLike, k: int,
                 num_classes: int, temperature: float = 0.07, batch_size: int = 1024) -> torch.Tensor:
    """Cosine k-NN vote as in DINO: score_c = sum over the k nearest of exp(sim / temperature) * [label = c].

    train (M, D) with labels (M,), queries (Q, D) -> class scores (Q, num_classes); the prediction is the
    argmax, and the scores go straight into `classification_report`.
    """
    similarities, indices = cosine_neighbours(query_features, train_features, k, batch_size=batch_size)
    neighbour_labels = torch.as_tensor(as_numpy(train_labels), dtype=torch.int64, device=indices.device)[indices]
    weights = (similarities / temperature).exp()                                       # (Q, k)
    scores = torch.zeros(len(indices), num_classes, device=indices.device)
    return scores.scatter_add_(1, neighbour_labels, weights)
