"""Who is in each image: subjects from file names (a regular expression) or from a CSV, and the check that a
split keeps them apart.

Known naming conventions (`naming`):
    ckplus  S010_004_00000017.png   subject S010 (CK+ and CK+48: subject, sequence, frame)
    jaffe   KA.AN1.39.tiff          subject KA (JAFFE: poser, expression and take, image number)
A `subject_regex` is searched in each image's path relative to the dataset root ("anger/S010_004_00000017.png");
its first group is the subject (the whole match when it has no group). A `subject_csv` has columns file, subject;
file is the path relative to the root, or the bare file name.

A subject source the user names must cover every image. A convention's pattern must cover every image or none;
none means the subjects are unknown (the split is then per image, and the report says so).
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from fer_lib.data.base import DatasetError
from fer_lib.data.real.common import Sample, read_csv, require_file

SUBJECT_PATTERNS = {"ckplus": r"(?:^|/)(S\d{3})_\d{3}_\d+", "jaffe": r"(?:^|/)([A-Z]{2})\.[A-Z]{2}\d*\.\d+"}
NAMING_EXAMPLES = {"ckplus": "S010_004_00000017.png", "jaffe": "KA.AN1.39.tiff"}
SUBJECT_CSV_COLUMNS = ("file", "subject")
HOW_TO_NAME = "pass subject_regex (its first group is the subject) or subject_csv (columns file, subject)"


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to `root`, with forward slashes ("anger/S010_004_00000017.png")."""
    return Path(os.path.relpath(path, root)).as_posix()


def subjects_by_regex(names: Sequence[str], pattern: str) -> list[str | None]:
    """The subject `pattern` finds in each name (its first group, else the whole match), None where it finds none."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise DatasetError(f"subject_regex {pattern!r} is not a regular expression ({error})") from None
    found = [compiled.search(name) for name in names]
    return [None if match is None else match.group(1 if compiled.groups else 0) for match in found]


def subjects_by_csv(names: Sequence[str], path: Path) -> list[str | None]:
    """The subject a CSV (columns file, subject) gives each name: by relative path, else by bare file name."""
    table = {row["file"].strip(): row["subject"].strip()
             for _, row in read_csv(require_file(path, "a CSV with columns file, subject"), SUBJECT_CSV_COLUMNS)}
    return [table.get(name, table.get(name.rsplit("/", 1)[-1])) for name in names]


def assign_subjects(samples: list[Sample], root: Path, subject_regex: str | None = None,
                    subject_csv: str | Path | None = None, naming: str | None = None) -> tuple[list[Sample], str]:
    """`samples` with meta "subject" set (the same list when subjects are unknown) and a note saying where the
    subjects came from. Source: `subject_csv`, else `subject_regex`, else the pattern of `naming`."""
    names = [relative_name(Path(s.source), root) for s in samples]
    if subject_csv:
        source, found = f"subject_csv {subject_csv}", subjects_by_csv(names, Path(subject_csv).expanduser())
    elif subject_regex:
        source, found = f"subject_regex {subject_regex!r}", subjects_by_regex(names, subject_regex)
    elif naming:
        source = f"{naming} file names ({NAMING_EXAMPLES[naming]}, pattern {SUBJECT_PATTERNS[naming]!r})"
        found = subjects_by_regex(names, SUBJECT_PATTERNS[naming])
        if all(subject is None for subject in found):
            return samples, (f"subjects unknown: no file name follows the {naming} naming "
                             f"({NAMING_EXAMPLES[naming]}); {HOW_TO_NAME}")
    else:
        return samples, f"subjects unknown: the files do not name the person; {HOW_TO_NAME}"
    missing = [name for name, subject in zip(names, found) if subject is None]
    if missing:
        raise DatasetError(f"{root}: {len(missing)} of {len(names)} images have no subject by {source}, e.g. "
                           f"{', '.join(missing[:3])}; every image needs a subject: {HOW_TO_NAME}")
    tagged = [replace(sample, meta={**sample.meta, "subject": subject}) for sample, subject in zip(samples, found)]
    return tagged, f"subjects from {source}: {len(set(found))} people"


def add_identities(splits: dict[str, list[Sample]]) -> dict[str, list[Sample]]:
    """Samples with meta "identity" (int64, the subject's index in sorted order over all splits), for methods that
    pair images of one person; unchanged when the subjects are unknown."""
    people = sorted({s.meta["subject"] for samples in splits.values() for s in samples if "subject" in s.meta})
    if not people:
        return splits
    index = {subject: np.int64(i) for i, subject in enumerate(people)}
    return {split: [replace(s, meta={**s.meta, "identity": index[s.meta["subject"]]}) for s in samples]
            for split, samples in splits.items()}


def subject_check(splits: dict[str, list[Sample]]) -> str:
    """In words: whether any subject appears in two splits (or that the subjects are unknown)."""
    people = {split: {s.meta["subject"] for s in samples if "subject" in s.meta} for split, samples in splits.items()}
    if not any(people.values()):
        return ("subjects unknown: the dataset does not name the person in each image, so one person may appear "
                "in train, val and test; results are not subject-independent")
    counts = ", ".join(f"{split} {len(names)}" for split, names in people.items())
    shared = sorted(name for name in set().union(*people.values())
                    if sum(name in names for names in people.values()) > 1)
    if not shared:
        return f"subject-independent: no person in two splits ({counts} people)"
    where = "; ".join(f"{name} in {', '.join(split for split, names in people.items() if name in names)}"
                      for name in shared[:3])
    return f"NOT subject-independent: {len(shared)} people in more than one split, e.g. {where} ({counts} people)"

