"""Where a ViT looks: per-block attention maps, the last block's CLS attention, attention rollout.

Works for any model with timm `Block`s in `.blocks` and a `forward_features(images)` (our classifier ViT
and `MaskedAutoencoderViT`). The attention matrices are recomputed from each block's qkv projection in a
forward hook, softmax(q k^T * scale), so timm may keep its fused attention kernel for the forward pass.
"""
from __future__ import annotations

from typing import Callable

import torch
from timm.layers import Attention
from torch import nn

from fer_lib.models.vit import evaluating


def attention_maps(model: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Attention of every block in eval mode: (N, C, H, W) -> [(N, heads, T, T)] * depth, rows sum to 1."""
    maps: list[torch.Tensor] = []

    def recorder(attn: Attention) -> Callable[[nn.Module, tuple[torch.Tensor], torch.Tensor], None]:
        def record(_: nn.Module, __: tuple[torch.Tensor], qkv: torch.Tensor) -> None:
            n, tokens, _ = qkv.shape
            q, k, _ = qkv.reshape(n, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            q, k = attn.q_norm(q), attn.k_norm(k)                           # (N, heads, T, head_dim)
            maps.append((q * attn.scale @ k.transpose(-2, -1)).softmax(dim=-1))
        return record

    handles = [block.attn.qkv.register_forward_hook(recorder(block.attn)) for block in model.blocks]
    try:
        with evaluating(model):
            model.forward_features(images)
    finally:
        for handle in handles:
            handle.remove()
    return maps


def cls_attention(maps: list[torch.Tensor]) -> torch.Tensor:
    """The last block's attention from the CLS token to each patch, per head: (N, heads, h, w)."""
    last = maps[-1][:, :, 0, 1:]                                             # (N, heads, L)
    return last.reshape(*last.shape[:2], *_square_grid(last.shape[-1]))


def attention_rollout(maps: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020) from CLS to each patch: (N, h, w).

    R = prod_l (A_l + I) / 2 with A_l the head-averaged attention of block l (first block rightmost),
    the identity standing for the residual connection; rows of R sum to 1.
    """
    tokens = maps[0].shape[-1]
    identity = torch.eye(tokens, dtype=maps[0].dtype, device=maps[0].device)
    rollout = identity.expand_as(maps[0][:, 0])                             # (N, T, T)
    for attn in maps:
        rollout = (attn.mean(dim=1) + identity) / 2 @ rollout
    cls_to_patches = rollout[:, 0, 1:]                                       # (N, L)
    return cls_to_patches.reshape(len(cls_to_patches), *_square_grid(cls_to_patches.shape[-1]))


def _square_grid(num_patches: int) -> tuple[int, int]:
    side = int(round(num_patches ** 0.5))
    if side * side != num_patches:
        raise ValueError(f"{num_patches} patches do not form a square grid")
    return side, side
