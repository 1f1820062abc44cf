"""A run folder remembers the config fields that decide its result (run_config.json), so that a later call
with other data or another model fails with the differences named instead of silently resuming, or reusing,
a run that learned something else. The optimisation settings are checked by `fit` itself."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fer_lib.config import RunConfig
from fer_lib.models.checkpoints import CheckpointError
from fer_lib.report import write_json_atomic

DATA_FIELDS = ("dataset", "data_root", "data_options", "image_size", "channels", "synthfer_scenes",
               "synthfer_identities", "label_noise", "seed")
ENCODER_FIELDS = ("patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio")
MAE_FIELDS = DATA_FIELDS + ENCODER_FIELDS + (
    "synthfer_unlabeled", "synthfer_general", "face_corpus_root", "general_corpus_root", "decoder_embed_dim",
    "decoder_depth", "decoder_num_heads", "mask_ratio", "norm_pix_loss")
FINETUNE_FIELDS = DATA_FIELDS + ENCODER_FIELDS + (
    "synthfer_train", "synthfer_val", "synthfer_test", "global_pool", "finetune_crop_min", "drop_path",
    "label_smoothing")


def claim_run_dir(run_dir: Path, cfg: RunConfig, fields: tuple[str, ...], **extra: Any) -> None:
    """Record `fields` of `cfg` (and `extra`, e.g. the initialisation) in <run_dir>/run_config.json, or, when
    the folder already holds a record, check that they match it; a mismatch raises CheckpointError."""
    wanted = {**{name: getattr(cfg, name) for name in fields}, **extra}
    path = Path(run_dir) / "run_config.json"
    if not path.is_file():
        write_json_atomic(path, wanted)
        return
    saved = json.loads(path.read_text())
    changed = sorted(name for name in wanted if saved.get(name) != wanted[name])
    if changed:
        details = ", ".join(f"{name}={saved.get(name)!r} (now {wanted[name]!r})" for name in changed)
        raise CheckpointError(f"{run_dir} holds a run made with {details}; set another run_tag, or delete the "
                              f"folder to train afresh")
