"""Learning through noisy labels: DR-FER (Li et al., IEEE TMM 26, 2024) as one method, in our reconstruction.

DR-FER's code is not public; its abstract names MIM as an auxiliary task, category-aware self-paced learning
that separates easy (clean) from hard (mislabeled) samples, and retrieval-based relabelling of the hard ones.
Where the paper leaves a choice, this file makes one and says so. At each epoch start (`split`):

1. every training image's CE loss against its (noisy) label, in eval mode on un-augmented images;
2. per class c, a 2-component 1-D GMM on the losses of the images labeled c (scikit-learn); p_clean = the
   posterior of the low-mean component (`classwise_clean_probability`; one GMM over all images, as DivideMix,
   is the ablation `global_clean_probability`);
3. the easy set: p_clean > clean_threshold, and within the admitted share of its class with the highest p_clean,
   a share that grows linearly from `easy_start_fraction` to 1 over the epochs after warm-up (self-paced);
4. each hard image gets a soft label from retrieval: rank the easy images' features by cosine similarity to it;
   the average precision (AP) of each class's images in that ranking, less the AP chance gives that class (its
   share of the easy set), normalised to sum 1 (`retrieval_soft_labels`).

The loss of a batch (`SelfPacedRelabel.forward`), with w_i = 0 ("drop") or p_clean_i ("weight") for a hard image:

    L = sum_i m_i CE(f(x_i), t_i) / sum_i m_i  +  mim_weight L_MIM  +  dcl_weight L_DCL
    easy:                t_i = y_i (label-smoothed),                    m_i = 1
    hard, not relabeled: t_i = y_i,                                     m_i = w_i
    hard, relabeled:     t_i = w_i y_i + (1 - w_i) r_i (r_i retrieval), m_i = 1

L_MIM is MAE's masked reconstruction loss through a light decoder on the classifier's own encoder (the same
images); L_DCL, Distribution Contrastive Learning in our form, contrasts each easy image's predicted distribution
with the class prototypes (`distribution_contrastive_loss`). Each part can be switched off for the ablation.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fer_lib.data.base import FaceDataset
from fer_lib.methods.base import LossOutput, Method, StepContext
from fer_lib.models.mae import MaskedAutoencoderViT
from fer_lib.models.masked_vit import embed_classifier_patches, encode_classifier_tokens
from fer_lib.models.vit import evaluating


@dataclass(frozen=True)
class NoisySettings:
    """The noisy-label part of a run: SelfPacedRelabel's parts and knobs, and notebook 07's `sweep`.

    The MIM task takes its mask ratio, decoder and target from the MAE settings (`mae_mask_ratio`, `mae_decoder`,
    `mae_norm_pix_loss`).
    """

    spl: bool = True                   # self-paced learning: hard samples' noisy labels dropped or down-weighted
    gmm: str = "classwise"             # classwise (one GMM per class) | global (one GMM, DivideMix's; the ablation)
    clean_threshold: float = 0.5       # easy when p_clean exceeds it
    warmup_epochs: int = 1             # epochs of CE on every label before the first split
    easy_start_fraction: float = 0.5   # share of each class admitted at the first split; grows to 1 by the last epoch
    hard: str = "drop"                 # drop (weight 0) | weight (weight p_clean) for a hard sample's noisy label
    relabel: bool = True               # hard samples learn retrieval soft labels (needs spl)
    mim_weight: float = 0.5            # MAE reconstruction loss on the classifier's encoder; 0 = off
    dcl_weight: float = 0.5            # distribution contrastive loss; 0 = off
    dcl_temperature: float = 0.1
    sweep: bool = False                # notebook 07: run the ablation at every noise kind and rate (not the method's)
    epochs: int = 0                    # notebook 07: epochs of each of its fine-tunings; 0 = finetune_epochs

    def __post_init__(self) -> None:
        if self.gmm not in ("classwise", "global"):
            raise ValueError(f"noisy_gmm must be 'classwise' or 'global', got {self.gmm!r}")
        if self.hard not in ("drop", "weight"):
            raise ValueError(f"noisy_hard must be 'drop' or 'weight', got {self.hard!r}")
        if self.relabel and not self.spl:
            raise ValueError("noisy_relabel needs noisy_spl: relabelling replaces the labels of the hard samples "
                             "that self-paced learning sets aside")
        if not (0 < self.easy_start_fraction <= 1 and 0 <= self.clean_threshold < 1):
            raise ValueError(f"noisy_easy_start_fraction must be in (0, 1] and noisy_clean_threshold in [0, 1), got "
                             f"{self.easy_start_fraction} and {self.clean_threshold}")

    def method_settings(self) -> dict[str, Any]:
        """The settings that decide what the method learns (all but `sweep`)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "sweep"}


