"""The conversion report: images and people per split and class, whether a person is in two splits, the face-crop
path and each outcome's count, skipped files and face-detector fallbacks.

Each split's part is stored in its cache manifest (`extra`), so the report of a cached dataset can be read
back without its source files.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_lib.data.cache import read_manifest_extra


@dataclass
class SplitReport:
    """What converting one split did.

    class_counts: stored images per class name
    faces:        stored images per face outcome (aligned, annotated, one_face, several_faces, no_face)
    fallbacks:    "file: what was done" for each several_faces / no_face image
    skipped:      "file: why" for each image that could not be read (missing, corrupt, truncated)
    people:       distinct subjects stored, or None when the dataset does not name them
    """

    split: str
    class_counts: dict[str, int]
    faces: dict[str, int]
    fallbacks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    people: int | None = None

    @property
    def num_images(self) -> int:
        return sum(self.class_counts.values())


@dataclass
class ConversionReport:
    """A converted dataset: where it came from, its options and notes, and a `SplitReport` per split.

    subjects:   in words, whether any person is in two splits, or that the dataset does not name its people
    face_crops: the face-crop path of the whole dataset and why (detector, crops, or a probe's decision)
    converted:  the splits converted by the call that returned this report (the others came from the cache)
    """

    dataset: str
    root: str
    image_size: int
    options: dict[str, Any]
    cache_folder: str
    notes: list[str]
    subjects: str = ""
    face_crops: str = ""
    splits: dict[str, SplitReport] = field(default_factory=dict)
    converted: list[str] = field(default_factory=list)

    def manifest_extra(self, split: SplitReport) -> dict[str, Any]:
        """The manifest `extra` of one split's cache: the dataset-level fields and that split's report."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name not in ("splits", "converted")}
        return {"conversion": fields, "split": dataclasses.asdict(split)}

    @classmethod
    def from_cache(cls, folder: Path, splits: tuple[str, ...]) -> "ConversionReport":
        """Read the report back from the manifests of `folder/<split>`."""
        extras = [read_manifest_extra(Path(folder) / split) for split in splits]
        report = cls(**extras[0]["conversion"])
        report.splits = {split: SplitReport(**extra["split"]) for split, extra in zip(splits, extras)}
        return report

    def summary(self, max_files: int = 10) -> str:
        """Readable report: the split protocol, counts of images and people per split and class, the face-crop
        path with each outcome's count, skipped files and fallbacks."""
        class_names = list(next(iter(self.splits.values())).class_counts)
        widths = [6, 8, 8, *(max(8, len(name) + 1) for name in class_names), 9, 11]

        def table_row(cells: list[object]) -> str:
            return f"{cells[0]:<{widths[0]}}" + "".join(f"{cell:>{w}}" for cell, w in zip(cells[1:], widths[1:]))

        options = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        lines = [f"{self.dataset} at {self.image_size}x{self.image_size} px from {self.root}",
                 f"cache: {self.cache_folder}", f"options: {options}", *(f"note: {n}" for n in self.notes),
                 *(f"{title}: {text}" for title, text in (("subjects", self.subjects), ("faces", self.face_crops))
                   if text),
                 table_row(["split", "images", "people", *class_names, "skipped", "fallbacks"])]
        lines += [table_row([split, part.num_images, "?" if part.people is None else part.people,
                             *part.class_counts.values(), len(part.skipped), len(part.fallbacks)])
                  for split, part in self.splits.items()]
        for split, part in self.splits.items():
            lines.append(f"faces {split}: " + ", ".join(f"{k} {v}" for k, v in sorted(part.faces.items()))
                         + " (per image: meta['face_outcome'])")
        for title, attribute in (("skipped (unreadable) files", "skipped"),
                                 ("face-detector fallbacks", "fallbacks")):
            entries = [f"  {split}: {entry}" for split, part in self.splits.items()
                       for entry in getattr(part, attribute)]
            if entries:
                lines.append(f"{title}: {len(entries)}")
                lines += entries[:max_files]
                if len(entries) > max_files:
                    lines.append(f"  ... {len(entries) - max_files} more in {self.cache_folder}/*/manifest.json")
        return "\n".join(lines)
