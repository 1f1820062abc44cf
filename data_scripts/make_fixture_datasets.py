"""Write tiny fake datasets in every published layout, to try the loaders without the real data.

    python data_scripts/make_fixture_datasets.py /tmp/fer-fixtures
    python data_scripts/prepare_dataset.py --dataset rafdb --root /tmp/fer-fixtures/rafdb

The writers live in fer_lib.data.real.fixtures (the tests use the same ones).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_lib.data.real.fixtures import FIXTURE_LAYOUTS, write_fixture_datasets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write <out>/<layout>/ into")
    parser.add_argument("--layout", action="append", choices=list(FIXTURE_LAYOUTS),
                        help="layout to write (repeatable; default all)")
    args = parser.parse_args(argv)
    for layout, root in write_fixture_datasets(args.out, args.layout or tuple(FIXTURE_LAYOUTS)).items():
        print(f"{layout:<18} python data_scripts/prepare_dataset.py --dataset {FIXTURE_LAYOUTS[layout][0]} "
              f"--root {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
