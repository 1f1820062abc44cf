"""SynthFER: the embedded default dataset of procedurally rendered faces with known action units.

Generative story of one labeled image:
1. an identity (appearance + expression habits: a tilted class prior, resting AUs, expressivity);
2. a class y from the identity's prior (RAF-DB-like imbalance on average);
3. action units = resting AUs + intensity x jittered prototype of y (`PROTOTYPES`, EMFACS-like) + stray AUs,
   so weak, partial or mixed expressions are genuinely ambiguous (fear ~ surprise, disgust ~ anger, weak sad ~
   neutral);
4. annotator votes (FERPlus-like soft labels): each of `annotators` raters votes from a softmax over how well
   each prototype explains the AUs; the label is y (the posed class), so votes and labels may disagree;
5. on the training split only, `label_noise` of the labels are flipped to a class the raters found plausible
   (meta["true_label"] keeps the clean one);
6. a scene (pose, light, clutter, occluder, blur, noise) and the renderer in `synthfer_render`.

Splits: train / val / test draw their images from the same identities (like RAF-DB / FERPlus random splits),
so a model can profit from recognising people; the unlabeled face corpus uses other identities.
Every loader renders once and caches to `cache_dir()/synthfer/<hash of all generation parameters>`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from fer_lib.data.base import EMOTIONS_7, UNLABELED, DatasetSplits, FaceDataset
from fer_lib.data.cache import cache_exists, load_cache, save_cache
from fer_lib.data.general_images import GENERAL_KINDS, render_general_images
from fer_lib.data.synthfer_render import (AU_DESCRIPTIONS, AU_NAMES, LANDMARK_NAMES, Appearance, ArrayBatch, Scenes,
                                          drift_scenes, face_geometry, frontal_scenes, lab_scenes,
                                          render_faces, sample_appearance, sample_scenes, to_uint8)
from fer_lib.paths import cache_dir
from fer_lib.progress import progress

if TYPE_CHECKING:
    from fer_lib.data.spec import DataSpec

__all__ = ["AU_DESCRIPTIONS", "AU_NAMES", "LANDMARK_NAMES", "PROTOTYPES", "RAFDB_CLASS_PRIORS",
           "SEQUENCE_LABEL_THRESHOLD", "SynthFERSpec", "class_evidence", "face_swapped", "generate_stills", "load_general_images",
           "load_synthfer_sequences", "load_synthfer_splits", "load_unlabeled_faces", "render_face"]

SCENE_STYLES = ("wild", "lab")
GENERATOR_VERSION = 4                # bump whenever rendering or sampling changes: caches are keyed on it
RAFDB_CLASS_PRIORS = (0.21, 0.39, 0.16, 0.10, 0.02, 0.06, 0.06)  # RAF-DB train proportions, EMOTIONS_7 order
SEQUENCE_LABEL_THRESHOLD = 0.4       # a sequence frame is labeled with its expression at >= 40% of apex, else neutral
_CHUNK = 512                         # images per progress-bar step
_SUB_BATCH_PIXELS = 2 ** 17          # images rendered together: 32 at 64 px (each array fits half an L2 cache)


def _prototype_table() -> np.ndarray:
    """Prototypical AU intensities of the 7 classes (EMOTIONS_7 x AU_NAMES), after EMFACS."""
    prototypes = {
        "neutral": {},
        "happy": {"AU6": 0.8, "AU12": 1.0, "AU25": 0.5},
        "sad": {"AU1": 0.9, "AU4": 0.6, "AU15": 0.9},
        "surprise": {"AU1": 0.9, "AU2": 0.9, "AU5": 0.8, "AU25": 0.7, "AU26": 0.9},
        "fear": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.7, "AU5": 0.9, "AU20": 0.9, "AU25": 0.7, "AU26": 0.5},
        "disgust": {"AU4": 0.5, "AU9": 1.0, "AU15": 0.5, "AU25": 0.3},
        "anger": {"AU4": 1.0, "AU5": 0.6, "AU9": 0.3, "AU24": 0.9},
    }
    table = np.zeros((len(EMOTIONS_7), len(AU_NAMES)), np.float32)
    for row, emotion in enumerate(EMOTIONS_7):
        for au, value in prototypes[emotion].items():
            table[row, AU_NAMES.index(au)] = value
    return table


PROTOTYPES = _prototype_table()


@dataclass(frozen=True)
class SynthFERSpec:
    """Every parameter of SynthFER generation (all of it is hashed into the cache key)."""

    image_size: int = 48
    channels: int = 3
    num_identities: int = 200
    seed: int = 0
    label_noise: float = 0.0                 # fraction of training labels flipped
    class_priors: tuple[float, ...] = RAFDB_CLASS_PRIORS
    identity_tilt: float = 6.0               # Dirichlet concentration of per-identity class priors (low = strong tilt)
    annotators: int = 10
    annotator_temperature: float = 0.04      # softness of the raters' class evidence
    annotator_neutral_bias: float = 0.08     # raters say neutral unless an expression explains the AUs this much better
    occlusion_rate: float = 0.1              # share of 'wild' scenes with an occluder (hand, glasses, ...)
    scenes: str = "wild"                     # 'wild' (RAF-DB-like) or 'lab' (CK+-like), see `sample_scene_style`

    def __post_init__(self) -> None:
        if self.scenes not in SCENE_STYLES:
            raise ValueError(f"SynthFER scenes must be one of {SCENE_STYLES}, got {self.scenes!r}")

    @classmethod
    def from_data(cls, data: "DataSpec") -> "SynthFERSpec":
        return cls(image_size=data.image_size, channels=data.channels, num_identities=data.synthfer_identities,
                   seed=data.data_seed, label_noise=data.label_noise, scenes=data.synthfer_scenes)


def sample_scene_style(spec: SynthFERSpec, rng: np.random.Generator, n: int) -> Scenes:
    """`n` scenes of the spec's style: 'wild' varies pose, light, background clutter, occluders, blur and noise,
    as in-the-wild datasets do; 'lab' keeps faces near-frontal on a plain background, as posed lab datasets do."""
    return lab_scenes(rng, n) if spec.scenes == "lab" else sample_scenes(rng, n, spec.occlusion_rate)


@dataclass
class Habits(ArrayBatch):
    """How an identity tends to express: arrays with first dim = identities."""

    class_prior: np.ndarray    # (N, 7) this person's class probabilities
    resting_au: np.ndarray     # (N, 12) AUs present even on a neutral face ("resting sad face")
    expressivity: np.ndarray   # (N,) gain on expression intensity


def _rng(spec: SynthFERSpec, *stream: str) -> np.random.Generator:
    """Independent generator per named stream, so each split / corpus is reproducible on its own."""
    return np.random.default_rng([spec.seed, *(zlib.crc32(name.encode()) for name in stream)])


def sample_habits(rng: np.random.Generator, n: int, spec: SynthFERSpec) -> Habits:
    """`n` identities' habits: class priors ~ Dirichlet(tilt * priors), sparse resting AUs, expressivity."""
    priors = np.asarray(spec.class_priors, np.float64)
    class_prior = rng.dirichlet(spec.identity_tilt * priors / priors.sum(), n)
    resting = (rng.random((n, len(AU_NAMES))) < 0.15) * rng.uniform(0, 0.25, (n, len(AU_NAMES)))
    return Habits(class_prior=class_prior, resting_au=resting.astype(np.float32),
                  expressivity=rng.uniform(0.75, 1.15, n).astype(np.float32))


