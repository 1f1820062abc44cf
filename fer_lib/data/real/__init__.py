"""Real FER datasets (FER2013, FERPlus, RAF-DB, AffectNet, CK+, JAFFE, image folders) through one interface.

Layouts, label maps, split rules and face handling are documented in data_scripts/README.md and in the
docstring of each dataset's module.
"""
from fer_lib.data.real.loaders import (
    DATASET_LOADERS, load_real_splits, load_unlabeled_folder, prepare_real_dataset)
from fer_lib.data.real.report import ConversionReport

__all__ = ["DATASET_LOADERS", "ConversionReport", "load_real_splits", "load_unlabeled_folder",
           "prepare_real_dataset"]
