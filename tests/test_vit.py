"""The ViT classifier takes an MAE encoder (ours or official layout), and shows where it attends."""
from pathlib import Path

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from fer_lib.config import make_config
from fer_lib.models.attention import attention_maps, attention_rollout, cls_attention
from fer_lib.models.checkpoints import CheckpointError
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.models.pos_embed import interpolate_pos_embed
from fer_lib.models.vit import build_vit_classifier, load_encoder_weights, vit_features

ARCH, DECODER = "vit_smoke", "dec64d1"   # patch 8, dim 64, depth 2, 2 heads


def smoke_mae(**sizes: int) -> MaskedAutoencoderViT:
    """The smoke MAE at 32 px (4 x 4 patches); `sizes` override the encoder's (depth=4, embed_dim=96)."""
    return build_mae(ARCH, DECODER, img_size=32, **sizes)


def smoke_classifier(num_classes: int = 7, img_size: int = 32, global_pool: str = "token") -> VisionTransformer:
    """A smoke-sized ViT classifier; CLS-token pooling unless told otherwise."""
    return build_vit_classifier(ARCH, num_classes, img_size=img_size, global_pool=global_pool)


def encoder_state(mae: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The official `mae_pretrain_vit_*.pth` content: the MAE state dict without the decoder."""
    return {k: v for k, v in mae.state_dict().items() if not k.startswith(("decoder_", "mask_token"))}


def test_classifier_encoder_keys_equal_the_mae_encoder_keys() -> None:
    vit = smoke_classifier()
    classifier_keys = {k for k in vit.state_dict() if not k.startswith("head.")}
    assert classifier_keys == set(encoder_state(smoke_mae()))


@pytest.mark.parametrize("layout", ["official encoder-only file", "fer_lib checkpoint file", "in-memory state dict"])
def test_loaded_encoder_gives_the_mae_encoder_features(layout: str, tmp_path: Path) -> None:
    mae = smoke_mae().eval()
    source = {"official encoder-only file": lambda: {"model": encoder_state(mae)},
              "fer_lib checkpoint file": lambda: {"model": mae.state_dict(), "config": make_config("smoke").to_dict()},
              "in-memory state dict": mae.state_dict}[layout]()
    if layout.endswith("file"):
        torch.save(source, tmp_path / "mae.pth")
        source = str(tmp_path / "mae.pth")
    vit = smoke_classifier()
    head_before = vit.head.weight.clone()
    report = load_encoder_weights(vit, source)
    assert sorted(report.kept_new) == ["head.bias", "head.weight"] and torch.equal(vit.head.weight, head_before)
    images = torch.randn(3, 3, 32, 32)
    vit.eval()
    with torch.no_grad():
        assert torch.equal(vit.forward_features(images), mae.forward_features(images))
        latent, _, _ = mae.forward_encoder(images, mask_ratio=0.0)
    assert torch.allclose(vit_features(vit, images), latent[:, 0], atol=1e-5)


def test_average_pooling_classifier_drops_the_encoder_norm_and_keeps_a_new_fc_norm() -> None:
    mae = smoke_mae()
    vit = smoke_classifier(5, global_pool="avg")
    report = load_encoder_weights(vit, mae.state_dict())
    assert {"norm.weight", "norm.bias"} <= set(report.dropped)
    assert sorted(report.kept_new) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert torch.equal(vit.blocks[1].mlp.fc2.weight, mae.blocks[1].mlp.fc2.weight)
    assert vit_features(vit, torch.randn(2, 3, 32, 32)).shape == (2, 64)
    assert vit(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_a_deeper_encoder_is_rejected_naming_the_unexpected_blocks() -> None:
    deeper = smoke_mae(depth=4)
    with pytest.raises(CheckpointError, match=r"architecture\?\): unexpected keys \[blocks\.2\.attn\.proj\.bias"):
        load_encoder_weights(smoke_classifier(), deeper.state_dict())


def test_a_wider_encoder_is_rejected_naming_the_mismatched_shapes() -> None:
    wider = smoke_mae(embed_dim=96)
    with pytest.raises(CheckpointError, match=r"does not fit VisionTransformer .*: mismatched shapes "
                                              r"\[blocks\.0\.attn\.proj\.bias: checkpoint \(96,\) vs model \(64,\)"):
        load_encoder_weights(smoke_classifier(), wider.state_dict())


def test_a_missing_or_foreign_file_is_rejected_naming_the_path(tmp_path: Path) -> None:
    vit = smoke_classifier()
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(CheckpointError, match=f"{missing} does not exist"):
        load_encoder_weights(vit, missing)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=f"{text} could not be read"):
        load_encoder_weights(vit, text)
    torch.save({"model": {"epoch": 3}}, tmp_path / "no_weights.pth")
    with pytest.raises(CheckpointError, match="no_weights.pth holds no state dict"):
        load_encoder_weights(vit, tmp_path / "no_weights.pth")


def test_32px_weights_load_into_a_48px_vit_with_a_resized_position_embedding(tmp_path: Path) -> None:
    mae = smoke_mae()                                          # 4 x 4 patches of 8 px
    torch.save({"model": encoder_state(mae)}, tmp_path / "mae32.pth")
    vit = smoke_classifier(img_size=48)   # 6 x 6 patches
    report = load_encoder_weights(vit, tmp_path / "mae32.pth")
    assert report.resized == ["pos_embed"]
    assert vit.pos_embed.shape == (1, 1 + 36, 64)
    assert torch.equal(vit.pos_embed[:, 0], mae.pos_embed[:, 0])    # CLS row kept
    assert torch.equal(vit.pos_embed, interpolate_pos_embed(mae.pos_embed.detach(), 6))
    assert vit(torch.randn(2, 3, 48, 48)).shape == (2, 7)


def test_interpolating_to_the_same_grid_changes_nothing_and_a_constant_stays_constant() -> None:
    pos_embed = torch.randn(1, 1 + 16, 8)
    assert torch.equal(interpolate_pos_embed(pos_embed, 4), pos_embed)
    constant = torch.cat([torch.zeros(1, 1, 8), torch.full((1, 16, 8), 0.5)], dim=1)
    assert torch.allclose(interpolate_pos_embed(constant, (6, 6))[:, 1:], torch.full((1, 36, 8), 0.5))


def test_attention_maps_are_the_softmax_attention_of_every_block() -> None:
    vit = smoke_classifier().train()
    images = torch.randn(2, 3, 32, 32)
    maps = attention_maps(vit, images)
    assert len(maps) == 2 and all(m.shape == (2, 2, 17, 17) for m in maps)
    assert all(torch.allclose(m.sum(-1), torch.ones(2, 2, 17)) for m in maps)
    assert vit.training and all(not block.attn.qkv._forward_hooks for block in vit.blocks)
    unfused = []                                                      # timm's own, non-fused softmax
    for block in vit.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda _, inputs, __: unfused.append(inputs[0]))
    vit.eval()
    with torch.no_grad():
        vit(images)
    assert all(torch.allclose(ours, timm_attn, atol=1e-6) for ours, timm_attn in zip(maps, unfused))


def test_cls_attention_and_rollout_are_maps_over_the_patch_grid() -> None:
    maps = attention_maps(smoke_mae(), torch.randn(2, 3, 32, 32))
    assert cls_attention(maps).shape == (2, 2, 4, 4)
    rollout = attention_rollout(maps)
    assert rollout.shape == (2, 4, 4) and (rollout > 0).all() and (rollout.sum((1, 2)) < 1).all()
    uniform = [torch.full((2, 2, 17, 17), 1 / 17)] * 3               # uniform attention spreads evenly
    assert torch.allclose(attention_rollout(uniform), attention_rollout(uniform)[0, 0, 0].expand(2, 4, 4))