def sample_au(rng: np.random.Generator, labels: np.ndarray, habits: Habits, intensity: np.ndarray) -> np.ndarray:
    """Action units (N, 12) in [0, 1] for classes `labels` (N,) at `intensity` (N,), per-image habits rows.

    au = resting + expressivity * intensity * prototype * gain + stray, gain ~ U(0.6, 1.3) with 10% of the
    prototype's AUs dropped, and a 12% chance per AU of a stray activation ~ U(0, 0.35).
    """
    n, k = len(labels), len(AU_NAMES)
    gain = rng.uniform(0.6, 1.3, (n, k)) * (rng.random((n, k)) > 0.1)
    stray = (rng.random((n, k)) < 0.12) * rng.uniform(0, 0.35, (n, k))
    expression = PROTOTYPES[labels] * gain * (habits.expressivity * intensity)[:, None]
    return np.clip(habits.resting_au + expression + stray, 0, 1).astype(np.float32)


def sample_intensity(rng: np.random.Generator, n: int) -> np.ndarray:
    """Expression intensities in [0.1, 1], spread widely: strong, clear faces and weak, ambiguous ones."""
    return (0.1 + 0.9 * rng.beta(1.2, 1.2, n)).astype(np.float32)


def class_evidence(au: np.ndarray) -> np.ndarray:
    """How well each class explains the AUs: minus the squared residual of the best-scaled prototype, (N, 7).

    For class k with prototype P_k: s* = clip(<au, P_k> / |P_k|^2, 0, 1), evidence_k = -|au - s* P_k|^2
    (neutral: -|au|^2).
    """
    norms = np.maximum((PROTOTYPES ** 2).sum(axis=1), 1e-6)
    scale = np.clip(au @ PROTOTYPES.T / norms, 0, 1)                                   # (N, 7)
    residual = au[:, None, :] - scale[:, :, None] * PROTOTYPES[None]
    return -(residual ** 2).sum(axis=-1)


