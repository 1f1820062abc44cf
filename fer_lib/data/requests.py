"""What a training method asks each sample to carry: metadata, augmented views and partner images.

A method states a `SampleRequest`; `FaceDataset.requesting` checks that the data holds every key it needs and
`FaceDataset.__getitem__` serves it. A partner is another sample drawn uniformly for each anchor:
    sequence_neighbour            same sequence_id, another frame at most `max_frame_gap` away (TimeAug); with
                                  `frame_gap_weights` the gap d is drawn with those weights (d = 1, 2, ...)
    same_sequence_far             same sequence_id, a frame at least `min_far_gap` away (SSL-FER's HardNeg)
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

    def pick_far(self, group: int, key: int, min_gap: int, generator: torch.Generator | None) -> int:
        """A uniform index of `group` whose key lies at least `min_gap` from `key`, or -1 when there is none."""
        below = self._run(group, 0, key - min_gap) if key - min_gap >= 0 else (0, 0)
        above = self._run(group, key + min_gap, _KEY_MAX)
        count = (below[1] - below[0]) + (above[1] - above[0])
        if count <= 0:
            return -1
        position = int(torch.randint(count, (1,), generator=generator))
        position = below[0] + position if position < below[1] - below[0] else above[0] + position - (below[1] - below[0])
        return int(self.order[position])

    def weighted_neighbour(self, group: int, key: int, gap_weights: tuple[float, ...],
                           generator: torch.Generator | None) -> int:
        """An index of `group` with key key +- d, d drawn with `gap_weights` (d = 1, 2, ...) among the keys that
        exist, each side equally likely; -1 when none of them exists."""
        candidates, weights = [], []
        for gap, weight in enumerate(gap_weights, start=1):
            for other in (key - gap, key + gap):
                start, stop = self._run(group, other, other) if other >= 0 and weight > 0 else (0, 0)
                if stop > start:
                    candidates.append(int(self.order[start]))
                    weights.append(weight)
        if not candidates:
            return -1
        return candidates[int(torch.multinomial(torch.tensor(weights, dtype=torch.float64), 1, generator=generator))]

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
    """A sample sharing the anchor's `group` value with another `key` value: any (`reach` "any"), within the
    request's max_frame_gap ("near"), or at least its min_far_gap away ("far")."""

    group: str
    key: str
    reach: str = "any"

    def find(self, arrays: Mapping[str, np.ndarray], tables: PartnerTables, index: int, request: "SampleRequest",
             generator: torch.Generator | None = None) -> int:
        """The partner of anchor `index`, or -1. arrays: "label" and meta, (N,) int each; `tables` caches the
        sorted lookup per (group, key), built on first use."""
        group, key = int(arrays[self.group][index]), int(arrays[self.key][index])
        if group < 0 or key < 0:
            return -1
        if (self.group, self.key) not in tables:
            tables[self.group, self.key] = SortedPairs.of(arrays[self.group], arrays[self.key])
        table = tables[self.group, self.key]
        if self.reach == "far":
            return table.pick_far(group, key, request.min_far_gap, generator)
        if self.reach == "near" and request.frame_gap_weights:
            found = table.weighted_neighbour(group, key, request.frame_gap_weights, generator)
            if found >= 0:
                return found
        low, high = (max(key - request.max_frame_gap, 0), key + request.max_frame_gap) if self.reach == "near" else (0, _KEY_MAX)
        return table.pick(group, low, high, key, generator)


PARTNERS: dict[str, Partner] = {
    "sequence_neighbour": Partner("sequence_id", "frame_index", reach="near"),
    "same_person_other_expression": Partner("identity", "label"),
    "same_expression_other_person": Partner("label", "identity"),
    "same_sequence_far": Partner("sequence_id", "frame_index", reach="far"),
}


@dataclass(frozen=True)
class SampleRequest:
    """What every sample must carry for a method.

    meta:              keys added to the sample under their own name: meta arrays, or "face_box" / "soft_label" / "label"
    views:             augmented views of the image; > 1 makes sample["image"] a list of `views` (C, H, W) tensors
    images:            meta arrays holding a companion image per sample (N, H, W, C) uint8, e.g. the same expression
                       rendered on another face; each is served as one view, through the same transform
    partners:          PARTNERS kinds; each adds sample[kind] (`partner_views` views of the partner's image: one
                       tensor, or a list), f"{kind}_index" (int) and f"{kind}_found" (bool; False: the anchor stands
                       in for the missing partner)
    partner_views:     views of each partner image
    max_frame_gap:     the most frames a sequence neighbour may lie from its anchor
    frame_gap_weights: weights of a neighbour's gap d = 1, 2, ... (SSL-FER's TimeAug: 0, 5, 4, 3, 2, 1); empty =
                       uniform within max_frame_gap. Gaps are drawn among the frames that exist (uniform when none).
    min_far_gap:       the fewest frames a same_sequence_far partner lies from its anchor
    """

    meta: tuple[str, ...] = ()
    views: int = 1
    partners: tuple[str, ...] = ()
    max_frame_gap: int = 2
    images: tuple[str, ...] = ()
    partner_views: int = 1
    frame_gap_weights: tuple[float, ...] = ()
    min_far_gap: int = 12

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", tuple(self.meta))
        object.__setattr__(self, "partners", tuple(self.partners))
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "frame_gap_weights", tuple(float(w) for w in self.frame_gap_weights))
        unknown = [kind for kind in self.partners if kind not in PARTNERS]
        if unknown:
            raise ValueError(f"unknown partner {', '.join(unknown)}; known: {', '.join(PARTNERS)}")
        if min(self.views, self.partner_views, self.max_frame_gap, self.min_far_gap) < 1:
            raise ValueError(f"views, partner_views, max_frame_gap and min_far_gap must be >= 1, got {self.views}, "
                             f"{self.partner_views}, {self.max_frame_gap} and {self.min_far_gap}")
        if self.frame_gap_weights and (min(self.frame_gap_weights) < 0 or sum(self.frame_gap_weights) <= 0):
            raise ValueError(f"frame_gap_weights must be >= 0 with a positive sum, got {self.frame_gap_weights}")

    @property
    def needs(self) -> tuple[str, ...]:
        """Every dataset key the request reads: its meta keys, then what its partners group and key by."""
        partner_keys = (name for kind in self.partners for name in (PARTNERS[kind].group, PARTNERS[kind].key))
        return tuple(dict.fromkeys((*self.meta, *self.images, *partner_keys)))

    def merge(self, other: SampleRequest) -> SampleRequest:
        """The union of two requests: the keys, images and partners of both, the larger counts and gaps, the first's
        gap weights (else the other's)."""
        return SampleRequest(tuple(dict.fromkeys(self.meta + other.meta)), max(self.views, other.views),
                             tuple(dict.fromkeys(self.partners + other.partners)),
                             max(self.max_frame_gap, other.max_frame_gap),
                             images=tuple(dict.fromkeys(self.images + other.images)),
                             partner_views=max(self.partner_views, other.partner_views),
                             frame_gap_weights=self.frame_gap_weights or other.frame_gap_weights,
                             min_far_gap=max(self.min_far_gap, other.min_far_gap))
