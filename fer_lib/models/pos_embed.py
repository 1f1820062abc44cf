"""Fixed 2-D sin-cos position embeddings (MAE `util/pos_embed.py`) and their resizing for another image size.

For a grid of h x w patches, token t = i * w + j (row i, column j). As in the reference, which builds the
grid with `np.meshgrid(grid_w, grid_h)`, the first D/2 dimensions encode the column j and the last D/2
the row i; each half is [sin(pos * omega), cos(pos * omega)] with omega_k = 1 / 10000^(k / (D/4)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def get_1d_sincos_pos_embed(embed_dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, embed_dim) = [sin(pos * omega), cos(pos * omega)], float64."""
    if embed_dim % 2:
        raise ValueError(f"a sin-cos embedding needs an even dimension, got {embed_dim}")
    omega = 1.0 / 10000 ** (torch.arange(embed_dim // 2, dtype=torch.float64) / (embed_dim / 2))  # (D/2,)
    angles = positions.to(torch.float64)[:, None] * omega[None, :]                                # (M, D/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int | tuple[int, int], cls_token: bool = False) -> torch.Tensor:
    """(h * w [+ 1], embed_dim) float64 embedding of an h x w patch grid; row 0 is zeros when `cls_token`."""
    if embed_dim % 4:
        raise ValueError(f"a 2-D sin-cos embedding needs a dimension divisible by 4, got {embed_dim}")
    height, width = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")   # (h, w) each
    embed = torch.cat([get_1d_sincos_pos_embed(embed_dim // 2, cols.flatten()),             # column first,
                       get_1d_sincos_pos_embed(embed_dim // 2, rows.flatten())], dim=1)     # then row: (h*w, D)
    if cls_token:
        embed = torch.cat([torch.zeros(1, embed_dim, dtype=torch.float64), embed], dim=0)  # (1 + h*w, D)
    return embed


def interpolate_pos_embed(pos_embed: torch.Tensor, new_grid: int | tuple[int, int],
                          num_prefix_tokens: int = 1) -> torch.Tensor:
    """Resize a (1, prefix + s*s, D) position embedding to `new_grid` (MAE fine-tuning's `interpolate_pos_embed`).

    The patch part is read as a square s x s grid and resized bicubically; the prefix (CLS) rows are kept.
    Returns (1, prefix + h*w, D) in the input's dtype.
    """
    height, width = (new_grid, new_grid) if isinstance(new_grid, int) else new_grid
    prefix, patches = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    side = int(round(patches.shape[1] ** 0.5))
    if side * side != patches.shape[1]:
        raise ValueError(f"position embedding has {patches.shape[1]} patch rows, not a square grid")
    if (side, side) == (height, width):
        return pos_embed
    grid = patches.reshape(-1, side, side, patches.shape[-1]).permute(0, 3, 1, 2)  # (1, D, s, s)
    grid = F.interpolate(grid.float(), size=(height, width), mode="bicubic", align_corners=False)
    patches = grid.permute(0, 2, 3, 1).flatten(1, 2).to(pos_embed.dtype)          # (1, h*w, D)
    return torch.cat([prefix, patches], dim=1)
