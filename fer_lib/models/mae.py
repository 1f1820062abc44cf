"""Masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022).

Follows facebookresearch/mae `models_mae.py` step by step, built on timm's `PatchEmbed` and `Block`:
patchify the image, embed the patches and add fixed sin-cos positions, keep a random (1 - mask_ratio)
share of them, encode only those (plus a CLS token) with a ViT, then a light decoder sees the encoded
tokens and a shared mask token at every removed position and predicts the pixels of each patch. The loss
is the per-patch mean squared error, averaged over the removed patches only.

State-dict keys equal those of the official checkpoints (`mae_pretrain_vit_base.pth` for the encoder,
`*_full.pth` / `mae_visualize_*.pth` with the decoder), so they load without renaming.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import torch
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn

from fer_lib.models.archs import DECODERS, ENCODERS, named
from fer_lib.models.pos_embed import get_2d_sincos_pos_embed

NormLayer = Callable[[int], nn.Module]


class MaskedAutoencoderViT(nn.Module):
    """Masked autoencoder with a ViT encoder and a light ViT decoder.

    forward(imgs (N, C, H, W), mask_ratio) -> loss (), pred (N, L, p*p*C), mask (N, L) with 1 = removed,
    where L = (H / p) * (W / p) patches. The defaults are the reference's (ViT-L/16 encoder, 512 x 8
    decoder); `build_mae(arch, decoder)` builds one by name.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 1024,
                 depth: int = 24, num_heads: int = 16, decoder_embed_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mlp_ratio: float = 4.0,
                 norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6), norm_pix_loss: bool = False) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"image size {img_size} is not a multiple of the patch size {patch_size}")
        # encoder
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim), requires_grad=False)  # fixed sin-cos
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm_layer)
                                     for _ in range(depth)])
        self.norm = norm_layer(embed_dim)
        # decoder
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim),
                                              requires_grad=False)  # fixed sin-cos
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm_layer)
            for _ in range(decoder_depth)])
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans)  # pixels of one patch
        self.norm_pix_loss = norm_pix_loss
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Sin-cos position embeddings; Xavier for the patch projection (as a Linear) and Linears; tokens N(0, .02)."""
        grid = self.patch_embed.grid_size
        self.pos_embed.data.copy_(get_2d_sincos_pos_embed(self.pos_embed.shape[-1], grid, cls_token=True)[None])
        self.decoder_pos_embed.data.copy_(
            get_2d_sincos_pos_embed(self.decoder_pos_embed.shape[-1], grid, cls_token=True)[None])
        weight = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> set[str]:
        """Tokens and position embeddings are not decayed (the fixed embeddings get no gradient anyway)."""
        return {"cls_token", "mask_token", "pos_embed", "decoder_pos_embed"}

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, L, p*p*C), patches in row-major order, channel fastest within a pixel."""
        p = self.patch_embed.patch_size[0]
        h, w = self.patch_embed.grid_size
        n, c = imgs.shape[:2]
        x = imgs.reshape(n, c, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(n, h * w, p * p * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, p*p*C) -> (N, C, H, W), the inverse of `patchify`."""
        p = self.patch_embed.patch_size[0]
        h, w = self.patch_embed.grid_size
        n, c = x.shape[0], x.shape[2] // (p * p)
        x = x.reshape(n, h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(n, c, h * p, w * p)

    def random_masking(self, x: torch.Tensor, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep a random int(L * (1 - mask_ratio)) tokens of each sample: per-sample shuffle by argsort of noise.

        x: (N, L, D) -> kept tokens (N, len_keep, D), mask (N, L) with 0 = kept, 1 = removed (in the
        original order), ids_restore (N, L) such that gathering [kept || removed] with it restores the order.
        """
        n, length, dim = x.shape
        len_keep = int(length * (1 - mask_ratio))
        noise = torch.rand(n, length, device=x.device)  # (N, L) in [0, 1)
        ids_shuffle = torch.argsort(noise, dim=1)       # ascending: small noise is kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_kept = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).expand(-1, -1, dim))
        mask = torch.ones(n, length, device=x.device)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)  # unshuffle to the original patch order
        return x_kept, mask, ids_restore

    def embed_patches(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, L, D) patch embeddings plus their position embeddings (added before masking)."""
        return self.patch_embed(imgs) + self.pos_embed[:, 1:, :]

    def encode_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, D) patch tokens -> (N, 1 + T, D): prepend CLS (+ its position embedding), blocks, LayerNorm."""
        cls_token = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls_token, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> latent (N, 1 + len_keep, D), mask (N, L), ids_restore (N, L)."""
        x, mask, ids_restore = self.random_masking(self.embed_patches(imgs), mask_ratio)
        return self.encode_tokens(x), mask, ids_restore

    def forward_features(self, imgs: torch.Tensor) -> torch.Tensor:
        """Encoder output for whole images, patches in order (no masking): (N, C, H, W) -> (N, 1 + L, D)."""
        return self.encode_tokens(self.embed_patches(imgs))

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent (N, 1 + len_keep, D), ids_restore (N, L) -> predicted pixels (N, L, p*p*C)."""
        x = self.decoder_embed(latent)                                             # (N, 1+len_keep, Dd)
        n, num_masked = x.shape[0], ids_restore.shape[1] + 1 - x.shape[1]
        mask_tokens = self.mask_token.expand(n, num_masked, -1)                    # (N, L-len_keep, Dd)
        patches = torch.cat([x[:, 1:, :], mask_tokens], dim=1)                    # (N, L, Dd) shuffled
        patches = torch.gather(patches, dim=1, index=ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1, :], patches], dim=1) + self.decoder_pos_embed     # (N, 1+L, Dd)
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_pred(self.decoder_norm(x))                               # (N, 1+L, p*p*C)
        return x[:, 1:, :]                                                        # drop CLS

    def pixel_targets(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, L, p*p*C) patches; with `norm_pix_loss` each is (t - mean) / sqrt(var + 1e-6)."""
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased, as the reference
            target = (target - mean) / (var + 1e-6) ** 0.5
        return target

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """L = sum_i mask_i * mean_k (pred_ik - target_ik)^2 / sum_i mask_i over all N * L patches i."""
        per_patch = ((pred - self.pixel_targets(imgs)) ** 2).mean(dim=-1)  # (N, L)
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def build_mae(arch: str = "vit_base_patch16", decoder: str = "dec512d8b", **kwargs: Any) -> MaskedAutoencoderViT:
    """The MAE with encoder `arch` and decoder `decoder` (models.archs); `kwargs` (img_size, in_chans,
    norm_pix_loss, or any size) go to `MaskedAutoencoderViT`."""
    return MaskedAutoencoderViT(**named(ENCODERS, arch, {}) | named(DECODERS, decoder, kwargs))
