"""Models: the masked autoencoder, the ViT classifier it initialises, checkpoint loading, attention maps."""
from fer_lib.models.attention import attention_maps, attention_rollout, cls_attention
from fer_lib.models.checkpoints import CheckpointError, LoadReport, load_weights, read_state_dict
from fer_lib.models.mae import MaskedAutoencoderViT, build_mae
from fer_lib.models.pos_embed import get_2d_sincos_pos_embed, interpolate_pos_embed
from fer_lib.models.vit import build_vit_classifier, load_encoder_weights, vit_features

__all__ = [
    "CheckpointError", "LoadReport", "MaskedAutoencoderViT", "attention_maps", "attention_rollout",
    "build_mae", "build_vit_classifier", "cls_attention", "get_2d_sincos_pos_embed", "interpolate_pos_embed",
    "load_encoder_weights", "load_weights", "read_state_dict", "vit_features",
]
