"""The models of a run, built from its config's parts (models themselves take only their own arguments)."""
from __future__ import annotations

from torch import nn

from fer_lib.config import RunConfig
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.models.vit import build_classifier


def mae_model(cfg: RunConfig) -> MaskedAutoencoderViT:
    """The run's MAE: encoder `cfg.arch`, decoder `cfg.mae.decoder`, at the data's image size and channels."""
    return build_mae(cfg.arch, cfg.mae.decoder, img_size=cfg.data.image_size, in_chans=cfg.data.channels,
                     norm_pix_loss=cfg.mae.norm_pix_loss)


def classifier_model(cfg: RunConfig, num_classes: int) -> nn.Module:
    """The run's classifier: encoder `cfg.arch` (a ViT of models.archs or any timm model), pooling and drop path
    from the fine-tuning settings."""
    return build_classifier(cfg.arch, num_classes, img_size=cfg.data.image_size, in_chans=cfg.data.channels,
                                global_pool=cfg.finetune.global_pool, drop_path_rate=cfg.finetune.drop_path)
