"""The contrastive losses against hand-computed values and against SimCLR's InfoNCE written out."""
import math

import pytest
import torch
import torch.nn.functional as F

from fer_lib.losses.contrastive import maskfn_loss, positive_mask, supcon_loss


def simclr_info_nce(features: torch.Tensor, temperature: float) -> torch.Tensor:
    """sthalles/SimCLR's info_nce_loss: rows [view 1; view 2], the positive in column 0, CE over 2N - 1 others."""
    rows = torch.cat([features[:, 0], features[:, 1]])
    n = len(features)
    similarity = rows @ rows.T
    positives = torch.cat([similarity[range(n), range(n, 2 * n)], similarity[range(n, 2 * n), range(n)]])
    others = similarity[~torch.eye(2 * n, dtype=torch.bool)].view(2 * n, -1)
    is_positive = torch.zeros_like(others, dtype=torch.bool)
    for row in range(2 * n):
        partner = (row + n) % (2 * n)
        is_positive[row, partner - (partner > row)] = True
    negatives = others[~is_positive].view(2 * n, -1)
    logits = torch.cat([positives[:, None], negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(2 * n, dtype=torch.long))


def test_supcon_equals_hand_computation_on_three_one_view_samples() -> None:
    # samples a, b (class 0) and c (class 1) with one view: a's only positive is b.
    features = F.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), dim=1)[:, None]
    tau = 0.5
    s_ab, s_ac, s_bc = 0.6, 0.0, 0.8
    l_a = -(s_ab / tau - math.log(math.exp(s_ab / tau) + math.exp(s_ac / tau)))
    l_b = -(s_ab / tau - math.log(math.exp(s_ab / tau) + math.exp(s_bc / tau)))
    expected = (l_a + l_b) / 2                      # c has no positive: skipped, not NaN
    loss = supcon_loss(features, torch.tensor([0, 0, 1]), temperature=tau, base_temperature=tau)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_the_loss_is_scaled_by_temperature_over_base_temperature() -> None:
    features = F.normalize(torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(0)), dim=2)
    plain = supcon_loss(features, temperature=0.1, base_temperature=0.1)
    scaled = supcon_loss(features, temperature=0.1, base_temperature=0.07)
    assert scaled.item() == pytest.approx(plain.item() * 0.1 / 0.07, rel=1e-5)


def test_without_labels_two_views_equal_simclr_info_nce() -> None:
    features = F.normalize(torch.randn(6, 2, 16, generator=torch.Generator().manual_seed(1)), dim=2)
    assert supcon_loss(features, temperature=0.07).item() == pytest.approx(
        simclr_info_nce(features, 0.07).item(), rel=1e-5)


def test_no_sample_with_a_positive_gives_zero_not_nan() -> None:
    features = F.normalize(torch.randn(3, 1, 4), dim=2)
    loss = supcon_loss(features, torch.tensor([0, 1, 2]))
    assert torch.isfinite(loss) and loss.item() == 0.0


def test_a_float_mask_weighs_each_positive() -> None:
    # anchor 0 with positive 1 (weight 1) and 2 (weight 0.25): its term is the weighted mean of the two log-probs.
    features = F.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), dim=1)[:, None]
    mask = torch.tensor([[1.0, 1.0, 0.25], [1.0, 1.0, 0.0], [0.25, 0.0, 1.0]])
    logits = features[:, 0] @ features[:, 0].T
    log_prob = logits - torch.log(torch.exp(logits).masked_fill(torch.eye(3, dtype=torch.bool), 0).sum(1, keepdim=True))
    terms = [-(log_prob[0, 1] + 0.25 * log_prob[0, 2]) / 1.25, -log_prob[1, 0], -log_prob[2, 0]]
    loss = supcon_loss(features, mask=mask, temperature=1.0, base_temperature=1.0)
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)


def test_anchor_weights_multiply_each_anchors_term() -> None:
    features = F.normalize(torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(2)), dim=2)
    labels = torch.tensor([0, 0, 1, 1])
    halved = supcon_loss(features, labels, anchor_weights=torch.full((4,), 0.5))
    assert halved.item() == pytest.approx(0.5 * supcon_loss(features, labels).item(), rel=1e-5)


def test_the_mask_comes_from_labels_or_identity_and_both_at_once_is_an_error() -> None:
    assert torch.equal(positive_mask(3, torch.tensor([1, 1, 2])), torch.tensor([[1., 1, 0], [1, 1, 0], [0, 0, 1]]))
    assert torch.equal(positive_mask(2), torch.eye(2))
    with pytest.raises(ValueError, match="labels or a mask"):
        positive_mask(2, torch.tensor([0, 1]), torch.eye(2))


def test_maskfn_takes_the_most_similar_descriptor_out_of_the_denominator() -> None:
    features = F.normalize(torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(3)), dim=2)
    descriptors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])   # samples 0 and 1 look alike
    tau = 0.5
    rows = torch.cat([features[:, 0], features[:, 1]])
    s = rows @ rows.T / tau
    # anchor row 0 (sample 0, view 1): positive row 3, negatives rows 1, 2, 4, 5; k* is sample 1 (row 1: first).
    negatives = torch.stack([s[0, 2], s[0, 4], s[0, 5]])
    real = -s[0, 3] + torch.logsumexp(torch.cat([s[0, 3:4], negatives]), 0)
    false = -s[0, 1] + torch.logsumexp(torch.cat([s[0, 1:2], negatives]), 0)
    row0 = real + 0.8 * false
    full = maskfn_loss(features, descriptors, tau, 0.8)
    per_anchor = []                                                  # every anchor the same way, by loops
    for anchor in range(6):
        sample = anchor % 3
        desc = F.normalize(descriptors, dim=1)
        others = [j for j in range(3) if j != sample]
        k_sample = max(others, key=lambda j: float(desc[sample] @ desc[j]))
        k_row = k_sample                                             # the first view of k* (argmax takes the first)
        positive = (anchor + 3) % 6
        negative_rows = [r for r in range(6) if r % 3 != sample and r != k_row]
        negs = s[anchor, negative_rows]
        per_anchor.append(-s[anchor, positive] + torch.logsumexp(torch.cat([s[anchor, positive:positive + 1], negs]), 0)
                          + 0.8 * (-s[anchor, k_row] + torch.logsumexp(torch.cat([s[anchor, k_row:k_row + 1], negs]), 0)))
    assert per_anchor[0].item() == pytest.approx(row0.item(), rel=1e-5)
    assert full.item() == pytest.approx(torch.stack(per_anchor).mean().item(), rel=1e-5)
