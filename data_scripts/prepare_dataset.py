"""Convert a real FER dataset into the fer-ssl cache and print the conversion report.

    python data_scripts/prepare_dataset.py --dataset rafdb --root /data/RAF-DB --image-size 112

Layouts, label maps, split rules, face handling and the cache location: data_scripts/README.md.
"""
from __future__ import annotations

import argparse
import sys

from fer_lib.data.real import DATASET_LOADERS, prepare_real_dataset
from fer_lib.data.real.ferplus import LABEL_MODES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(DATASET_LOADERS))
    parser.add_argument("--root", required=True, help="the dataset folder (layouts: data_scripts/README.md)")
    parser.add_argument("--image-size", type=int, default=48, help="stored side in pixels (default 48)")
    parser.add_argument("--margin", type=float, default=0.2,
                        help="face-crop margin: crop side = (1 + 2 margin) * face-box side (default 0.2)")
    parser.add_argument("--detect-faces", action=argparse.BooleanOptionalAction, default=None,
                        help="run the Haar face detector on every image, or on none (default: per dataset, see "
                             "README; ckplus, jaffe and imagefolder decide from a probe whether they are crops)")
    parser.add_argument("--label-mode", choices=LABEL_MODES, help="FERPlus training labels (default majority)")
    parser.add_argument("--val-fraction", type=float, help="val carved from train per class (default 0.1)")
    parser.add_argument("--test-fraction", type=float, help="folder sets without a split (default 0.1)")
    parser.add_argument("--seed", type=int, help="seed of carved splits (default 0)")
    parser.add_argument("--subject-regex", help="folder sets: regular expression whose first group, searched in "
                                                "each path under the root, is the subject (person)")
    parser.add_argument("--subject-csv", help="folder sets: CSV with columns file, subject")
    parser.add_argument("--folds", type=int, help="folder sets with subjects: k of k-fold cross-validation over "
                                                  "subjects (default 0: one split)")
    parser.add_argument("--fold", type=int, help="which fold (0..folds-1) is the test split (default 0)")
    parser.add_argument("--peak-frames", type=int, help="CK+ released layout: last frames per sequence (default 3)")
    parser.add_argument("--neutral-frames", type=int, help="CK+ released layout: first frames as neutral (default 0)")
    parser.add_argument("--force", action="store_true", help="delete and rebuild an existing cache")
    parser.add_argument("--max-files", type=int, default=20, help="skipped files and fallbacks listed (default 20)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = {name: getattr(args, name) for name in (
        "detect_faces", "label_mode", "val_fraction", "test_fraction", "seed", "subject_regex", "subject_csv", "folds",
        "fold", "peak_frames", "neutral_frames")}
    try:
        report = prepare_real_dataset(args.dataset, args.root, args.image_size, margin=args.margin,
                                      force=args.force, **{k: v for k, v in options.items() if v is not None})
    except ValueError as error:  # DatasetError included: bad input, named
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary(max_files=args.max_files))
    print(f"converted: {', '.join(report.converted)}" if report.converted else "already cached: nothing converted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
