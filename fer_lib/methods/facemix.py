"""FaceMix (SSFER, Song et al. 2024, stage 2): Mixup that gives the real images back the weight a mixed image
does not deserve when its two faces do not overlap.

    L = (1/N) sum_i [ CE(f(x~_i), y~_i) + (1 - IoU_i) (CE(f(x_i), y_i) + CE(f(x_pi(i)), y_pi(i))) ]

The partner of sample i is pi(i) = N-1-i (the batch flipped, as timm's batch-mode Mixup pairs it),
x~_i = lam x_i + (1 - lam) x_pi(i) with one lam ~ Beta(alpha, alpha) per batch (SSFER: alpha 1, uniform), y~_i the
matching label-smoothed soft target (timm's `mixup_target`), and IoU_i the IoU of the two face boxes *after* the
geometric augmentation: the dataset serves each view's box moved by its crop and flip (request "face_box"). Aligned
faces (IoU 1) train on the virtual image only; misaligned pairs give weight back to the real images. As in SSFER's
`fine-tune.py`, the label smoothing applies to the mixed target and the real terms use the hard labels.

SSFER's released script mixes the batch in place before computing the real terms, so its "real" terms see mixed
images: CE(f(x~_i), y_i) + CE(f(x~_pi(i)), y_pi(i)). `as_released=True` reproduces that (the real terms reuse the
mixed images' logits, where the script runs the model twice on the same tensor). Its IoU came from a YOLO face
detector run on the mixed images, which we do not reproduce: both variants take the IoU of the un-mixed images'
boxes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.data.mixup import mixup_target
from torch import nn
from torchvision.ops import box_iou

from fer_lib.data.requests import SampleRequest
from fer_lib.methods.base import LossOutput, Method, StepContext


@dataclass(frozen=True)
class FaceMixSettings:
    """FaceMix's settings (label smoothing comes from the supervised settings), and the label fractions notebook 05
    compares the mixing strategies at."""

    alpha: float = 1.0                 # lam ~ Beta(alpha, alpha), one per batch; SSFER: 1 (uniform)
    as_released: bool = False          # real terms on the mixed images, as SSFER's released script computes them
    sweep_fractions: str = "0.25"      # notebook 05: comma-separated label fractions, e.g. "0.1,0.25,1"
    epochs: int = 0                    # notebook 05: epochs at 100% labels (epochs / fraction at fewer: the same
                                       # number of steps); 0 = finetune_epochs


def mix_images(images: torch.Tensor, lam: float) -> torch.Tensor:
    """x~_i = lam x_i + (1 - lam) x_{N-1-i}, a new tensor (the input is left unmixed): (N, C, H, W) -> (N, C, H, W)."""
    return images * lam + images.flip(0) * (1.0 - lam)


def partner_iou(boxes: torch.Tensor) -> torch.Tensor:
    """IoU_i of box i and its partner's, box N-1-i: (N, 4) x0, y0, x1, y1 -> (N,); 0 when both boxes are empty
    (a crop that cut both faces out)."""
    return box_iou(boxes.float(), boxes.float().flip(0)).diagonal().nan_to_num(0.0)


def facemix_loss(mixed_logits: torch.Tensor, real_logits: torch.Tensor, labels: torch.Tensor, iou: torch.Tensor,
                 lam: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """L = mean_i [CE(mixed_logits_i, y~_i) + (1 - IoU_i) (CE(real_logits_i, y_i) + CE(real_logits_{N-1-i}, y_{N-1-i}))]
    with y~_i = lam y_i + (1 - lam) y_{N-1-i}, each one-hot label smoothed by `label_smoothing`.

    mixed_logits, real_logits: (N, K); labels: (N,) int64; iou: (N,) in [0, 1]. Returns a scalar."""
    target = mixup_target(labels, mixed_logits.shape[1], lam, label_smoothing)
    virtual = -(target * F.log_softmax(mixed_logits, dim=1)).sum(dim=1)
    real = F.cross_entropy(real_logits, labels, reduction="none")
    return (virtual + (1.0 - iou) * (real + real.flip(0))).mean()


class FaceMix(Method):
    """See the module docstring. batch["image"] (N, C, H, W), batch["label"] (N,), batch["face_box"] (N, 4); lam is
    drawn from NumPy's global RNG (as timm's Mixup), which checkpoints save, so a run resumes exactly."""

    def __init__(self, settings: FaceMixSettings, label_smoothing: float = 0.1) -> None:
        super().__init__()
        self.alpha, self.as_released, self.label_smoothing = settings.alpha, settings.as_released, label_smoothing
        self.request = SampleRequest(meta=("face_box",))

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        if "target" in batch:
            raise ValueError("FaceMix mixes its own batch, but a batch transform already mixed it (batch['target']): "
                             "switch Mixup / CutMix off (mixup_alpha = cutmix_alpha = 0)")
        images, labels = batch["image"], batch["label"]
        lam = float(np.random.beta(self.alpha, self.alpha))
        mixed = mix_images(images, lam)
        if self.as_released:
            mixed_logits = real_logits = model(mixed).float()
        else:
            mixed_logits, real_logits = model(torch.cat([mixed, images])).float().chunk(2)
        iou = partner_iou(batch["face_box"])
        loss = facemix_loss(mixed_logits, real_logits, labels, iou, lam, self.label_smoothing)
        accuracy = (mixed_logits.argmax(dim=1) == labels).float().mean()
        return LossOutput(loss, {"acc": accuracy.detach(), "iou": iou.mean().detach(), "lam": lam})