def annotator_votes(rng: np.random.Generator, au: np.ndarray, spec: SynthFERSpec) -> np.ndarray:
    """FERPlus-style soft labels (N, 7): vote fractions of `spec.annotators` raters, each sampling a class from
    softmax((evidence + neutral_bias * [class is neutral]) / temperature)."""
    evidence = class_evidence(au).astype(np.float64)
    evidence[:, EMOTIONS_7.index("neutral")] += spec.annotator_neutral_bias
    logits = evidence / spec.annotator_temperature
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return (rng.multinomial(spec.annotators, probs) / spec.annotators).astype(np.float32)


def flip_labels(rng: np.random.Generator, labels: np.ndarray, soft_labels: np.ndarray, rate: float) -> np.ndarray:
    """Flip round(rate * N) labels to another class, drawn in proportion to the raters' votes for the other
    classes (plus a small uniform floor), so noise follows real confusions (fear <-> surprise, ...)."""
    noisy = labels.copy()
    flipped = rng.choice(len(labels), int(round(rate * len(labels))), replace=False)
    weights = soft_labels[flipped].astype(np.float64) + 1e-3
    weights[np.arange(len(flipped)), labels[flipped]] = 0
    noisy[flipped] = sample_rows(rng, weights / weights.sum(axis=1, keepdims=True))
    return noisy


