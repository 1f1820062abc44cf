"""`DataSpec`: which images a run trains and tests on (the data part of a run's config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataSpec:
    """A dataset and its size. SynthFER's fields apply when `dataset` is "synthfer"; `data_root` and
    `data_options` (the loader's keyword arguments, e.g. {"label_mode": "probability"}) to real datasets."""

    dataset: str = "synthfer"          # synthfer | fer2013 | ferplus | rafdb | affectnet | ckplus | jaffe | imagefolder
    data_root: str = ""                # folder of a real dataset
    data_options: dict[str, Any] = field(default_factory=dict)
    image_size: int = 48
    channels: int = 3
    data_seed: int = 0                 # SynthFER's generation seed (the run's `seed` drives training)
    synthfer_train: int = 4000         # labeled SynthFER training images
    synthfer_val: int = 500
    synthfer_test: int = 1000
    synthfer_identities: int = 200
    synthfer_unlabeled: int = 6000     # unlabeled face corpus for face-domain MAE (SSFER story)
    synthfer_general: int = 6000       # general, non-face image corpus (MIMIC story)
    synthfer_scenes: str = "lab"       # lab (CK+-like: frontal, plain background) | wild (RAF-DB-like)
    label_noise: float = 0.0           # SynthFER only: fraction of training labels flipped to a rater-plausible class
    noise_kind: str = "none"           # noise injected on the training split of any dataset (data.noise):
                                       # none | symmetric | asymmetric (FER pairs) | votes (drawn from soft labels)
    noise_rate: float = 0.0            # flip probability of symmetric / asymmetric noise
    label_fraction: float = 1.0        # share of labeled training images kept per class (SSFER's 5/10/25%)
    face_corpus_root: str = ""         # image folder of unlabeled faces for MAE; empty = built-in corpus
    general_corpus_root: str = ""      # image folder of general images for MAE; empty = built-in corpus
