"""FERPlus (Barsoum et al., 2016): the FER2013 images relabelled by 10 annotators into 8 classes.

Layout:  <root>/fer2013.csv     the FER2013 CSV (images)
         <root>/fer2013new.csv  columns Usage, Image name, neutral, happiness, surprise, sadness, anger,
                                disgust, fear, contempt, unknown, NF (vote counts); row i labels fer2013.csv row i
Splits:  Usage Training -> train, PublicTest -> val, PrivateTest -> test
Labels:  vote columns neutral, happiness, surprise, sadness, anger, disgust, fear, contempt -> EMOTIONS_8
         labels      = the emotion with the most votes
         soft_labels = the 8 emotion votes normalised to sum 1 (every mode)
         meta votes  = the 10 raw vote counts, uint8 (N, 10), so any FERPlus target can be rebuilt
Modes:   `label_mode` picks which training rows are kept, by the FERPlus authors' `_process_data` rule
         (`ferplus_target`); val and test always use "majority", as the authors evaluate:
         majority      one emotion holds more than half of the votes (after single-vote outliers are removed)
         probability   the top emotions (at most 3) cover 75% of the votes and unknown/NF is not among them
         multi_target  the emotions with >= 30% of the votes together hold more than half
         Rows with an empty image name, or whose target is unknown / not-a-face, are dropped in every mode.
Faces:   aligned crops: no detection by default; face box = the central box
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lib.data.base import EMOTIONS_8, DatasetError
from fer_lib.data.real.common import SPLITS, Sample, SourceSplits, read_csv, require_file
from fer_lib.data.real.fer2013 import parse_usage, read_fer2013

FERPLUS_CSV = "fer2013new.csv"
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "NF")
NUM_EMOTIONS = 8  # the vote columns before unknown and NF
# unified index of each FERPlus emotion column
FERPLUS_TO_UNIFIED = (0, 1, 3, 2, 6, 5, 4, 7)
LABEL_MODES = ("majority", "probability", "multi_target")


def require_label_mode(mode: str) -> None:
    if mode not in LABEL_MODES:
        raise ValueError(f"FERPlus label_mode must be one of {LABEL_MODES}, got {mode!r}")


def ferplus_target(votes: np.ndarray, mode: str) -> np.ndarray | None:
    """The FERPlus authors' training target (`FERPlusReader._process_data`) over the 10 vote columns,
    or None when the image counts as unknown / not-a-face and is dropped.

    votes: (10,) counts in VOTE_COLUMNS order. Single votes are removed as outliers first; then
    majority keeps the top emotion if it holds > 50% of the votes; probability takes the top emotions
    (ties together, at most 3) until they cover 75%, stopping at unknown/NF; multi_target keeps every
    emotion with >= 30%. Fewer than half the votes covered (or more than 3 emotions) -> None.
    """
    require_label_mode(mode)
    votes = np.where(votes <= 1, 0.0, votes.astype(np.float64))
    total = votes.sum()
    target = np.zeros_like(votes)
    count = 0
    if mode == "majority":
        top = int(np.argmax(votes))
        if votes[top] > 0.5 * total:
            target[top] = votes[top]
    elif mode == "multi_target":
        target = np.where(votes >= 0.3 * total, votes, 0.0)
    else:
        remaining, covered, valid = votes.copy(), 0.0, True
        while covered < 0.75 * total and count < 3 and valid:
            top_value = remaining.max()
            for column in np.flatnonzero(remaining == top_value):
                target[column], remaining[column] = top_value, 0.0
                covered += top_value
                count += 1
                if column >= NUM_EMOTIONS:  # unknown / NF reached: stop, keep it only if nothing came before
                    valid = False
                    if target.sum() > top_value:
                        target[column] = 0.0
                        count -= 1
                    break
    if target.sum() <= 0.5 * total or count > 3 or np.argmax(target) >= NUM_EMOTIONS:
        return None
    return target


def list_ferplus(root: str | Path, *, label_mode: str = "majority", detect_faces: bool = False) -> SourceSplits:
    """FERPlus samples per split (see the module docstring)."""
    require_label_mode(label_mode)
    images_path, images = read_fer2013(root)
    labels_path = require_file(images_path.parent / FERPLUS_CSV,
                               f"the FERPlus label CSV (columns Usage, Image name, {', '.join(VOTE_COLUMNS)})")
    rows = list(read_csv(labels_path, ("Usage", "Image name", *VOTE_COLUMNS)))
    if len(rows) != len(images):
        raise DatasetError(f"{labels_path}: {len(rows)} label rows but {images_path} has {len(images)} image "
                           f"rows; row i of one must describe row i of the other")
    splits: dict[str, list[Sample]] = {split: [] for split in SPLITS}
    dropped = {"no image name": 0, "unknown / not-a-face": 0}
    for (line, row), image in zip(rows, images):
        where = f"{labels_path} line {line}"
        split = parse_usage(row["Usage"], where)
        votes = np.array([_parse_votes(row[c], where, c) for c in VOTE_COLUMNS], dtype=np.uint8)
        target = ferplus_target(votes, label_mode if split == "train" else "majority")
        if not row["Image name"].strip():
            dropped["no image name"] += 1
        elif target is None:
            dropped["unknown / not-a-face"] += 1
        else:
            emotion_votes = votes[:NUM_EMOTIONS].astype(np.float32)
            soft_label = np.zeros(len(EMOTIONS_8), dtype=np.float32)
            soft_label[list(FERPLUS_TO_UNIFIED)] = emotion_votes / emotion_votes.sum()
            splits[split].append(Sample(image.pixels, FERPLUS_TO_UNIFIED[int(np.argmax(target))], soft_label,
                                        meta={"votes": votes}, origin=f"{images_path} line {image.line}"))
    notes = [f"FERPlus label_mode {label_mode!r} for train, 'majority' for val and test",
             *(f"rows dropped ({why}): {n}" for why, n in dropped.items() if n)]
    return SourceSplits(EMOTIONS_8, splits, detect_faces, notes)


def _parse_votes(text: str, where: str, column: str) -> int:
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        value = -1
    if not 0 <= value <= 255:
        raise DatasetError(f"{where}: column {column} holds {text!r}; expected a vote count 0..255")
    return value
