"""Contrastive pre-training: SimCLR, SupCon, CRS-CONT and SSL-FER's face-aware positives and negatives.

One method, `Contrastive`, trains a headless timm model (built with num_classes=0, so `model(images)` returns the
pooled pre-head features, and a DDP wrapper sees every forward) through a projection head it owns; every variant is the same SupCon loss (`fer_lib.losses.contrastive`) with another positive mask,
other anchors or an extra term:

    simclr     positives are the two views of a sample (NT-Xent)
    supcon     positives share the label (fine: the 7/8 expressions; coarse: `COARSE_CLASSES`)
    crs_cont   coarse SupCon with weight `negative_class_weight` on anchors of the heterogeneous "negative" class,
               + CE of a coarse classifier on the normalised embedding of the first view
               + 0.4 x NT-Xent on the two views' coarse softmax vectors (CRS-CONT's pretrain.py)

SSL-FER's options (on SimCLR; each on its own or together):
    time_aug     the positive is a frame of the same sequence d = 2..6 frames away, P(d) ~ 5, 4, 3, 2, 1
    hard_negatives  a frame of the same sequence >= `min_far_gap` frames away joins the batch, as a sample whose
                 positive is its own second view: a same-identity negative for every anchor (SSL-FER pairs it with
                 its TimeAug neighbour; we use a second augmentation, one partner lookup fewer)
    face_swap    with p `face_swap_prob` the positive is the same expression on another face (dataset image
                 "face_swap": on SynthFER the same action units rendered on another identity)
    mask_false_negatives  MaskFN: the negative whose eye + mouth descriptor is most similar leaves the
                 denominator and gets its own term, weight `false_negative_weight` (dataset meta
                 "expression_descriptor", see fer_lib.data.descriptors)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fer_lib.data.requests import SampleRequest
from fer_lib.losses.contrastive import maskfn_loss, supcon_loss
from fer_lib.methods.base import LossOutput, Method, StepContext

# CRS-CONT's 4 coarse classes (its losses.py names class 1 "negative" and class 3 "surprise"; the label files are
# not public, so this mapping is ours): contempt joins the negative expressions.
COARSE_CLASSES = ("positive", "negative", "neutral", "surprise")
COARSE_OF = {"happy": "positive", "sad": "negative", "fear": "negative", "disgust": "negative", "anger": "negative",
             "contempt": "negative", "neutral": "neutral", "surprise": "surprise"}
TIME_AUG_GAP_WEIGHTS = (0.0, 5.0, 4.0, 3.0, 2.0, 1.0)       # d = 1..6: SSL-FER's mode "c" over d = 2..6
LOSSES = ("simclr", "supcon", "crs_cont")


def coarse_label_table(class_names: tuple[str, ...]) -> torch.Tensor:
    """(K,) int64: the coarse class (index into COARSE_CLASSES) of each fine class; unknown names are an error."""
    unknown = [name for name in class_names if name not in COARSE_OF]
    if unknown:
        raise ValueError(f"no coarse class for {', '.join(unknown)}; known: {', '.join(COARSE_OF)}")
    return torch.tensor([COARSE_CLASSES.index(COARSE_OF[name]) for name in class_names])


@dataclass(frozen=True)
class ContrastiveSettings:
    """The contrastive loss, its SSL-FER options and the two-view augmentation's strengths. The defaults are the
    classroom's (48 px faces, minutes of training): a softer temperature, crops down to half the face (CRS-CONT's
    0.5; SimCLR's 0.2 often cuts the mouth or the brows out of a small face) and no blur (at 48 px it erases the
    brows); the `full` profile sets the papers' values (temperature 0.07, crops to 0.2, blur with p 0.5)."""

    loss: str = "simclr"                # simclr | supcon | crs_cont
    labels: str = "fine"                # supcon: fine | coarse
    temperature: float = 0.1
    base_temperature: float = 0.1
    projection_dim: int = 128
    negative_class_weight: float = 0.5  # crs_cont: the weight vector's entry for the coarse "negative" class
    coarse_ce_weight: float = 1.0       # crs_cont: 0 switches the coarse classifier off
    coarse_ntxent_weight: float = 0.4   # crs_cont: 0 switches the NT-Xent on coarse probabilities off
    time_aug: bool = False
    hard_negatives: bool = False
    face_swap: bool = False
    face_swap_prob: float = 0.8
    mask_false_negatives: bool = False
    false_negative_weight: float = 0.8
    min_far_gap: int = 12               # hard negatives: at least this many frames from the anchor
    crop_min: float = 0.5               # augmentation: random resized crop scale lower bound
    jitter: float = 0.4
    grayscale_prob: float = 0.2
    blur_prob: float = 0.0

    def variant(self) -> str:
        """A short name: 'SimCLR+TimeAug+MaskFN', 'SupCon (coarse)', 'CRS-CONT' ..."""
        if self.loss == "crs_cont":
            return "CRS-CONT" if self.negative_class_weight != 1.0 else "CRS-CONT (weight 1.0)"
        if self.loss == "supcon":
            return f"SupCon ({self.labels})"
        options = [name for name, on in (("TimeAug", self.time_aug), ("HardNeg", self.hard_negatives),
                                         ("FaceSwap", self.face_swap), ("MaskFN", self.mask_false_negatives)) if on]
        return "+".join(["SimCLR", *options])


class ProjectionHead(nn.Sequential):
    """The MLP head of SimCLR v2 / MoCo v3: Linear(D, D) - BatchNorm - ReLU - Linear(D, out). (N, D) -> (N, out), not
    normalised. The batch norm keeps the head from answering every image alike: without it (SimCLR v1's head) the
    classroom encoders collapsed within an epoch (loss log(2B - 1), positive cosine 1), measured at `quick`."""

    def __init__(self, in_dim: int, out_dim: int = 128) -> None:
        super().__init__(nn.Linear(in_dim, in_dim, bias=False), nn.BatchNorm1d(in_dim), nn.ReLU(inplace=True),
                         nn.Linear(in_dim, out_dim))


