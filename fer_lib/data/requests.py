"""What a training method asks each sample to carry: metadata, augmented views and partner images.

A method states a `SampleRequest`; `FaceDataset.requesting` checks that the data holds every key it needs and
`FaceDataset.__getitem__` serves it. A partner is another sample drawn uniformly for each anchor:
    sequence_neighbour            same sequence_id, another frame at most `max_frame_gap` away (TimeAug)
    same_person_other_expression  same identity, another label (hard negative)
    same_expression_other_person  same label, another identity (FaceSwap-style positive)
A negative value means unknown (UNLABELED label, sequence_id -1): such a sample neither has nor serves a partner.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

_KEY_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class SortedPairs:
    """Dataset indices sorted by (group, key), so one group's members form a run ordered by key: 3 int64 (N,)."""

    order: np.ndarray   # (N,) dataset indices
    group: np.ndarray   # (N,) group values of `order`, ascending
    key: np.ndarray     # (N,) key values of `order`, ascending within a group

    @classmethod
    def of(cls, group: np.ndarray, key: np.ndarray) -> SortedPairs:
        order = np.lexsort((key, group))
        return cls(order, np.asarray(group)[order], np.asarray(key)[order])

    def _run(self, group: int, low: int, high: int) -> tuple[int, int]:
        """Positions [start, stop) of `group`'s members whose key lies in [low, high]."""
        start, stop = np.searchsorted(self.group, group, "left"), np.searchsorted(self.group, group, "right")
        keys = self.key[start:stop]
        return int(start + np.searchsorted(keys, low, "left")), int(start + np.searchsorted(keys, high, "right"))

    def pick(self, group: int, low: int, high: int, other_than: int, generator: torch.Generator | None) -> int:
        """A uniform index of `group` with key in [low, high] and key != other_than, or -1 when there is none."""
        start, stop = self._run(group, low, high)
        skip_start, skip_stop = self._run(group, other_than, other_than)
        skipped = max(min(skip_stop, stop) - max(skip_start, start), 0)
        if stop - start - skipped <= 0:
            return -1
        position = start + int(torch.randint(stop - start - skipped, (1,), generator=generator))
        return int(self.order[position if position < skip_start else position + skipped])


PartnerTables = dict[tuple[str, str], SortedPairs]


@dataclass(frozen=True)
class Partner:
    """A sample sharing the anchor's `group` value with another `key` value (within max_frame_gap when `near`)."""

    group: str
    key: str
    near: bool = False

    def find(self, arrays: Mapping[str, np.ndarray], tables: PartnerTables, index: int, max_frame_gap: int,
             generator: torch.Generator | None = None) -> int:
        """The partner of anchor `index`, or -1. arrays: "label" and meta, (N,) int each; `tables` caches the
        sorted lookup per (group, key), built on first use."""
        group, key = int(arrays[self.group][index]), int(arrays[self.key][index])
        if group < 0 or key < 0:
            return -1
        if (self.group, self.key) not in tables:
            tables[self.group, self.key] = SortedPairs.of(arrays[self.group], arrays[self.key])
        low, high = (max(key - max_frame_gap, 0), key + max_frame_gap) if self.near else (0, _KEY_MAX)
        return tables[self.group, self.key].pick(group, low, high, key, generator)


PARTNERS: dict[str, Partner] = {
    "sequence_neighbour": Partner("sequence_id", "frame_index", near=True),
    "same_person_other_expression": Partner("identity", "label"),
    "same_expression_other_person": Partner("label", "identity"),
}


@dataclass(frozen=True)
class SampleRequest:
    """What every sample must carry for a method.

    meta:          keys added to the sample under their own name: meta arrays, or "face_box" / "soft_label" / "label"
    views:         augmented views of the image; > 1 makes sample["image"] a list of `views` (C, H, W) tensors
    partners:      PARTNERS kinds; each adds sample[kind] (one view of the partner's image), f"{kind}_index" (int)
                   and f"{kind}_found" (bool; False: the anchor stands in for the missing partner)
    max_frame_gap: the most frames a sequence neighbour may lie from its anchor
    """

    meta: tuple[str, ...] = ()
    views: int = 1
    partners: tuple[str, ...] = ()
    max_frame_gap: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", tuple(self.meta))
        object.__setattr__(self, "partners", tuple(self.partners))
        unknown = [kind for kind in self.partners if kind not in PARTNERS]
        if unknown:
            raise ValueError(f"unknown partner {', '.join(unknown)}; known: {', '.join(PARTNERS)}")
        if self.views < 1 or self.max_frame_gap < 1:
            raise ValueError(f"views and max_frame_gap must be >= 1, got {self.views} and {self.max_frame_gap}")

    @property
    def needs(self) -> tuple[str, ...]:
        """Every dataset key the request reads: its meta keys, then what its partners group and key by."""
        partner_keys = (name for kind in self.partners for name in (PARTNERS[kind].group, PARTNERS[kind].key))
        return tuple(dict.fromkeys((*self.meta, *partner_keys)))

    def merge(self, other: SampleRequest) -> SampleRequest:
        """The union of two requests: the keys and partners of both, the larger number of views and frame gap."""
        return SampleRequest(tuple(dict.fromkeys(self.meta + other.meta)), max(self.views, other.views),
                             tuple(dict.fromkeys(self.partners + other.partners)),
                             max(self.max_frame_gap, other.max_frame_gap))