# ---------------------------------------------------------------------------------------------------------------
# Functions of tensors: the clean / noisy split, the self-paced easy set, retrieval soft labels, the DCL loss.


@dataclass(frozen=True)
class CleanSplit:
    """GMM fits on per-sample losses: p_clean (N,) and, per fitted group (G = classes, or 1 for a global fit),
    `components` (G, 3, 2): weight, mean and variance of the [clean (low-mean), noisy] components; NaN for a group
    too small to fit (its samples count as clean)."""

    p_clean: np.ndarray
    components: np.ndarray


def two_component_fit(losses: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-component 1-D GMM on `losses` (n,): (p_clean (n,), the posterior of the low-mean component;
    components (3, 2): weight, mean, variance of [clean, noisy]). Fewer than 2 distinct losses: all clean, NaN."""
    losses = np.asarray(losses, dtype=np.float64)
    if len(np.unique(losses)) < 2:
        return np.ones(len(losses)), np.full((3, 2), np.nan)
    with warnings.catch_warnings():            # a class of a few nearly equal losses may stop early; still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(2, covariance_type="full", reg_covar=1e-4, max_iter=200, random_state=seed)
        gmm.fit(losses[:, None])
    order = np.argsort(gmm.means_.ravel())
    components = np.stack([gmm.weights_[order], gmm.means_.ravel()[order], gmm.covariances_.ravel()[order]])
    return gmm.predict_proba(losses[:, None])[:, order[0]], components


def classwise_clean_probability(losses: np.ndarray, labels: np.ndarray, num_classes: int,
                                seed: int = 0) -> CleanSplit:
    """One GMM per class c on the losses (N,) of the samples labeled c (labels (N,)): p_clean (N,), components
    (K, 3, 2). A class's loss scale (hard classes have higher losses, clean or not) no longer moves the cut."""
    p_clean, components = np.ones(len(losses)), np.full((num_classes, 3, 2), np.nan)
    for label in range(num_classes):
        members = np.flatnonzero(labels == label)
        if len(members):
            p_clean[members], components[label] = two_component_fit(losses[members], seed)
    return CleanSplit(p_clean, components)


def global_clean_probability(losses: np.ndarray, seed: int = 0) -> CleanSplit:
    """One GMM over every sample's loss (N,) (DivideMix): p_clean (N,), components (1, 3, 2)."""
    p_clean, components = two_component_fit(losses, seed)
    return CleanSplit(p_clean, components[None])


def admitted_fraction(epoch: int, warmup_epochs: int, epochs: int, start_fraction: float) -> float:
    """The self-paced schedule: lambda(e) = start + (1 - start) (e - warmup) / max(E - 1 - warmup, 1), in [start, 1]."""
    progress = (epoch - warmup_epochs) / max(epochs - 1 - warmup_epochs, 1)
    return float(np.clip(start_fraction + (1 - start_fraction) * progress, start_fraction, 1.0))


def easy_mask(p_clean: np.ndarray, labels: np.ndarray, threshold: float, fraction: float) -> np.ndarray:
    """The easy set (N,) bool: p_clean > threshold, and among the ceil(fraction * n_c) samples of their class c
    (labels (N,)) with the highest p_clean."""
    admitted = np.zeros(len(p_clean), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        ranked = members[np.argsort(-p_clean[members], kind="stable")]
        admitted[ranked[:int(np.ceil(fraction * len(members)))]] = True
    return admitted & (p_clean > threshold)


def retrieval_average_precision(query_features: torch.Tensor, gallery_features: torch.Tensor,
                                gallery_labels: torch.Tensor, num_classes: int, chunk: int = 256) -> torch.Tensor:
    """AP (Q, K) of each class's gallery items when the gallery (G, D), labels (G,), is ranked by cosine similarity
    to each query (Q, D): AP_qc = (1 / n_c) sum_k [label at rank k = c] precision_c@k, scikit-learn's
    average_precision_score for untied scores, vectorised over queries and classes. A class absent from the
    gallery gets 0."""
    if len(gallery_features) == 0:
        raise ValueError("retrieval relabelling needs a non-empty gallery of easy samples")
    gallery = F.normalize(gallery_features.float(), dim=1)
    one_hot = F.one_hot(gallery_labels.long(), num_classes).float()                  # (G, K)
    class_sizes = one_hot.sum(dim=0).clamp_min(1)                                    # (K,)
    ranks = torch.arange(1, len(gallery) + 1, device=gallery.device, dtype=torch.float32)[None, :, None]
    average_precision = []
    for queries in F.normalize(query_features.float(), dim=1).split(chunk):
        order = (queries @ gallery.T).argsort(dim=1, descending=True)                # (q, G)
        hits = one_hot[order]                                                         # (q, G, K) in rank order
        precision = hits.cumsum(dim=1) / ranks                                        # precision@k per class
        average_precision.append((hits * precision).sum(dim=1) / class_sizes)         # (q, K)
    return torch.cat(average_precision)


def retrieval_soft_labels(query_features: torch.Tensor, gallery_features: torch.Tensor,
                          gallery_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Soft labels (Q, K) of queries (Q, D) from a labeled gallery (G, D), labels (G,), our reconstruction:
    s_qc proportional to max(AP_qc - pi_c, 0), where AP_qc is `retrieval_average_precision` and pi_c the share of
    class c in the gallery, the AP a random ranking scores on expectation (so a frequent class wins no vote by its
    frequency alone); a query no class ranks above chance gets the gallery's class shares pi."""
    average_precision = retrieval_average_precision(query_features, gallery_features, gallery_labels, num_classes)
    shares = F.one_hot(gallery_labels.long(), num_classes).float().mean(dim=0)      # (K,) chance AP
    lift = (average_precision - shares).clamp_min(0)                                  # (Q, K)
    total = lift.sum(dim=1, keepdim=True)
    return torch.where(total > 0, lift / total.clamp_min(1e-12), shares.expand_as(lift))


def class_prototypes(probabilities: np.ndarray, labels: np.ndarray, easy: np.ndarray, num_classes: int) -> np.ndarray:
    """DCL's prototypes (K, K): the mean predicted distribution (N, K) of each class's easy samples; a class with
    none keeps its one-hot distribution."""
    prototypes = np.eye(num_classes, dtype=np.float32)
    for label in range(num_classes):
        members = easy & (labels == label)
        if members.any():
            prototypes[label] = probabilities[members].mean(axis=0)
    return prototypes


def distribution_contrastive_loss(probabilities: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                                  temperature: float = 0.1) -> torch.Tensor:
    """Distribution Contrastive Learning, our form: each predicted distribution p_i (B, K) is pulled towards its
    class's prototype pi_{y_i} and pushed from the others' (prototypes (K, K): mean predicted distribution of each
    class's easy samples), L = -mean_i log( exp(cos(p_i, pi_{y_i}) / tau) / sum_c exp(cos(p_i, pi_c) / tau) )."""
    similarity = F.normalize(probabilities, dim=1) @ F.normalize(prototypes, dim=1).T / temperature  # (B, K)
    return F.cross_entropy(similarity, labels)


# ---------------------------------------------------------------------------------------------------------------
# The method.


@dataclass(frozen=True)
class SplitRecord:
    """One split as a reader looks at it (numpy): losses (N,), p_clean (N,), GMM components (G, 3, 2), the easy
    set trained on (N,) bool, relabel (N,): the retrieval class of each relabelled sample, -1 for the others."""

    losses: np.ndarray
    p_clean: np.ndarray
    components: np.ndarray
    easy: np.ndarray
    relabel: np.ndarray


@dataclass(frozen=True)
class EpochSplit:
    """What one split computed over the N training samples (numpy, on the CPU): losses (N,), p_clean (N,),
    components (G, 3, 2) of the GMMs, easy (N,) bool (the set trained on as easy), relabelled (N,) bool,
    soft_targets (N, K) (retrieval labels of the relabelled rows, 0 elsewhere), prototypes (K, K)."""

    losses: np.ndarray
    p_clean: np.ndarray
    components: np.ndarray
    easy: np.ndarray
    relabelled: np.ndarray
    soft_targets: np.ndarray
    prototypes: np.ndarray

    def record(self) -> SplitRecord:
        relabel = np.where(self.relabelled, self.soft_targets.argmax(axis=1), -1)
        return SplitRecord(self.losses, self.p_clean, self.components, self.easy, relabel)


# The buffers holding each epoch's split, in SplitRecord's field order.
HISTORY = ("loss_history", "p_clean_history", "components_history", "easy_history", "relabel_history")


class SelfPacedRelabel(Method):
    """DR-FER in our reconstruction (see the module docstring): class-wise GMM self-paced learning, retrieval
    relabelling, MIM and DCL, each switched by `NoisySettings`; all off is cross-entropy on the noisy labels.

    Splits use `eval_data`: the training split in the stream's order (batch["index"] indexes both) with an eval
    transform, so losses and features come from un-augmented images, not from the stream's augmented views.
    `mim_decoder` is an MAE whose encoder is the classifier: only its masking, final norm and decoder are used
    (build it with depth=0). The classifier is a timm model (`forward_head`); MIM needs an MAE-shaped ViT.
    batch: "image" (B, C, H, W), "label" (B,), "index" (B,). Buffers (saved in checkpoints, so a run resumes its
    split) hold the current split and each epoch's losses, p_clean, GMM components, easy set and relabels.
    """

    def __init__(self, settings: NoisySettings, eval_data: FaceDataset, epochs: int, label_smoothing: float = 0.0,
                 mim_decoder: MaskedAutoencoderViT | None = None, mim_mask_ratio: float = 0.75,
                 batch_size: int = 256) -> None:
        super().__init__()
        if settings.mim_weight > 0 and mim_decoder is None:
            raise ValueError("noisy_mim_weight > 0 needs an MAE decoder (mim_decoder) for the MIM task")
        self.noisy, self.eval_data, self.epochs = settings, eval_data, epochs
        self.label_smoothing, self.mim_mask_ratio, self.batch_size = label_smoothing, mim_mask_ratio, batch_size
        self.mim_decoder = mim_decoder if settings.mim_weight > 0 else None
        if self.mim_decoder is not None:            # the classifier embeds the patches: the MAE's own embedding idles
            for parameter in (*self.mim_decoder.patch_embed.parameters(), self.mim_decoder.cls_token):
                parameter.requires_grad_(False)
        n, k = len(eval_data), eval_data.num_classes
        groups = k if settings.gmm == "classwise" else 1
        for name, value in {"p_clean": torch.ones(n), "easy": torch.ones(n, dtype=torch.bool),
                            "relabelled": torch.zeros(n, dtype=torch.bool), "soft_targets": torch.zeros(n, k),
                            "prototypes": torch.eye(k), "loss_history": torch.full((epochs, n), float("nan")),
                            "p_clean_history": torch.full((epochs, n), float("nan")),
                            "easy_history": torch.zeros(epochs, n, dtype=torch.bool),
                            "relabel_history": torch.full((epochs, n), -1, dtype=torch.long),
                            "components_history": torch.full((epochs, groups, 3, 2), float("nan"))}.items():
            self.register_buffer(name, value)

    def settings(self) -> dict[str, Any]:
        mim = self.mim_decoder
        decoder = {} if mim is None else {
            "mim_mask_ratio": self.mim_mask_ratio, "mim_norm_pix_loss": mim.norm_pix_loss,
            "mim_decoder": f"{mim.decoder_embed.out_features}x{len(mim.decoder_blocks)}"}
        return {"method": type(self).__name__, **self.noisy.method_settings(),
                "label_smoothing": self.label_smoothing, **decoder}

    # -- the split, at each epoch start ------------------------------------------------------------------------

    @torch.no_grad()
    def _outputs(self, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample CE losses (N,), pre-head features (N, D) and softmax predictions (N, K) on `eval_data`."""
        device = next(model.parameters()).device
        loader = DataLoader(self.eval_data, batch_size=self.batch_size, shuffle=False,
                            generator=torch.Generator())                           # leaves the global RNG alone
        losses, features, probabilities = [], [], []
        with evaluating(model):
            for batch in loader:
                pre_logits = model.forward_head(model.forward_features(batch["image"].to(device)), pre_logits=True)
                logits = model.get_classifier()(pre_logits).float()
                losses.append(F.cross_entropy(logits, batch["label"].to(device), reduction="none").cpu())
                features.append(pre_logits.float())
                probabilities.append(logits.softmax(dim=1).cpu())
        return torch.cat(losses), torch.cat(features), torch.cat(probabilities)

    def split(self, model: nn.Module, epoch: int) -> EpochSplit:
        """The clean / easy / hard split of the training set under `model` at `epoch` (module docstring, 1-4)."""
        settings, labels = self.noisy, self.eval_data.labels
        num_classes = self.eval_data.num_classes
        losses, features, probabilities = self._outputs(model)
        fit = (classwise_clean_probability(losses.numpy(), labels, num_classes) if settings.gmm == "classwise"
               else global_clean_probability(losses.numpy()))
        easy = np.ones(len(labels), bool)                                   # warm-up, or SPL off: every label counts
        if settings.spl and epoch >= settings.warmup_epochs:
            fraction = admitted_fraction(epoch, settings.warmup_epochs, self.epochs, settings.easy_start_fraction)
            easy = easy_mask(fit.p_clean, labels, settings.clean_threshold, fraction)
        soft_targets = np.zeros((len(labels), num_classes), np.float32)
        relabelled = ~easy if settings.relabel and easy.sum() > 1 else np.zeros(len(labels), bool)
        if relabelled.any():
            query, gallery = (torch.as_tensor(mask, device=features.device) for mask in (relabelled, easy))
            soft_targets[relabelled] = retrieval_soft_labels(
                features[query], features[gallery], torch.as_tensor(labels[easy], device=features.device),
                num_classes).cpu().numpy()
        return EpochSplit(losses.numpy(), fit.p_clean.astype(np.float32), fit.components, easy, relabelled,
                          soft_targets, class_prototypes(probabilities.numpy(), labels, easy, num_classes))

    def on_epoch_start(self, model: nn.Module, streams: Mapping[str, Dataset], epoch: int) -> None:
        """Split the training set with the current model and keep the split (and its history) in the buffers."""
        stream = next(iter(streams.values()))
        if len(stream) != len(self.eval_data):
            raise ValueError(f"SelfPacedRelabel's eval_data has {len(self.eval_data)} samples but the training stream "
                             f"{len(stream)}: give the training split itself, with an eval transform")
        split = self.split(model, epoch)
        for name in ("p_clean", "easy", "relabelled", "soft_targets", "prototypes"):
            getattr(self, name).copy_(torch.as_tensor(getattr(split, name)))
        for name, value in zip(HISTORY, vars(split.record()).values()):
            getattr(self, name)[epoch] = torch.as_tensor(value)

    def records(self) -> list[SplitRecord]:
        """The split of every epoch started so far, from the buffers (so a resumed run has them all)."""
        started = int((~self.p_clean_history.isnan().all(dim=1)).sum())
        return [SplitRecord(*(getattr(self, name)[epoch].cpu().numpy() for name in HISTORY))
                for epoch in range(started)]

    # -- the loss of a batch -----------------------------------------------------------------------------------

    def targets(self, labels: torch.Tensor, index: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample weights m (B,) and targets t (B, K) of the CE term (module docstring)."""
        smoothing = self.label_smoothing
        smoothed = F.one_hot(labels, num_classes).float() * (1 - smoothing) + smoothing / num_classes
        hard_weight = torch.zeros_like(self.p_clean[index]) if self.noisy.hard == "drop" else self.p_clean[index]
        relabelled = self.relabelled[index]
        weight = torch.where(self.easy[index] | relabelled, torch.ones_like(hard_weight), hard_weight)
        mixed = hard_weight[:, None] * smoothed + (1 - hard_weight[:, None]) * self.soft_targets[index]
        return weight, torch.where(relabelled[:, None], mixed, smoothed)

    def mim_loss(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """MAE's loss (mean MSE over masked patches) with the classifier's blocks as the encoder: (B, C, H, W) -> ()."""
        vit, mae = getattr(model, "module", model), self.mim_decoder          # DDP wraps the classifier
        kept, mask, ids_restore = mae.random_masking(embed_classifier_patches(vit, images), self.mim_mask_ratio)
        latent = mae.norm(encode_classifier_tokens(vit, kept))
        return mae.forward_loss(images, mae.forward_decoder(latent, ids_restore), mask)

    def forward(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> LossOutput:
        images, labels, index = batch["image"], batch["label"], batch["index"]
        logits = model(images).float()
        weight, target = self.targets(labels, index, logits.shape[1])
        cross_entropy = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
        loss = (weight * cross_entropy).sum() / weight.sum().clamp_min(1.0)
        easy = self.easy[index]
        metrics: dict[str, torch.Tensor | float] = {"acc": (logits.argmax(dim=1) == labels).float().mean().detach(),
                                                    "ce": loss.detach(), "easy_share": easy.float().mean()}
        if self.mim_decoder is not None:
            mim = self.mim_loss(model, images)
            loss, metrics["mim"] = loss + self.noisy.mim_weight * mim, mim.detach()
        if self.noisy.dcl_weight > 0:
            dcl = (distribution_contrastive_loss(logits[easy].softmax(dim=1), self.prototypes, labels[easy],
                                                 self.noisy.dcl_temperature) if easy.any() else logits.sum() * 0.0)
            loss, metrics["dcl"] = loss + self.noisy.dcl_weight * dcl, dcl.detach()
        return LossOutput(loss, metrics)

