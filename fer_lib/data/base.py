"""The one in-memory dataset type every loader returns, and the unified label order.

Images are kept as uint8 arrays of shape (N, H, W, C) (a NumPy array or a read-only memmap of a cache
file), so a 2-core machine never decodes JPEGs during training. A transform turns one image into a float
tensor (or a list of views); `FaceDataset.__getitem__` returns a dict sample, carrying what a method's
`SampleRequest` asks for (metadata, extra views, partner images) once the dataset is `requesting` it.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torchvision import tv_tensors

from fer_lib.data.requests import PARTNERS, PartnerTables, SampleRequest

# Unified class order used by every dataset (7 basic classes; AffectNet-8 / FERPlus add contempt).
EMOTIONS_7 = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger")
EMOTIONS_8 = EMOTIONS_7 + ("contempt",)
UNLABELED = -1

Transform = Callable[[torch.Tensor], Any]


@contextmanager
def _seeded_cpu_rng(seed: int) -> Iterator[None]:
    """Run the block under torch's CPU RNG seeded with `seed`, then restore its state (a few µs, unlike
    torch.random.fork_rng, which also touches every accelerator's generator)."""
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(state)


class DatasetError(ValueError):
    """Bad input data: the message names the file and what was expected."""


@dataclass
class FaceDataset(torch.utils.data.Dataset):
    """Images with labels and optional per-sample metadata.

    images:      uint8 (N, H, W, C), C in {1, 3}
    labels:      int64 (N,), class index in `class_names` order, or UNLABELED (-1)
    class_names: names in unified order (EMOTIONS_7 / EMOTIONS_8, or others for non-FER corpora)
    soft_labels: float32 (N, K) vote distributions (rows sum to 1), or None
    face_boxes:  float32 (N, 4) x0, y0, x1, y1 in pixels of the stored image, or None
    meta:        extra per-sample arrays, first dim N (e.g. identity, au, landmarks, sequence_id, frame_index)
    transform:   uint8 CHW tensor -> float tensor or list of views; None gives float CHW in [0, 1]
    name:        short name for logs and reports
    request:     what each sample carries beyond image / label / index (set by `requesting`), or None
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    soft_labels: np.ndarray | None = None
    face_boxes: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    transform: Transform | None = None
    name: str = "dataset"
    request: SampleRequest | None = None
    _partner_tables: PartnerTables = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.dtype != np.uint8 or self.images.shape[-1] not in (1, 3):
            raise DatasetError(f"{self.name}: images must be uint8 (N, H, W, C) with C in 1 or 3, "
                               f"got {self.images.dtype} {self.images.shape}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        arrays = {"labels": self.labels, "soft_labels": self.soft_labels, "face_boxes": self.face_boxes,
                  **{f"meta[{k!r}]": v for k, v in self.meta.items()}}
        for key, value in arrays.items():
            if value is not None and len(value) != n:
                raise DatasetError(f"{self.name}: {key} has {len(value)} rows, expected {n} (one per image)")
        bad = (self.labels != UNLABELED) & ((self.labels < 0) | (self.labels >= len(self.class_names)))
        if bad.any():
            raise DatasetError(f"{self.name}: label {self.labels[bad][0]} outside 0..{len(self.class_names) - 1}"
                               f" ({', '.join(self.class_names)})")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])

    def image_tensor(self, index: int) -> torch.Tensor:
        """The stored image as uint8 (C, H, W)."""
        return torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1)

    def available_keys(self) -> tuple[str, ...]:
        """The keys a SampleRequest may ask of this dataset: meta keys, "face_box", "soft_label", "label"."""
        present = {"face_box": self.face_boxes is not None, "soft_label": self.soft_labels is not None,
                   "label": bool((self.labels != UNLABELED).any())}
        return tuple(sorted([*self.meta, *(key for key, has in present.items() if has)]))

    def requesting(self, request: SampleRequest, requester: str) -> "FaceDataset":
        """The same data (arrays shared) serving `request` for `requester` (a method's name, used in errors)."""
        available = self.available_keys()
        missing = [key for key in request.needs if key not in available]
        if missing:
            raise DatasetError(f"{requester} needs {', '.join(missing)} from dataset {self.name!r}, which has "
                               f"{', '.join(available) or 'none of the keys a request may ask'}")
        served = copy.copy(self)
        served.request = request
        return served

    def _view(self, index: int, array: np.ndarray | None = None) -> Any:
        """One transform of image `index` (float CHW in [0, 1] without a transform); of `array[index]`, a
        companion image (N, H, W, C), when given."""
        image = self.image_tensor(index) if array is None else torch.from_numpy(np.array(array[index])).permute(2, 0, 1)
        return image.float().div_(255) if self.transform is None else self.transform(image)

    def _boxed_view(self, index: int) -> tuple[Any, torch.Tensor]:
        """One transform of image `index` and its face box (4,) x0, y0, x1, y1, both through the same v2 transform
        call (the box as `tv_tensors.BoundingBoxes`), so the box follows the view's crop, resize and flip."""
        image = self.image_tensor(index)
        box = tv_tensors.BoundingBoxes(self.face_boxes[index][None], format="XYXY", canvas_size=tuple(image.shape[-2:]))
        view, box = (image.float().div_(255), box) if self.transform is None else self.transform(image, box)
        return view, box.as_subclass(torch.Tensor).reshape(4)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Sample dict: image, label, index (+ soft_label, face_box when present, + what `request` asks).

        `key` may be `(index, seed)` (see engine.sampler): the views, then the partners' choice and views, are
        drawn under that seed, so a sample is a pure function of (index, seed) whatever the number of workers.
        """
        index, seed = (key, None) if isinstance(key, (int, np.integer)) else key
        index, request = int(index), self.request or SampleRequest()
        with nullcontext() if seed is None else _seeded_cpu_rng(seed):
            if "face_box" in request.meta:                          # each view with its box, after its transform
                views, boxes = map(list, zip(*(self._boxed_view(index) for _ in range(request.views))))
            else:
                views, boxes = [self._view(index) for _ in range(request.views)], None
            sample: dict[str, Any] = {"image": views if request.views > 1 else views[0],
                                      "label": int(self.labels[index]), "index": index}
            if self.soft_labels is not None:
                sample["soft_label"] = torch.as_tensor(self.soft_labels[index], dtype=torch.float32)
            if boxes is not None:
                sample["face_box"] = boxes if request.views > 1 else boxes[0]
            elif self.face_boxes is not None:
                sample["face_box"] = torch.as_tensor(self.face_boxes[index], dtype=torch.float32)
            sample.update({name: torch.as_tensor(self.meta[name][index]) for name in request.meta if name in self.meta})
            sample.update({name: self._view(index, self.meta[name]) for name in request.images})
            arrays = {"label": self.labels, **self.meta}
            for kind in request.partners:
                partner = PARTNERS[kind].find(arrays, self._partner_tables, index, request)
                shown = partner if partner >= 0 else index
                partner_views = [self._view(shown) for _ in range(request.partner_views)]
                sample[kind] = partner_views if request.partner_views > 1 else partner_views[0]
                sample[f"{kind}_index"], sample[f"{kind}_found"] = shown, partner >= 0
        return sample

    def subset(self, indices: np.ndarray, name: str | None = None) -> "FaceDataset":
        """A new dataset holding only `indices` (every array sliced alike; images are copied into memory)."""
        indices = np.asarray(indices, dtype=np.int64)
        return FaceDataset(
            images=self.images[indices], labels=self.labels[indices], class_names=self.class_names,
            soft_labels=None if self.soft_labels is None else self.soft_labels[indices],
            face_boxes=None if self.face_boxes is None else self.face_boxes[indices],
            meta={k: v[indices] for k, v in self.meta.items()}, transform=self.transform,
            name=name or self.name, request=self.request)

    def with_transform(self, transform: Transform | None) -> "FaceDataset":
        """The same data with another transform (arrays and partner lookup tables are shared, not copied)."""
        transformed = copy.copy(self)
        transformed.transform = transform
        return transformed


@dataclass
class DatasetSplits:
    """Train / val / test splits of one dataset (val may be carved from train by the loader)."""

    train: FaceDataset
    val: FaceDataset
    test: FaceDataset