def sample_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of probabilities (N, K) -> indices (N,)."""
    return (probs.cumsum(axis=1) > rng.random((len(probs), 1))).argmax(axis=1)


def _identities(spec: SynthFERSpec, pool: str, count: int) -> tuple[Appearance, Habits]:
    """The appearance and habits of `count` identities of a pool ('labeled' or 'unlabeled')."""
    appearance = sample_appearance(_rng(spec, pool, "appearance"), count)
    return appearance, sample_habits(_rng(spec, pool, "habits"), count, spec)


def render_dataset(spec: SynthFERSpec, app: Appearance, au: np.ndarray, scenes: Scenes, rng: np.random.Generator,
                   name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render per-image appearance / AUs / scenes in chunks with a progress bar.

    Returns uint8 images (N, H, W, C), landmarks (N, K, 2) and face boxes (N, 4) in pixels.
    """
    size, n = spec.image_size, len(au)
    images = np.empty((n, size, size, spec.channels), np.uint8)
    sub_batch = max(1, _SUB_BATCH_PIXELS // size ** 2)
    with progress(total=n, desc=f"SynthFER {name}", unit="img") as bar:
        for start in range(0, n, _CHUNK):
            # One float buffer per chunk, freed after conversion: besides bounding memory, freeing a block this
            # large makes glibc keep the sub-batches' scratch memory instead of returning it to the OS (page
            # faults would otherwise cost ~40% of the time).
            chunk = np.empty((min(_CHUNK, n - start), 3, size, size), np.float32)
            for offset in range(0, len(chunk), sub_batch):
                idx = np.arange(start + offset, min(start + offset + sub_batch, start + len(chunk)))
                chunk[offset:offset + len(idx)] = render_faces(app.take(idx), au[idx], scenes.take(idx), size, rng)
            images[start:start + len(chunk)] = to_uint8(chunk, spec.channels)
            bar.update(len(chunk))
    landmarks, boxes = face_geometry(app, au, scenes, size)
    return images, landmarks, boxes


def _build_dataset(spec: SynthFERSpec, app: Appearance, identity: np.ndarray, labels: np.ndarray, au: np.ndarray,
           scenes: Scenes, rng: np.random.Generator, name: str, label_noise: float = 0.0, labeled: bool = True,
           sequence_id: np.ndarray | None = None, frame_index: np.ndarray | None = None) -> FaceDataset:
    """Render faces and package them with votes, (noisy) labels and metadata; labels (N,) are the clean classes."""
    n = len(labels)
    soft = annotator_votes(rng, au, spec) if labeled else None
    noisy = flip_labels(rng, labels, soft, label_noise) if labeled and label_noise > 0 else labels
    images, landmarks, boxes = render_dataset(spec, app.take(identity), au, scenes, rng, name)
    meta = {"identity": identity.astype(np.int64), "au": au, "landmarks": landmarks,
            "sequence_id": np.full(n, -1, np.int64) if sequence_id is None else sequence_id.astype(np.int64),
            "frame_index": np.zeros(n, np.int64) if frame_index is None else frame_index.astype(np.int64),
            "true_label": labels.astype(np.int64), "occluder": scenes.occluder.astype(np.int64)}
    return FaceDataset(images=images, labels=noisy if labeled else np.full(n, UNLABELED), class_names=EMOTIONS_7,
                       soft_labels=soft, face_boxes=boxes, meta=meta, name=name)


def _sample_stills(spec: SynthFERSpec, habits: Habits, num_images: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, Scenes]:
    """Identities (N,), classes (N,), action units (N, 12) and scenes of `num_images` still faces."""
    identity = rng.integers(0, len(habits), num_images)
    person = habits.take(identity)
    labels = sample_rows(rng, person.class_prior)
    au = sample_au(rng, labels, person, sample_intensity(rng, num_images))
    return identity, labels, au, sample_scene_style(spec, rng, num_images)


def generate_stills(spec: SynthFERSpec, num_images: int, split: str) -> FaceDataset:
    """`num_images` still faces of the labeled identities, in memory (no cache); `split` names the random stream.

    Label noise applies when split == "train".
    """
    app, habits = _identities(spec, "labeled", spec.num_identities)
    rng = _rng(spec, split)
    return _build_dataset(spec, app, *_sample_stills(spec, habits, num_images, rng), rng, f"synthfer-{split}",
                          label_noise=spec.label_noise if split == "train" else 0.0)


def _cached(key: dict, parts: tuple[str, ...], build: Callable[[], dict[str, FaceDataset]]) -> dict[str, FaceDataset]:
    """Load the `parts` cached under the hash of `key`, rendering them with `build` first if missing."""
    text = json.dumps({"generator_version": GENERATOR_VERSION, **key}, sort_keys=True)
    folder = cache_folder() / hashlib.sha1(text.encode()).hexdigest()[:12]
    if not all(cache_exists(folder / part) for part in parts):
        for part, dataset in build().items():
            save_cache(folder / part, dataset, extra=json.loads(text))
    return {part: load_cache(folder / part) for part in parts}


def cache_folder() -> Path:
    """Where SynthFER caches live: cache_dir()/synthfer."""
    return cache_dir() / "synthfer"


def load_synthfer_splits(data: "DataSpec", spec: SynthFERSpec | None = None) -> DatasetSplits:
    """Train / val / test of data.synthfer_train / val / test images (label noise on train only), cached."""
    spec = spec or SynthFERSpec.from_data(data)
    sizes = {"train": data.synthfer_train, "val": data.synthfer_val, "test": data.synthfer_test}
    parts = _cached({"kind": "splits", **dataclasses.asdict(spec), **sizes}, tuple(sizes),
                    lambda: {split: generate_stills(spec, n, split) for split, n in sizes.items()})
    return DatasetSplits(**parts)


def load_synthfer_sequences(data: "DataSpec", num_sequences: int, frames_per_sequence: int,
                            spec: SynthFERSpec | None = None, face_swap: bool = False) -> FaceDataset:
    """Short videos of the labeled identities: an expression rises from neutral to its apex and back.

    Frame t of T has intensity sin(pi t / (T - 1)) of the apex AUs (on top of the resting AUs); its label is the
    sequence's class when that intensity is >= SEQUENCE_LABEL_THRESHOLD, else neutral. The head drifts slowly.
    Sorted by (sequence_id, frame_index); meta["sequence_label"] holds the clip's class on every frame. With
    `face_swap`, meta["face_swap"] (N, H, W, C) holds every frame's expression on another face (`face_swapped`).
    """
    spec = spec or SynthFERSpec.from_data(data)
    key = {"kind": "sequences", **dataclasses.asdict(spec), "sequences": num_sequences, "frames": frames_per_sequence,
           **({"face_swap": True} if face_swap else {})}

    def build() -> dict[str, FaceDataset]:
        sequences = _generate_sequences(spec, num_sequences, frames_per_sequence)
        if face_swap:
            sequences.meta["face_swap"] = face_swapped(spec, sequences)
        return {"sequences": sequences}

    return _cached(key, ("sequences",), build)["sequences"]


def face_swapped(spec: SynthFERSpec, dataset: FaceDataset) -> np.ndarray:
    """SSL-FER's FaceSwap, exact on SynthFER: each image's action units (meta "au") rendered on another labeled
    identity, in a fresh scene of the same style. Same expression, other face: uint8 (N, H, W, C)."""
    app, _ = _identities(spec, "labeled", spec.num_identities)
    rng = _rng(spec, "face_swap")
    own = dataset.meta["identity"]
    other = (own + rng.integers(1, spec.num_identities, len(own))) % spec.num_identities
    images, _, _ = render_dataset(spec, app.take(other), dataset.meta["au"], sample_scene_style(spec, rng, len(own)),
                                  rng, "face swap")
    return images


def _generate_sequences(spec: SynthFERSpec, num_sequences: int, frames: int) -> FaceDataset:
    app, habits = _identities(spec, "labeled", spec.num_identities)
    rng = _rng(spec, "sequences")
    seq_identity = rng.integers(0, spec.num_identities, num_sequences)
    person = habits.take(seq_identity)
    expressive = person.class_prior[:, 1:] / person.class_prior[:, 1:].sum(axis=1, keepdims=True)
    seq_labels = 1 + sample_rows(rng, expressive)
    apex = sample_au(rng, seq_labels, person, rng.uniform(0.6, 1.0, num_sequences).astype(np.float32))
    phase = np.sin(np.pi * np.arange(frames) / max(frames - 1, 1)) if frames > 1 else np.ones(1)
    phase = phase.astype(np.float32)[None, :, None]                                      # (1, T, 1)
    au = (person.resting_au[:, None] + phase * (apex - person.resting_au)[:, None]).reshape(-1, len(AU_NAMES))
    frame_label = np.where(phase[0, :, 0][None] >= SEQUENCE_LABEL_THRESHOLD, seq_labels[:, None], 0).reshape(-1)
    dataset = _build_dataset(spec, app, np.repeat(seq_identity, frames), frame_label, au,
                             drift_scenes(sample_scene_style(spec, rng, num_sequences), frames, rng), rng,
                             "synthfer-sequences", sequence_id=np.repeat(np.arange(num_sequences), frames),
                             frame_index=np.tile(np.arange(frames), num_sequences))
    dataset.meta["sequence_label"] = np.repeat(seq_labels, frames).astype(np.int64)
    return dataset


def load_unlabeled_faces(data: "DataSpec", spec: SynthFERSpec | None = None) -> FaceDataset:
    """data.synthfer_unlabeled faces of other identities (ids after the labeled ones), labels UNLABELED.

    The face-recognition-corpus stand-in of the SSFER story: random expressions drawn like the labeled set;
    meta["true_label"] keeps the hidden class, e.g. to measure pseudo-label accuracy.
    """
    spec = spec or SynthFERSpec.from_data(data)
    n = data.synthfer_unlabeled
    key = {"kind": "unlabeled", **dataclasses.asdict(spec), "num_images": n}
    return _cached(key, ("unlabeled",), lambda: {"unlabeled": _generate_unlabeled(spec, n)})["unlabeled"]


def _generate_unlabeled(spec: SynthFERSpec, n: int) -> FaceDataset:
    app, habits = _identities(spec, "unlabeled", max(1, n // 10))
    rng = _rng(spec, "unlabeled")
    dataset = _build_dataset(spec, app, *_sample_stills(spec, habits, n, rng), rng, "synthfer-unlabeled",
                             labeled=False)
    dataset.meta["identity"] += spec.num_identities
    return dataset


def load_general_images(data: "DataSpec") -> FaceDataset:
    """data.synthfer_general procedural non-face images (MIMIC's general corpus); labels index GENERAL_KINDS."""
    spec = SynthFERSpec.from_data(data)
    n = data.synthfer_general
    key = {"kind": "general", "image_size": spec.image_size, "channels": spec.channels, "seed": spec.seed,
           "num_images": n}
    return _cached(key, ("general",), lambda: {"general": _generate_general(spec, n)})["general"]


def _generate_general(spec: SynthFERSpec, n: int) -> FaceDataset:
    rng = _rng(spec, "general")
    kinds = rng.integers(0, len(GENERAL_KINDS), n)
    images = np.empty((n, spec.image_size, spec.image_size, spec.channels), np.uint8)
    for start in progress(range(0, n, _CHUNK), desc="general images", unit="chunk"):
        part = kinds[start:start + _CHUNK]
        images[start:start + len(part)] = to_uint8(render_general_images(rng, part, spec.image_size), spec.channels)
    return FaceDataset(images=images, labels=kinds, class_names=GENERAL_KINDS, name="general-images")


def render_face(data: "DataSpec", identity: int, au: np.ndarray, spec: SynthFERSpec | None = None) -> np.ndarray:
    """One passport-style face of labeled identity `identity` with action units `au` (12,): uint8 (H, W, C)."""
    spec = spec or SynthFERSpec.from_data(data)
    app, _ = _identities(spec, "labeled", spec.num_identities)
    au = np.clip(np.asarray(au, np.float32).reshape(1, len(AU_NAMES)), 0, 1)
    rgb = render_faces(app.take(np.array([identity])), au, frontal_scenes(1), spec.image_size, np.random.default_rng(0))
    return to_uint8(rgb, spec.channels)[0]
