"""CK+ (Lucey et al., 2010) in its released layout, or in a folder-per-class re-packaging such as CK+48.

Released:  <root>/cohn-kanade-images/S005/001/S005_001_00000001.png ...   (frames of each sequence, neutral first)
           <root>/Emotion/S005/001/S005_001_00000011_emotion.txt          (one number: the sequence's emotion,
                                                                           file named after its peak frame)
           (also accepted: extended-cohn-kanade-images/cohn-kanade-images/ and Emotion_labels/Emotion/)
Folders:   <root>/<class>/S010_004_00000017.png, e.g. CK+48 (`folders.list_class_folders`, naming "ckplus")
Labels:    CK+ 0..7 = neutral, anger, contempt, disgust, fear, happy, sadness, surprise -> EMOTIONS_8. Only the
           labelled sequences are used (327 of 593 in CK+); their last `peak_frames` frames up to the labelled one
           carry the emotion (3: 981 images, as CK+48); the first `neutral_frames` frames are neutral (0: no
           neutral class; 1: +327 images)
Subjects:  Sxxx, from the file names; meta "subject", "identity", and for the released layout "sequence_id" and
           "frame_index" (position in the sequence) so that sequence-based methods can pair frames
Splits:    by subject (`protocol.split_by_subject`): about 10% of the images in val and 10% in test, whole people,
           or fold `fold` of `folds`-fold cross-validation over subjects
Faces:     detect_faces "auto": released frames (640x490, face in the middle) go through detection, CK+48's 48 px
           crops are taken as crops
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from fer_lib.data.base import EMOTIONS_8, DatasetError
from fer_lib.data.real.common import FaceDetection, Sample, SourceSplits, list_images, require_dir
from fer_lib.data.real.folders import list_class_folders
from fer_lib.data.real.protocol import split_by_subject

logger = logging.getLogger(__name__)

IMAGE_DIRS = (Path("cohn-kanade-images"), Path("extended-cohn-kanade-images") / "cohn-kanade-images")
EMOTION_DIRS = (Path("Emotion"), Path("Emotion_labels") / "Emotion")
CKPLUS_EMOTIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sad", "surprise")  # codes 0..7
PEAK_FRAMES, NEUTRAL_FRAMES = 3, 0


def list_ckplus(root: str | Path, *, peak_frames: int = PEAK_FRAMES, neutral_frames: int = NEUTRAL_FRAMES,
                subject_regex: str | None = None, subject_csv: str | None = None, folds: int = 0, fold: int = 0,
                val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                detect_faces: FaceDetection = "auto") -> SourceSplits:
    """CK+ samples per split from whichever layout `root` holds (see the module docstring)."""
    folder = require_dir(root, "the CK+ folder (cohn-kanade-images/ and Emotion/, or class folders such as CK+48's)")
    protocol = dict(subject_regex=subject_regex, subject_csv=subject_csv, folds=folds, fold=fold,
                    val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    images_dir = next((folder / d for d in IMAGE_DIRS if (folder / d).is_dir()), None)
    if images_dir is None:
        if (peak_frames, neutral_frames) != (PEAK_FRAMES, NEUTRAL_FRAMES):
            raise DatasetError(f"{folder}: peak_frames and neutral_frames apply to CK+'s released layout "
                               f"({IMAGE_DIRS[0]}/ and {EMOTION_DIRS[0]}/), not to class folders")
        return list_class_folders(folder, detect_faces=detect_faces, naming="ckplus", **protocol)
    emotion_dir = next((folder / d for d in EMOTION_DIRS if (folder / d).is_dir()), None)
    if emotion_dir is None:
        raise DatasetError(f"{folder}: found {images_dir.relative_to(folder)}/ but no {EMOTION_DIRS[0]}/ folder; "
                           f"expected {EMOTION_DIRS[0]}/Sxxx/yyy/Sxxx_yyy_<frame>_emotion.txt label files")
    samples, notes = read_released(images_dir, emotion_dir, peak_frames, neutral_frames)
    splits, split_notes = split_by_subject({"all": samples}, folder, naming="ckplus", **protocol)
    return SourceSplits(EMOTIONS_8, splits, detect_faces, notes + split_notes)


def parse_emotion(path: Path) -> int:
    """Unified class index of one CK+ emotion file (a number such as "   3.0000000e+00")."""
    text = path.read_text().strip()
    try:
        code = float(text)
    except ValueError:
        code = -1.0
    if not code.is_integer() or not 0 <= code < len(CKPLUS_EMOTIONS):
        raise DatasetError(f"{path}: unknown CK+ emotion {text!r}; expected a number 0..7 "
                           f"({', '.join(f'{i} {name}' for i, name in enumerate(CKPLUS_EMOTIONS))})")
    return EMOTIONS_8.index(CKPLUS_EMOTIONS[int(code)])


def read_released(images_dir: Path, emotion_dir: Path, peak_frames: int, neutral_frames: int
                  ) -> tuple[list[Sample], list[str]]:
    """Peak (and neutral) frames of every labelled sequence, and notes with the counts."""
    if peak_frames < 1 or neutral_frames < 0:
        raise ValueError(f"peak_frames must be >= 1 and neutral_frames >= 0, got {peak_frames} and {neutral_frames}")
    label_files = sorted(emotion_dir.glob("S*/*/*_emotion.txt"))
    if not label_files:
        raise DatasetError(f"{emotion_dir}: no label files; expected Sxxx/yyy/Sxxx_yyy_<frame>_emotion.txt")
    samples, missing, short = [], [], 0
    for sequence_id, label_file in enumerate(label_files):
        label = parse_emotion(label_file)
        frames = list_images(images_dir / label_file.parent.relative_to(emotion_dir))
        if not frames:
            missing.append(str(label_file.parent.relative_to(emotion_dir)))
            continue
        peak_stem = label_file.name.removesuffix("_emotion.txt")
        end = next((i + 1 for i, frame in enumerate(frames) if frame.stem == peak_stem), len(frames))
        neutral_end = min(neutral_frames, max(end - peak_frames, 0))
        short += neutral_end < neutral_frames
        for index in [*range(neutral_end), *range(max(end - peak_frames, 0), end)]:
            samples.append(Sample(frames[index], label if index >= neutral_end else EMOTIONS_8.index("neutral"),
                                  meta={"sequence_id": np.int64(sequence_id), "frame_index": np.int64(index)}))
    sequences = sum(1 for path in images_dir.glob("S*/*") if path.is_dir())
    notes = [f"CK+ released layout: {len(label_files)} labelled sequences of {sequences}; the last {peak_frames} "
             f"frames up to the labelled one carry its emotion"
             + (f", the first {neutral_frames} are neutral" if neutral_frames else ", no neutral frames")]
    if short:
        notes.append(f"{short} sequences too short for {neutral_frames} neutral frames before the peak ones")
    if missing:
        notes.append(f"{len(missing)} labelled sequences have no frames in {images_dir}, skipped: "
                     f"{', '.join(missing[:5])}")
        logger.warning(notes[-1])
    if not samples:
        raise DatasetError(f"{images_dir}: no frames for any labelled sequence of {emotion_dir}")
    return samples, notes