class Contrastive(Method):
    """See the module docstring. Trains a headless `model`'s features (width `feature_dim`); the batch holds two
    views of each image (or the image and its partner), as `request` asks."""

    def __init__(self, settings: ContrastiveSettings, feature_dim: int, class_names: tuple[str, ...]) -> None:
        super().__init__()
        if settings.loss not in LOSSES:
            raise ValueError(f"unknown contrastive loss {settings.loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss_name, self.label_kind = settings.loss, settings.labels
        self.temperature, self.base_temperature = settings.temperature, settings.base_temperature
        self.negative_class_weight = settings.negative_class_weight
        self.coarse_ce_weight, self.coarse_ntxent_weight = settings.coarse_ce_weight, settings.coarse_ntxent_weight
        self.time_aug, self.hard_negatives = settings.time_aug, settings.hard_negatives
        self.face_swap, self.face_swap_prob = settings.face_swap, settings.face_swap_prob
        self.mask_false_negatives, self.false_negative_weight = settings.mask_false_negatives, settings.false_negative_weight
        self.head = ProjectionHead(feature_dim, settings.projection_dim)
        self.register_buffer("coarse_of", coarse_label_table(class_names), persistent=False)
        self.coarse_classifier = nn.Linear(settings.projection_dim, len(COARSE_CLASSES)) if settings.loss == "crs_cont" else None
        partners = (("sequence_neighbour",) if self.time_aug else ()) + (("same_sequence_far",) if self.hard_negatives else ())
        self.request = SampleRequest(
            meta=("expression_descriptor",) if self.mask_false_negatives else (),
            views=1 if self.time_aug else 2, partners=partners, max_frame_gap=len(TIME_AUG_GAP_WEIGHTS),
            images=("face_swap",) if self.face_swap else (), partner_views=2 if self.hard_negatives else 1,
            frame_gap_weights=TIME_AUG_GAP_WEIGHTS if self.time_aug else (), min_far_gap=settings.min_far_gap)

    def embed(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised projections of `images` (N, C, H, W) -> (N, projection_dim); `model` is headless."""
        return F.normalize(self.head(model(images)), dim=1)

    def _positive(self, batch: dict[str, Any]) -> torch.Tensor:
        """The second member of each pair (B, C, H, W): a second view, the sequence neighbour (TimeAug), or with
        probability face_swap_prob the same expression on another face (FaceSwap)."""
        if self.time_aug:
            neighbour = batch["sequence_neighbour"]
            positive = neighbour[0] if isinstance(neighbour, list) else neighbour
        else:
            positive = batch["image"][1]
        if self.face_swap:
            swap = torch.rand(len(positive), device=positive.device) < self.face_swap_prob
            positive = torch.where(swap[:, None, None, None], batch["face_swap"], positive)
        return positive

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        anchor = batch["image"] if self.time_aug else batch["image"][0]
        pairs = [anchor, self._positive(batch)]
        if self.hard_negatives:
            pairs += list(batch["same_sequence_far"])                  # two views of the far frame
        size = len(anchor)
        embedded = self.embed(model, torch.cat(pairs))
        views = embedded.view(len(pairs), size, -1)
        features = views[:2].transpose(0, 1)                            # (B, 2, d)
        if self.hard_negatives:
            features = torch.cat([features, views[2:].transpose(0, 1)])  # (2B, 2, d): the far frames as samples
        metrics: dict[str, torch.Tensor | float] = {}
        if self.loss_name == "simclr":
            if self.mask_false_negatives:
                descriptors = batch["expression_descriptor"].float()
                if self.hard_negatives:
                    descriptors = torch.cat([descriptors, descriptors])  # a far frame: its anchor's person and face
                loss = maskfn_loss(features, descriptors, self.temperature, self.false_negative_weight)
            else:
                loss = supcon_loss(features, temperature=self.temperature, base_temperature=self.base_temperature)
        else:
            loss = self._supervised(features, batch["label"], metrics)
        metrics["positive_similarity"] = (features[:, 0] * features[:, 1]).sum(dim=1).mean().detach()
        return LossOutput(loss, metrics)

    def _supervised(self, features: torch.Tensor, labels: torch.Tensor, metrics: dict) -> torch.Tensor:
        """SupCon on fine or coarse labels; CRS-CONT adds the weight vector, the coarse CE and NT-Xent terms."""
        coarse = self.coarse_of[labels]
        if self.loss_name == "supcon":
            return supcon_loss(features, coarse if self.label_kind == "coarse" else labels,
                               temperature=self.temperature, base_temperature=self.base_temperature)
        weights = torch.where(coarse == COARSE_CLASSES.index("negative"), self.negative_class_weight, 1.0)
        loss = supcon_loss(features, coarse, temperature=self.temperature, base_temperature=self.base_temperature,
                           anchor_weights=weights)
        logits = self.coarse_classifier(features)                          # (B, 2, 4) on normalised embeddings
        if self.coarse_ce_weight:
            coarse_ce = F.cross_entropy(logits[:, 0], coarse)
            metrics["coarse_ce"] = coarse_ce.detach()
            loss = loss + self.coarse_ce_weight * coarse_ce
        if self.coarse_ntxent_weight:
            probabilities = F.normalize(logits.softmax(dim=2), dim=2)
            loss = loss + self.coarse_ntxent_weight * supcon_loss(probabilities, temperature=self.temperature,
                                                                  base_temperature=self.base_temperature)
        return loss

