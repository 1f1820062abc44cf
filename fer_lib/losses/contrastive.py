"""One contrastive loss for SimCLR and SupCon (Khosla et al. 2020, eq. 2), and SSL-FER's MaskFN variant.

Features are (B, V, D): B samples, V views each, L2-normalised by the caller. Every one of the B*V rows is an
anchor; its positives are given by a (B, B) mask between samples (from labels, from identity = SimCLR, or a float
mask whose entries weigh each positive, as MIMIC's mixed images need), repeated over views, self excluded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def positive_mask(batch_size: int, labels: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                  device: torch.device | None = None) -> torch.Tensor:
    """The (B, B) float positive mask: `mask` as given, else labels_i == labels_j, else the identity (SimCLR)."""
    if labels is not None and mask is not None:
        raise ValueError("give labels or a mask, not both")
    if mask is not None:
        if mask.shape != (batch_size, batch_size):
            raise ValueError(f"the mask must be ({batch_size}, {batch_size}), got {tuple(mask.shape)}")
        return mask.float()
    if labels is not None:
        labels = labels.reshape(-1, 1)
        if len(labels) != batch_size:
            raise ValueError(f"{len(labels)} labels for {batch_size} samples")
        return torch.eq(labels, labels.T).float()
    return torch.eye(batch_size, device=device)


def supcon_loss(features: torch.Tensor, labels: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                temperature: float = 0.07, base_temperature: float = 0.07,
                anchor_weights: torch.Tensor | None = None) -> torch.Tensor:
    """SupCon's L_out (eq. 2): for each anchor a with positives P(a) (weights m_ap) among all others A(a),

        l_a = - (tau / tau_base) * w_a * sum_p m_ap log( exp(z_a.z_p / tau) / sum_{k in A(a)} exp(z_a.z_k / tau) )
                                          / sum_p m_ap

    averaged over the anchors that have a positive (one without is skipped, never NaN). The denominator holds
    every other row, positives included. labels=None and mask=None is SimCLR's NT-Xent.

    features: (B, V, D) L2-normalised; labels: (B,) ints; mask: (B, B) float weights; anchor_weights: (B,)
    per-sample weights w (CRS-CONT's class weight vector). Returns a scalar.
    """
    if features.dim() != 3:
        raise ValueError(f"features must be (batch, views, dim), got {tuple(features.shape)}")
    batch, views, _ = features.shape
    sample_mask = positive_mask(batch, labels, mask, features.device).to(features.device)
    rows = features.transpose(0, 1).reshape(batch * views, -1)            # view-major: row v*B + i
    logits = rows @ rows.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()    # numerical stability only
    not_self = 1.0 - torch.eye(batch * views, device=features.device)
    pair_mask = sample_mask.repeat(views, views) * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(dim=1, keepdim=True))
    positives = pair_mask.sum(dim=1)
    has_positive = positives > 0
    mean_log_prob = (pair_mask * log_prob).sum(dim=1)[has_positive] / positives[has_positive]
    loss = -(temperature / base_temperature) * mean_log_prob
    if anchor_weights is not None:
        loss = loss * anchor_weights.to(loss.dtype).repeat(views)[has_positive]
    return loss.mean() if loss.numel() else features.sum() * 0.0


def maskfn_loss(features: torch.Tensor, descriptors: torch.Tensor, temperature: float = 0.07,
                false_negative_weight: float = 0.8) -> torch.Tensor:
    """SSL-FER's MaskFN (released `info_nce_loss_withmask_agg`): SimCLR with a false negative taken out.

    For each anchor, k* is the negative whose *descriptor* (eye + mouth appearance) is most similar to the
    anchor's: it is likely the same expression, so it leaves the denominator and gets a term of its own,

        L = CE([s_pos, negatives without k*] / tau, 0) + w * CE([s_k*, negatives without k*] / tau, 0).

    features: (B, 2, D) L2-normalised, the two views of each sample; descriptors: (B, E), one per sample
    (both views share it). Returns a scalar.
    """
    batch, views, _ = features.shape
    if views != 2:
        raise ValueError(f"MaskFN pairs two views, got {views}")
    rows = features.transpose(0, 1).reshape(2 * batch, -1)
    sample = torch.arange(batch, device=features.device).repeat(2)
    similarity = rows @ rows.T / temperature
    descriptor = F.normalize(descriptors.float(), dim=1)[sample]
    descriptor_similarity = descriptor @ descriptor.T
    same_sample = sample[:, None] == sample[None, :]
    descriptor_similarity = descriptor_similarity.masked_fill(same_sample, -torch.inf)
    false_negative = descriptor_similarity.argmax(dim=1)                                  # k* per anchor
    index = torch.arange(2 * batch, device=features.device)
    positive = (index + batch) % (2 * batch)
    negatives = ~same_sample
    negatives[index, false_negative] = False
    negative_logits = similarity.masked_fill(~negatives, -torch.inf)
    target = torch.zeros(2 * batch, dtype=torch.long, device=features.device)
    real = F.cross_entropy(torch.cat([similarity[index, positive, None], negative_logits], dim=1), target)
    false = F.cross_entropy(torch.cat([similarity[index, false_negative, None], negative_logits], dim=1), target)
    return real + false_negative_weight * false
