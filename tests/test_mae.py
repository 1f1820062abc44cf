"""The masked autoencoder reproduces facebookresearch/mae `models_mae.py` and `util/pos_embed.py`."""
import numpy as np
import pytest
import torch

from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.models.pos_embed import get_2d_sincos_pos_embed
from tests.benchmark_scripts import benchmark_module


def tiny_mae(**overrides: object) -> MaskedAutoencoderViT:
    kwargs = dict(img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=1, num_heads=2,
                  decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
    return MaskedAutoencoderViT(**{**kwargs, **overrides})


def reference_module():
    return benchmark_module("reference_mae")


def manual_patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """The reference's patchify written out: (N, C, H, W) -> (N, L, p*p*C), channel fastest."""
    n, c, height, width = imgs.shape
    x = imgs.reshape(n, c, height // p, p, width // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, (height // p) * (width // p), p * p * c)


def test_mask_ratio_075_removes_147_of_196_patches() -> None:
    model = MaskedAutoencoderViT(img_size=224, patch_size=16, embed_dim=16, depth=1, num_heads=1,
                                 decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=1)
    latent, mask, ids_restore = model.forward_encoder(torch.randn(2, 3, 224, 224), mask_ratio=0.75)
    assert mask.shape == ids_restore.shape == (2, 196)
    assert mask.sum(1).tolist() == [147, 147]
    assert latent.shape == (2, 1 + 49, 16)


@pytest.mark.parametrize("channels", [1, 3])
def test_unpatchify_inverts_patchify(channels: int) -> None:
    model = tiny_mae(in_chans=channels)
    imgs = torch.randn(2, channels, 32, 32)
    patches = model.patchify(imgs)
    assert patches.shape == (2, 16, 8 * 8 * channels)
    assert torch.equal(model.unpatchify(patches), imgs)


def test_patches_are_row_major_with_channel_fastest() -> None:
    imgs = torch.randn(2, 3, 32, 32)
    patches = tiny_mae().patchify(imgs)
    assert torch.equal(patches, manual_patchify(imgs, 8))
    assert torch.equal(patches[:, 0, :3], imgs[:, :, 0, 0])   # first pixel of the first patch, all channels
    assert torch.equal(patches[:, 1, :3], imgs[:, :, 0, 8])   # the next patch lies to the right


def test_gathering_kept_then_removed_tokens_with_ids_restore_restores_order() -> None:
    tokens = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 16, 1).expand(-1, -1, 4).contiguous()
    kept, mask, ids_restore = tiny_mae().random_masking(tokens, mask_ratio=0.75)
    ids_shuffle = torch.argsort(ids_restore, dim=1)
    removed = torch.gather(tokens, 1, ids_shuffle[:, 4:, None].expand(-1, -1, 4))
    restored = torch.gather(torch.cat([kept, removed], dim=1), 1, ids_restore[:, :, None].expand(-1, -1, 4))
    assert kept.shape == (2, 4, 4)
    assert torch.equal(restored, tokens)
    kept_positions = kept[:, :, 0].long() - 16 * torch.arange(2)[:, None]
    assert (torch.gather(mask, 1, kept_positions) == 0).all()   # mask is 0 exactly where tokens were kept
    assert mask.sum().item() == 2 * 12


def test_loss_is_the_mean_squared_error_over_removed_patches_only() -> None:
    model, imgs = tiny_mae(), torch.randn(3, 3, 32, 32)
    torch.manual_seed(0)
    loss, pred, mask = model(imgs, mask_ratio=0.5)
    per_patch = ((pred - manual_patchify(imgs, 8)) ** 2).mean(-1)
    assert torch.allclose(loss, per_patch[mask.bool()].mean())
    pred_changed_where_kept = pred + (1 - mask)[:, :, None] * 100.0
    assert torch.allclose(model.forward_loss(imgs, pred_changed_where_kept, mask), loss)


def test_norm_pix_loss_target_is_each_patch_standardised_with_unbiased_variance() -> None:
    imgs = torch.randn(2, 3, 32, 32) * 3 + 1
    target = tiny_mae(norm_pix_loss=True).pixel_targets(imgs).numpy()
    patches = manual_patchify(imgs, 8).numpy()
    expected = (patches - patches.mean(-1, keepdims=True)) / np.sqrt(patches.var(-1, ddof=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-5)


def test_sincos_pos_embed_matches_the_reference_formula() -> None:
    dim, grid = 32, 5
    grid_w, grid_h = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))  # w first

    def one_axis(pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(dim // 4) / (dim / 4))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    expected = np.concatenate([np.zeros((1, dim)), np.concatenate([one_axis(grid_w), one_axis(grid_h)], 1)], 0)
    ours = get_2d_sincos_pos_embed(dim, grid, cls_token=True)
    assert ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(get_2d_sincos_pos_embed(dim, grid).numpy(), expected[1:], rtol=0, atol=1e-12)
    model = tiny_mae(img_size=40, embed_dim=dim)
    np.testing.assert_allclose(model.pos_embed[0].numpy(), expected, atol=1e-6)
    assert not model.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad


def test_vit_base_state_dict_has_the_official_checkpoint_keys() -> None:
    model = build_mae("vit_base_patch16", "dec512d8b", img_size=224)   # the full profile's MAE
    encoder = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias"]
    decoder = ["mask_token", "decoder_pos_embed", "decoder_embed.weight", "decoder_embed.bias",
               "decoder_norm.weight", "decoder_norm.bias", "decoder_pred.weight", "decoder_pred.bias"]
    block = [f"{layer}.{param}" for layer in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
             for param in ("weight", "bias")]
    encoder += [f"blocks.{i}.{key}" for i in range(12) for key in block]
    decoder += [f"decoder_blocks.{i}.{key}" for i in range(8) for key in block]
    state = model.state_dict()
    assert sorted(state) == sorted(encoder + decoder)
    assert state["pos_embed"].shape == (1, 197, 768)
    assert state["decoder_pos_embed"].shape == (1, 197, 512)
    assert state["blocks.0.attn.qkv.weight"].shape == (3 * 768, 768)
    assert state["decoder_pred.weight"].shape == (16 * 16 * 3, 512)


def test_initialisation_follows_the_reference() -> None:
    model = tiny_mae(embed_dim=64, depth=2)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            bound = (6 / sum(module.weight.shape)) ** 0.5                         # xavier_uniform
            assert module.weight.abs().max() <= bound and torch.all(module.bias == 0), name
        if isinstance(module, torch.nn.LayerNorm):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0), name
    patch_weight = model.patch_embed.proj.weight.flatten(1)
    assert patch_weight.abs().max() <= (6 / sum(patch_weight.shape)) ** 0.5
    assert 0.01 < model.cls_token.std() < 0.04 and 0.005 < model.mask_token.std() < 0.04


def test_no_weight_decay_names_the_tokens_and_position_embeddings() -> None:
    model = tiny_mae()
    parameters = dict(model.named_parameters())
    assert model.no_weight_decay() <= set(parameters)
    assert {"cls_token", "mask_token"} <= model.no_weight_decay()


@pytest.mark.parametrize("overrides", [{}, {"norm_pix_loss": True}, {"in_chans": 1}])
def test_same_weights_and_seed_give_the_reference_loss_prediction_and_mask(overrides: dict) -> None:
    ours = tiny_mae(**overrides)
    reference = reference_module().ReferenceMAE(**{**dict(
        img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=16,
        decoder_depth=1, decoder_num_heads=2), **overrides})
    assert torch.equal(ours.pos_embed, reference.pos_embed)                # independent init, same embedding
    reference.load_state_dict(ours.state_dict())
    imgs = torch.randn(4, ours.patch_embed.proj.in_channels, 32, 32)
    torch.manual_seed(1)
    loss, pred, mask = ours(imgs, 0.75)
    torch.manual_seed(1)
    ref_loss, ref_pred, ref_mask = reference(imgs, 0.75)
    assert torch.equal(mask, ref_mask)
    assert torch.allclose(pred, ref_pred, atol=1e-5) and torch.allclose(loss, ref_loss, atol=1e-6)


def test_forward_features_encodes_every_patch_in_order() -> None:
    model, imgs = tiny_mae().eval(), torch.randn(2, 3, 32, 32)
    features = model.forward_features(imgs)
    assert features.shape == (2, 1 + 16, 32)
    latent, mask, _ = model.forward_encoder(imgs, mask_ratio=0.0)
    assert mask.sum() == 0
    assert torch.allclose(latent[:, 0], features[:, 0], atol=1e-5)        # CLS is invariant to token order


def test_image_size_must_be_a_multiple_of_the_patch_size() -> None:
    with pytest.raises(ValueError, match="multiple of the patch size"):
        tiny_mae(img_size=30)


def test_a_few_training_steps_lower_the_loss_on_a_fixed_batch() -> None:
    model, imgs = build_mae("vit_smoke", "dec64d1", img_size=32), torch.randn(8, 3, 32, 32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(15):
        torch.manual_seed(0)                                                # the same masks every step
        loss, _, _ = model(imgs, 0.75)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
