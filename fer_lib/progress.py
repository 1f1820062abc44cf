"""Progress bars: tqdm.auto's (widgets in Jupyter, text elsewhere), off when TQDM_DISABLE=1.

tqdm reads TQDM_DISABLE itself, except for its notebook bars, which would otherwise freeze as "0%" lines in the
executed copies `make run` writes (it sets TQDM_DISABLE=1 for its headless kernels)."""
from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def progress(*args: Any, disable: bool = False, **kwargs: Any) -> tqdm:
    """tqdm.auto.tqdm(*args, **kwargs), disabled when `disable` or when the environment says TQDM_DISABLE=1."""
    return tqdm(*args, disable=disable or os.environ.get("TQDM_DISABLE") == "1", **kwargs)
