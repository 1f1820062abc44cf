"""Named ViT sizes, as timm and MAE's `models_mae.py` name them: an encoder and an MAE decoder are chosen by
name, and any of their keyword arguments may still be overridden (`build_mae("vit_classroom", depth=6)`)."""
from __future__ import annotations

from typing import Any

# Encoder shapes: patch size, width, depth, heads (MLP ratio 4 throughout).
ENCODERS: dict[str, dict[str, int]] = {
    "vit_smoke": dict(patch_size=8, embed_dim=64, depth=2, num_heads=2),          # CI: a few seconds per epoch
    "vit_classroom": dict(patch_size=6, embed_dim=128, depth=4, num_heads=4),     # 0.8M parameters, laptop CPU
    "vit_tiny_patch16": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "vit_large_patch16": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
}

# MAE decoders: width, depth, heads ("dec512d8b" is the reference's default decoder).
DECODERS: dict[str, dict[str, int]] = {
    "dec64d1": dict(decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=4),
    "dec128d2": dict(decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4),
    "dec512d8b": dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16),
}


def named(table: dict[str, dict[str, int]], name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `name` in `table` with `overrides` applied; an unknown name lists the known."""
    if name not in table:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(table)}")
    return {**table[name], **overrides}
