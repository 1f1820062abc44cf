"""MAE's encoder pass on the timm ViT classifier itself: patch tokens with their positions, then only the kept
ones (plus CLS) through the classifier's blocks. With `MaskedAutoencoderViT.random_masking` between the two and
its decoder after, a masked-image-modelling loss trains the classifier's own encoder (DR-FER's MIM auxiliary task).

Mirrors `MaskedAutoencoderViT.embed_patches` / `encode_tokens` step by step, on the classifier's weights.
"""
from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer


def _check_mae_shaped(vit: VisionTransformer) -> None:
    """The classifier must be shaped like the MAE encoder: one CLS token whose position embedding it shares."""
    if vit.cls_token is None or vit.reg_token is not None or vit.no_embed_class or vit.dynamic_img_size:
        raise ValueError("masked encoding needs a ViT with a CLS token, no register tokens, a position embedding "
                         "that covers the CLS token and a fixed image size (build_vit_classifier builds one)")


def embed_classifier_patches(vit: VisionTransformer, images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, D): the classifier's patch embeddings plus their position embeddings (added before
    masking, as MAE does)."""
    _check_mae_shaped(vit)
    return vit.patch_embed(images) + vit.pos_embed[:, vit.num_prefix_tokens:, :]


def encode_classifier_tokens(vit: VisionTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """(N, T, D) kept patch tokens -> (N, 1 + T, D): prepend CLS (+ its position embedding), the classifier's
    blocks. No final LayerNorm: under average pooling the classifier has none (its `fc_norm` acts after pooling),
    so the caller normalises (the MIM decoder's owner keeps the MAE encoder's final norm)."""
    cls_token = (vit.cls_token + vit.pos_embed[:, :1, :]).expand(tokens.shape[0], -1, -1)
    return vit.blocks(vit.norm_pre(torch.cat([cls_token, tokens], dim=1)))
