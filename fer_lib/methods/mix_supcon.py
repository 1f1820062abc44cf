"""MIMIC's mix-supervised contrastive fine-tuning (Zhang et al. 2024), as this collection reconstructs it.

MIMIC's abstract says only that fine-tuning adds a "mix-supervised contrastive" loss in which mixing supplies
extra positives; its formula, weights and temperature are not public. Our reconstruction:

    x~_i = lam x_i + (1 - lam) x_pi(i),   pi(i) = N-1-i,   one lam ~ Beta(alpha, alpha) per batch
    P = [one-hot(y_i) ; lam one-hot(y_i) + (1 - lam) one-hot(y_pi(i))]          (2N, K) class distributions
    L = CE(f(x~), y~) + w * SupCon(z over the 2N real and mixed images, float mask P P^T)

so a mixed image is a positive of class y_i's anchors with weight lam and of class y_pi(i)'s with weight 1 - lam
(P P^T between two real images is 1 for the same class, as in SupCon). y~ is Mixup's label-smoothed soft target and
z the L2-normalised projection (an MLP head this method owns) of the classifier's pre-head features; each image is
one view of the fine-tuning augmentation. With alpha = 0 nothing is mixed: L = CE(f(x), y) + w * SupCon(z), plain
supervised contrastive fine-tuning, the ablation MIMIC's claim needs. MIMIC fine-tunes a ViT initialised from the
general-image MAE.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.data.mixup import mixup_target, one_hot
from torch import nn

from fer_lib.losses.contrastive import supcon_loss
from fer_lib.methods.base import LossOutput, Method, StepContext
from fer_lib.methods.contrastive import ProjectionHead
from fer_lib.methods.facemix import mix_images
from fer_lib.models.vit import pre_logits


@dataclass(frozen=True)
class MixSupConSettings:
    """The mix-supervised contrastive loss (our choices: MIMIC does not publish them)."""

    weight: float = 0.5                # w in L = CE + w * L_con
    temperature: float = 0.1
    alpha: float = 0.8                 # lam ~ Beta(alpha, alpha); 0 = no mixed images (plain SupCon + CE)
    projection_dim: int = 128


def mixed_class_distributions(labels: torch.Tensor, lam: float, num_classes: int) -> torch.Tensor:
    """P (2N, K): one-hot(y_i) for the N real images, then lam one-hot(y_i) + (1 - lam) one-hot(y_{N-1-i}) for the N
    mixed ones (`mix_images` order). P @ P.T is the positive mask of mix-SupCon. labels: (N,) int64."""
    real = one_hot(labels, num_classes)
    return torch.cat([real, mixup_target(labels, num_classes, lam)])


class MixSupCon(Method):
    """See the module docstring. Trains `model` (any timm classifier; pre-head width `feature_dim`) on
    batch["image"] (N, C, H, W) and batch["label"] (N,). lam comes from NumPy's global RNG (as timm's Mixup)."""

    def __init__(self, settings: MixSupConSettings, feature_dim: int, label_smoothing: float = 0.1) -> None:
        super().__init__()
        self.weight, self.temperature, self.alpha = settings.weight, settings.temperature, settings.alpha
        self.label_smoothing = label_smoothing
        self.head = ProjectionHead(feature_dim, settings.projection_dim)

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        if "target" in batch:
            raise ValueError("MixSupCon mixes its own batch, but a batch transform already mixed it "
                             "(batch['target']): switch Mixup / CutMix off (mixup_alpha = cutmix_alpha = 0)")
        images, labels = batch["image"], batch["label"]
        size, mixing = len(images), self.alpha > 0
        lam = float(np.random.beta(self.alpha, self.alpha)) if mixing else 1.0
        features = pre_logits(model, torch.cat([images, mix_images(images, lam)]) if mixing else images)  # (2N or N, D)
        logits = model.get_classifier()(features).float()
        num_classes = logits.shape[1]
        if mixing:
            target = mixup_target(labels, num_classes, lam, self.label_smoothing)
            ce = -(target * F.log_softmax(logits[size:], dim=1)).sum(dim=1).mean()
            distributions = mixed_class_distributions(labels, lam, num_classes)
        else:
            ce = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
            distributions = one_hot(labels, num_classes)
        embedded = F.normalize(self.head(features.float()), dim=1)[:, None]        # (2N or N, 1, d)
        contrastive = supcon_loss(embedded, mask=distributions @ distributions.T, temperature=self.temperature,
                                  base_temperature=self.temperature)
        accuracy = (logits[:size].argmax(dim=1) == labels).float().mean()
        return LossOutput(ce + self.weight * contrastive,
                          {"acc": accuracy.detach(), "ce": ce.detach(), "contrastive": contrastive.detach()})
