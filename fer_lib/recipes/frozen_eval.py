"""The frozen-encoder evaluation every method notebook shares (CRS-CONT's and SSL-FER's protocols).

For one encoder, on features of un-augmented images:
- linear probe (C chosen on val) and cosine k-NN on the labeled splits;
- label efficiency: the probe trained on `fractions` of the training labels (SSFER's per-class draw,
  max(1, round(p * n_c)) images of class c, seeded), its C chosen on the full val split (from a 3-value grid below
  100% of the labels, the full grid at 100%);
- identity leakage (SSL-FER): on faces of people held out from training, leave-one-out 1-NN identity accuracy and
  the same 1-NN's expression accuracy (lower identity accuracy at equal expression accuracy is the aim), plus
  expression and identity neighbour purity;
- cross-dataset transfer: the probe trained on the run's data, tested on other test sets (on SynthFER: wild
  scenes instead of lab scenes, and new people; with real data any loaders, via `transfer_sets`).

An evaluation is stored in runs/<profile>/frozen-<checkpoint name>-<hash>/evaluation.pt, named by what decides its
numbers (the checkpoint's content, the encoder, probe and seed settings, the label shares, and the content of every
dataset it reads), so a notebook that evaluates an encoder another one already evaluated (08 after 04) reads it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from fer_lib.config import RunConfig
from fer_lib.data.base import DatasetSplits, FaceDataset
from fer_lib.data.registry import label_subset, load_splits
from fer_lib.eval.embedding import neighbour_purity
from fer_lib.engine.checkpoint import save_atomic
from fer_lib.eval.probes import cosine_neighbours, knn_classify, linear_probe
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.recipes.finetune import init_identity
from fer_lib.recipes.probe import frozen_features
from fer_lib.report import write_json_atomic
from fer_lib.runs import plain_json, run_path

LABEL_FRACTIONS = (0.01, 0.05, 0.1, 0.25, 1.0)
FRACTION_C_GRID = (1e-2, 1e-1, 1.0)     # the probes on a share of the labels choose C among these
HELD_OUT_PEOPLE = "new people"


@dataclass
class FrozenEvaluation:
    """What `evaluate_frozen` measured for one encoder. *_correct: per-image 0/1 arrays (for paired comparisons)."""

    label: str
    probe_accuracy: float
    probe_correct: np.ndarray
    knn_accuracy: float
    label_efficiency: dict[float, float]
    label_efficiency_correct: dict[float, np.ndarray]
    identity_accuracy: float               # 1-NN identity accuracy on held-out people (lower: less leakage)
    identity_correct: np.ndarray
    held_out_expression_accuracy: float    # the same 1-NN's expression accuracy on held-out people
    expression_purity: float               # share of the 10 nearest test neighbours with the same expression
    identity_purity: float
    transfer: dict[str, float] = field(default_factory=dict)
    transfer_correct: dict[str, np.ndarray] = field(default_factory=dict)
    test_features: torch.Tensor | None = None

    def record(self) -> dict[str, Any]:
        """Every field as plain values and tensors (what a weights-only torch file holds)."""
        def plain(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return torch.from_numpy(value)
            return {key: plain(item) for key, item in value.items()} if isinstance(value, dict) else value
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FrozenEvaluation:
        """The evaluation `record` holds (the *_correct arrays back to numpy)."""
        def arrays(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return value.numpy()
            return {key: arrays(item) for key, item in value.items()} if isinstance(value, dict) else value
        return cls(**{name: value if name == "test_features" else arrays(value) for name, value in record.items()})

    def scalars(self) -> dict[str, float]:
        """Every scalar, keyed for a metrics file."""
        return {"probe_acc": self.probe_accuracy, "knn_acc": self.knn_accuracy,
                **{f"probe_acc_{round(100 * p)}pct_labels": acc for p, acc in self.label_efficiency.items()},
                "identity_1nn_acc": self.identity_accuracy,
                "held_out_expression_1nn_acc": self.held_out_expression_accuracy,
                "expression_purity": self.expression_purity, "identity_purity": self.identity_purity,
                **{f"transfer_acc_{name.replace(' ', '_')}": acc for name, acc in self.transfer.items()}}


def transfer_sets(cfg: RunConfig) -> dict[str, FaceDataset]:
    """Test sets of other data for the transfer columns: on SynthFER, wild scenes (the run's are lab, else lab)
    and new people (another generator seed: identities no encoder has seen); on real data, none by default."""
    if cfg.data.dataset != "synthfer":
        return {}
    small = {"synthfer_train": cfg.data.synthfer_val, "synthfer_val": cfg.data.synthfer_val}
    other_scenes = "wild" if cfg.data.synthfer_scenes == "lab" else "lab"
    return {f"{other_scenes} scenes": load_splits(cfg.replace(synthfer_scenes=other_scenes, **small).data).test,
            HELD_OUT_PEOPLE: load_splits(cfg.replace(data_seed=cfg.data.data_seed + 1, **small).data).test}


def _one_nn_accuracy(features: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """Leave-one-out cosine 1-NN: (N,) 0/1 whether each sample's nearest other sample shares its label."""
    _, nearest = cosine_neighbours(features, features, k=1, exclude_self=True)
    return (labels[nearest[:, 0].numpy()] == labels).astype(np.float64)


def content_digest(dataset: FaceDataset) -> str:
    """SHA-256 of what an evaluation reads from `dataset`: its images, labels and identities."""
    digest = hashlib.sha256()
    for array in (dataset.images, dataset.labels, dataset.meta.get("identity")):
        if array is not None:
            digest.update(str((array.dtype, array.shape)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def evaluate_frozen(cfg: RunConfig, init: Path | str | None, splits: DatasetSplits,
                    transfer: Mapping[str, FaceDataset], device: torch.device, label: str,
                    fractions: tuple[float, ...] = LABEL_FRACTIONS) -> FrozenEvaluation:
    """Every frozen-encoder measure of the module docstring for the encoder of `init` (None: random weights).
    `transfer` names extra test sets (see `transfer_sets`); the one named HELD_OUT_PEOPLE, when it carries
    meta "identity", is where identity leakage is measured (else the test split is). An evaluation stored with
    the same identity (module docstring) is read instead of measured again; `label` only names the result."""
    datasets = {"train": splits.train, "val": splits.val, "test": splits.test, **transfer}
    identity = {"recipe": "frozen_eval", "init": init_identity(None if init is None else Path(init)),
                "arch": cfg.arch, "probe": cfg.probe, "seed": cfg.seed, "fractions": sorted(fractions),
                "image": [cfg.data.image_size, cfg.data.channels],
                "datasets": {name: content_digest(dataset) for name, dataset in datasets.items()}}
    folder = run_path(cfg.profile, "frozen", "random" if init is None else Path(init).stem, identity)
    if (folder / "evaluation.pt").is_file():
        return dataclasses.replace(FrozenEvaluation.from_record(read_checkpoint(folder / "evaluation.pt")),
                                   label=label)
    evaluation = _measure(cfg, init, splits, datasets, transfer, device, label, fractions)
    write_json_atomic(folder / "run.json", {"kind": "frozen", "label": label, "identity": plain_json(identity)})
    save_atomic(evaluation.record(), folder / "evaluation.pt")
    return evaluation


def _measure(cfg: RunConfig, init: Path | str | None, splits: DatasetSplits, datasets: Mapping[str, FaceDataset],
             transfer: Mapping[str, FaceDataset], device: torch.device, label: str,
             fractions: tuple[float, ...]) -> FrozenEvaluation:
    """`evaluate_frozen`'s measurement, without the store."""
    features, labels = frozen_features(cfg, init, datasets, device, splits.train.num_classes)
    labels = {name: value.numpy() for name, value in labels.items()}
    class_names = splits.train.class_names
    test_labels = labels["test"]
    efficiency, efficiency_correct = {}, {}
    with threadpool_limits(1, user_api="blas"):        # small matrices: one BLAS thread is fastest
        for fraction in sorted(fractions, reverse=True):
            kept = label_subset(labels["train"], fraction, cfg.seed) if fraction < 1 else np.arange(len(labels["train"]))
            probe = linear_probe(features["train"][kept], labels["train"][kept], features["val"], labels["val"],
                                 features["test"], test_labels, class_names,
                                 **({} if fraction == 1.0 else {"c_grid": FRACTION_C_GRID}))
            efficiency_correct[fraction] = probe.classifier.predict(features["test"].numpy()) == test_labels
            efficiency[fraction] = float(efficiency_correct[fraction].mean())
            if fraction == 1.0:
                full_probe = probe
    if 1.0 not in efficiency:
        raise ValueError(f"fractions must include 1.0 (the full probe), got {fractions}")
    knn_scores = knn_classify(features["train"], labels["train"], features["test"], cfg.probe.knn_k, len(class_names))
    knn_accuracy = float((knn_scores.argmax(dim=1).numpy() == test_labels).mean())
    people = HELD_OUT_PEOPLE if HELD_OUT_PEOPLE in transfer and "identity" in transfer[HELD_OUT_PEOPLE].meta else "test"
    identities = datasets[people].meta.get("identity")
    identity_correct = (_one_nn_accuracy(features[people], identities) if identities is not None
                        else np.full(len(labels[people]), np.nan))          # no person known: leakage unmeasured
    expression_correct = _one_nn_accuracy(features[people], labels[people])
    transfer_correct = {name: full_probe.classifier.predict(features[name].numpy()) == labels[name]
                        for name in transfer}
    return FrozenEvaluation(
        label=label, probe_accuracy=efficiency[1.0], probe_correct=efficiency_correct[1.0], knn_accuracy=knn_accuracy,
        label_efficiency=efficiency, label_efficiency_correct=efficiency_correct,
        identity_accuracy=float(identity_correct.mean()), identity_correct=identity_correct,
        held_out_expression_accuracy=float(expression_correct.mean()),
        expression_purity=neighbour_purity(features["test"], test_labels),
        identity_purity=neighbour_purity(features["test"], splits.test.meta["identity"])
        if "identity" in splits.test.meta else float("nan"),
        transfer={name: float(hits.mean()) for name, hits in transfer_correct.items()},
        transfer_correct=transfer_correct, test_features=features["test"])
