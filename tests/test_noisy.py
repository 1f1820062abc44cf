"""Noisy labels (DR-FER, our reconstruction): noise injection, the GMM clean/noisy split, retrieval soft labels,
the method's loss and a two-epoch fit that splits, relabels and resumes its split."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, roc_auc_score

from fer_lib.config import make_config
from fer_lib.data.base import EMOTIONS_7, EMOTIONS_8, DatasetError, DatasetSplits, FaceDataset
from fer_lib.data.noise import flip_matrix, inject_noise, noisy_training_split, vote_noise
from fer_lib.data.transforms import eval_transform, train_transform
from fer_lib.engine.train import TrainSettings, fit
from fer_lib.eval.noise_detection import (auroc_contributions, detection_scores, gmm_densities, relabel_scores)
from fer_lib.methods.base import StepContext
from fer_lib.methods.noisy import (NoisySettings, SelfPacedRelabel, admitted_fraction, classwise_clean_probability,
                                   distribution_contrastive_loss, easy_mask, global_clean_probability,
                                   retrieval_average_precision, retrieval_soft_labels)
from fer_lib.models.checkpoints import read_checkpoint
from fer_lib.models.mae import build_mae
from fer_lib.models.masked_vit import embed_classifier_patches, encode_classifier_tokens
from fer_lib.models.vit import build_vit_classifier, load_encoder_weights
from fer_lib.recipes.noisy import mim_decoder, noisy_label_finetune

SAD, NEUTRAL, HAPPY, FEAR, SURPRISE = (EMOTIONS_7.index(name)
                                       for name in ("sad", "neutral", "happy", "fear", "surprise"))
ALL_OFF = NoisySettings(spl=False, relabel=False, mim_weight=0.0, dcl_weight=0.0)


def labeled(labels: np.ndarray, size: int = 2, soft_labels: np.ndarray | None = None) -> FaceDataset:
    """Images whose mean colour tells the label (so a model can learn it), labels as given."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (len(labels), size, size, 3)) + (np.asarray(labels) * 30)[:, None, None, None]
    return FaceDataset(images.astype(np.uint8), labels, EMOTIONS_7, soft_labels=soft_labels, name="toy")


# -- noise ------------------------------------------------------------------------------------------------------

def test_a_symmetric_flip_matrix_keeps_1_minus_rate_and_spreads_rate_over_the_other_classes() -> None:
    matrix = flip_matrix("symmetric", 0.4, EMOTIONS_7)
    np.testing.assert_allclose(np.diag(matrix), 0.6)
    np.testing.assert_allclose(matrix[SAD, NEUTRAL], 0.4 / 6)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)


def test_an_asymmetric_flip_matrix_flips_the_fer_pairs_and_contempt_to_neutral_only() -> None:
    matrix = flip_matrix("asymmetric", 0.2, EMOTIONS_8)
    index = EMOTIONS_8.index
    for clean, noisy in [("sad", "neutral"), ("neutral", "sad"), ("fear", "surprise"), ("surprise", "fear"),
                         ("disgust", "anger"), ("anger", "disgust"), ("contempt", "neutral")]:
        assert matrix[index(clean), index(noisy)] == pytest.approx(0.2)
        assert matrix[index(clean), index(clean)] == pytest.approx(0.8)
    assert matrix[index("happy"), index("happy")] == 1.0 and matrix[index("neutral"), index("contempt")] == 0.0
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert flip_matrix("asymmetric", 0.2, EMOTIONS_7).shape == (7, 7)
    with pytest.raises(ValueError, match="FER classes"):
        flip_matrix("asymmetric", 0.2, ("cat", "dog"))
    with pytest.raises(ValueError, match="unknown flip kind"):
        flip_matrix("pairwise", 0.2, EMOTIONS_7)


def test_injected_symmetric_noise_flips_exactly_the_rate_of_each_class_and_keeps_the_clean_labels() -> None:
    clean = np.repeat(np.arange(7), 50)
    noisy = inject_noise(labeled(clean), flip_matrix("symmetric", 0.4, EMOTIONS_7), seed=1)
    flipped = noisy.labels != clean
    assert [int(flipped[clean == c].sum()) for c in range(7)] == [20] * 7
    assert np.array_equal(noisy.meta["true_label"], clean) and np.array_equal(noisy.meta["flipped"], flipped)
    again = inject_noise(labeled(clean), flip_matrix("symmetric", 0.4, EMOTIONS_7), seed=1)
    other = inject_noise(labeled(clean), flip_matrix("symmetric", 0.4, EMOTIONS_7), seed=2)
    assert np.array_equal(again.labels, noisy.labels) and not np.array_equal(other.labels, noisy.labels)


def test_injected_asymmetric_noise_goes_only_to_the_partner_class_and_leaves_happy_alone() -> None:
    clean = np.repeat(np.arange(7), 40)
    noisy = inject_noise(labeled(clean), flip_matrix("asymmetric", 0.25, EMOTIONS_7), seed=0).labels
    assert (noisy[clean == HAPPY] == HAPPY).all()
    assert np.array_equal(np.unique(noisy[(clean == FEAR) & (noisy != FEAR)]), [SURPRISE])
    assert int((noisy[clean == SAD] == NEUTRAL).sum()) == 10


def test_noise_on_noisy_data_keeps_the_first_clean_labels() -> None:
    clean = np.repeat(np.arange(7), 20)
    twice = noisy_training_split(noisy_training_split(labeled(clean), "symmetric", 0.5, 0), "symmetric", 0.5, 1)
    assert np.array_equal(twice.meta["true_label"], clean)
    assert np.array_equal(twice.meta["flipped"], twice.labels != clean)
    with pytest.raises(ValueError, match="unknown noise kind"):
        noisy_training_split(labeled(clean), "uniform", 0.1, 0)


def test_vote_noise_draws_each_label_from_its_votes_and_needs_votes() -> None:
    votes = np.zeros((200, 7), np.float32)
    votes[:100, SAD] = 1.0                                     # unanimous: the label is always sad
    votes[100:, [FEAR, SURPRISE]] = 0.5                        # split: about half and half
    noisy = vote_noise(labeled(np.full(200, FEAR), soft_labels=votes), seed=0)
    assert (noisy.labels[:100] == SAD).all()
    assert set(noisy.labels[100:]) == {FEAR, SURPRISE} and 30 < (noisy.labels[100:] == FEAR).sum() < 70
    assert np.array_equal(noisy.meta["flipped"], noisy.labels != FEAR)
    with pytest.raises(DatasetError, match="toy has no annotator votes"):
        vote_noise(labeled(np.zeros(4, int)), seed=0)


# -- the clean / noisy split ------------------------------------------------------------------------------------

def two_classes_with_different_loss_scales() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An easy class (clean losses ~0.1, flipped ~1.0) and a hard one (clean ~1.2, flipped ~3.0), 20% flipped
    each: one global cut must mistake the hard class's clean samples or the easy class's flipped ones."""
    rng = np.random.default_rng(0)
    losses = np.concatenate([rng.normal(0.1, 0.03, 80), rng.normal(1.0, 0.05, 20),
                             rng.normal(1.2, 0.05, 80), rng.normal(3.0, 0.1, 20)])
    labels = np.repeat([0, 1], 100)
    flipped = np.tile(np.repeat([False, True], [80, 20]), 2)
    return losses, labels, flipped


def test_a_classwise_gmm_separates_flips_that_a_global_gmm_mixes_up_across_loss_scales() -> None:
    losses, labels, flipped = two_classes_with_different_loss_scales()
    classwise = classwise_clean_probability(losses, labels, num_classes=2)
    global_fit = global_clean_probability(losses)
    by_class, overall = detection_scores(classwise.p_clean, flipped), detection_scores(global_fit.p_clean, flipped)
    assert by_class.precision == 1.0 and by_class.recall == 1.0 and by_class.auroc == 1.0
    assert overall.auroc == pytest.approx(0.75, abs=0.02)     # the easy class's flips rank below the hard class's clean
    np.testing.assert_allclose(classwise.components[:, 1], [[0.1, 1.0], [1.2, 3.0]], atol=0.05)  # clean mean first
    np.testing.assert_allclose(classwise.components[:, 0], [[0.8, 0.2], [0.8, 0.2]], atol=0.01)  # weights
    assert global_fit.components.shape == (1, 3, 2)


def test_a_class_of_identical_losses_counts_as_clean() -> None:
    split = classwise_clean_probability(np.array([0.5, 0.5, 0.1, 2.0]), np.array([0, 0, 1, 1]), num_classes=3)
    assert split.p_clean[:2].tolist() == [1.0, 1.0] and np.isnan(split.components[[0, 2]]).all()


def test_the_easy_set_admits_a_growing_share_of_each_class_above_the_threshold() -> None:
    assert admitted_fraction(1, warmup_epochs=1, epochs=5, start_fraction=0.5) == 0.5
    assert admitted_fraction(2, warmup_epochs=1, epochs=5, start_fraction=0.5) == pytest.approx(2 / 3)
    assert admitted_fraction(4, warmup_epochs=1, epochs=5, start_fraction=0.5) == 1.0
    p_clean = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.95])
    labels = np.array([0, 0, 0, 0, 1, 1])
    assert easy_mask(p_clean, labels, 0.5, 0.5).tolist() == [True, True, False, False, False, True]
    assert easy_mask(p_clean, labels, 0.5, 1.0).tolist() == [True, True, True, False, True, True]


def test_detection_scores_and_auroc_contributions_by_hand() -> None:
    p_clean = np.array([0.9, 0.2, 0.6, 0.4, 0.1])
    flipped = np.array([False, True, False, False, True])
    scores = detection_scores(p_clean, flipped)                 # flagged: 0.2, 0.4, 0.1
    assert (scores.precision, scores.recall, scores.flagged) == (pytest.approx(2 / 3), 1.0, 3)
    assert auroc_contributions(p_clean, flipped).tolist() == [1.0, 1.0]
    tied = np.array([0.5, 0.5, 0.9, 0.1])
    contributions = auroc_contributions(tied, np.array([True, False, False, True]))
    assert contributions.tolist() == [0.75, 1.0]
    assert contributions.mean() == pytest.approx(roc_auc_score([1, 0, 0, 1], 1 - tied))
    confident = np.array([1e-30, 1e-20, 0.9])                  # 1 - p_clean would tie the first two
    assert detection_scores(confident, np.array([True, False, False])).auroc == 1.0


def test_relabel_scores_count_fixes_and_breaks_against_the_clean_labels() -> None:
    scores = relabel_scores(relabel=np.array([2, -1, 1, 0]), noisy_labels=np.array([1, 1, 1, 0]),
                            true_labels=np.array([2, 1, 0, 0]))
    assert scores == {"relabelled": 3, "accuracy": pytest.approx(2 / 3), "was right": pytest.approx(1 / 3),
                      "fixed": 1, "broken": 0}


def test_gmm_densities_are_weighted_normal_densities() -> None:
    components = np.array([[0.25, 0.75], [0.0, 2.0], [1.0, 4.0]])
    densities = gmm_densities(np.array([0.0]), components)
    clean_at_0 = 0.25 / math.sqrt(2 * math.pi)                     # weight 0.25, N(0 | mean 0, variance 1)
    noisy_at_0 = 0.75 * math.exp(-0.5) / math.sqrt(8 * math.pi)    # weight 0.75, N(0 | mean 2, variance 4)
    np.testing.assert_allclose(densities, [[clean_at_0, noisy_at_0]])


# -- retrieval soft labels and DCL -------------------------------------------------------------------------------

def test_retrieval_soft_labels_are_class_average_precisions_above_chance_normalised() -> None:
    gallery = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.0, 1.0]])  # ranked by cosine to (1, 0)
    labels = torch.tensor([0, 1, 0, 2, 1])                                           # the ranking reads A B A C B
    query = torch.tensor([[2.0, 0.0]])
    ap_a, ap_b, ap_c = (1 / 1 + 2 / 3) / 2, (1 / 2 + 2 / 5) / 2, 1 / 4
    torch.testing.assert_close(retrieval_average_precision(query, gallery, labels, 4),
                               torch.tensor([[ap_a, ap_b, ap_c, 0.0]]))
    lift = torch.tensor([[ap_a - 0.4, ap_b - 0.4, ap_c - 0.2, 0.0]])                  # less each class's share
    torch.testing.assert_close(retrieval_soft_labels(query, gallery, labels, 4), lift / lift.sum())
    one_class = retrieval_soft_labels(query, gallery[[0, 2]], labels[[0, 2]], 4)      # no class above chance:
    torch.testing.assert_close(one_class, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))         # the gallery's shares


def test_retrieval_average_precision_matches_scikit_learn() -> None:
    generator = torch.Generator().manual_seed(0)
    queries, gallery = torch.randn(5, 8, generator=generator), torch.randn(40, 8, generator=generator)
    labels = torch.arange(40) % 4
    average_precision = retrieval_average_precision(queries, gallery, labels, num_classes=4, chunk=2)
    similarity = (F.normalize(queries, dim=1) @ F.normalize(gallery, dim=1).T).numpy()
    expected = [[average_precision_score(labels.numpy() == c, row) for c in range(4)] for row in similarity]
    np.testing.assert_allclose(average_precision.numpy(), expected, rtol=1e-5)


def test_distribution_contrastive_loss_by_hand() -> None:
    loss = distribution_contrastive_loss(torch.tensor([[1.0, 0.0]]), torch.eye(2), torch.tensor([0]), temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)))


# -- the method -------------------------------------------------------------------------------------------------

def tiny_vit(global_pool: str = "avg") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_vit_classifier("vit_smoke", 7, img_size=16, global_pool=global_pool)


def toy_faces(count: int = 21) -> FaceDataset:
    return labeled(np.arange(count) % 7, size=16)


def test_the_masked_classifier_pass_without_masking_is_the_classifiers_own_encoder() -> None:
    vit, images = tiny_vit("token").eval(), torch.randn(2, 3, 16, 16)
    tokens = vit.norm(encode_classifier_tokens(vit, embed_classifier_patches(vit, images)))
    torch.testing.assert_close(tokens, vit.forward_features(images))


def method_with_split(settings: NoisySettings, faces: FaceDataset) -> SelfPacedRelabel:
    """Three samples: easy (p_clean 0.9), hard (0.3), hard and relabelled to class 2 (0.2)."""
    method = SelfPacedRelabel(settings, faces, epochs=1, label_smoothing=0.0)
    method.easy[:3] = torch.tensor([True, False, False])
    method.p_clean[:3] = torch.tensor([0.9, 0.3, 0.2])
    method.relabelled[:3] = torch.tensor([False, False, True])
    method.soft_targets[2] = F.one_hot(torch.tensor(2), 7).float()
    return method


def test_hard_labels_are_dropped_or_weighted_and_relabelled_ones_learn_their_retrieval_label() -> None:
    labels, index = torch.tensor([0, 1, 4]), torch.arange(3)
    drop = method_with_split(NoisySettings(mim_weight=0.0, dcl_weight=0.0), toy_faces())
    weight, target = drop.targets(labels, index, 7)
    assert weight.tolist() == [1.0, 0.0, 1.0]
    assert target.argmax(dim=1).tolist() == [0, 1, 2] and target[2, 2] == 1.0
    soft = method_with_split(NoisySettings(hard="weight", mim_weight=0.0, dcl_weight=0.0), toy_faces())
    weight, target = soft.targets(labels, index, 7)
    torch.testing.assert_close(weight, torch.tensor([1.0, 0.3, 1.0]))
    assert target[2, 4].item() == pytest.approx(0.2) and target[2, 2].item() == pytest.approx(0.8)


def test_with_every_part_off_the_loss_is_plain_cross_entropy_on_the_noisy_labels() -> None:
    faces, model = toy_faces(), tiny_vit()
    method = SelfPacedRelabel(ALL_OFF, faces, epochs=1, label_smoothing=0.1)
    batch = {"image": torch.randn(4, 3, 16, 16), "label": torch.tensor([0, 3, 3, 6]), "index": torch.arange(4)}
    output = method(model, batch, StepContext(0, 0, 0, 1))
    expected = F.cross_entropy(model(batch["image"]), batch["label"], label_smoothing=0.1)
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_full_loss_adds_the_mim_and_dcl_terms_and_trains_the_decoder() -> None:
    faces, model = toy_faces(), tiny_vit()
    decoder = build_mae("vit_smoke", "dec64d1", img_size=16, depth=0)
    method = SelfPacedRelabel(NoisySettings(mim_weight=0.5, dcl_weight=0.5), faces, 1, 0.0, decoder, 0.5)
    batch = {"image": torch.randn(3, 3, 16, 16), "label": torch.tensor([0, 1, 4]), "index": torch.arange(3)}
    output = method(model, batch, StepContext(0, 0, 0, 1))
    assert output.loss.item() == pytest.approx(
        (output.metrics["ce"] + 0.5 * output.metrics["mim"] + 0.5 * output.metrics["dcl"]).item(), rel=1e-5)
    output.loss.backward()
    assert decoder.decoder_pred.weight.grad is not None and model.blocks[0].attn.qkv.weight.grad is not None
    assert decoder.patch_embed.proj.weight.grad is None                     # the classifier embeds the patches


def test_settings_reject_relabelling_without_self_paced_learning_and_unknown_choices() -> None:
    with pytest.raises(ValueError, match="relabel needs noisy_spl"):
        NoisySettings(spl=False, relabel=True)
    with pytest.raises(ValueError, match="classwise' or 'global"):
        NoisySettings(gmm="kmeans")
    cfg = make_config("smoke", noisy_gmm="global", noisy_hard="weight")
    assert (cfg.noisy.gmm, cfg.noisy.hard, cfg.noisy.warmup_epochs) == ("global", "weight", 0)


def test_a_two_epoch_fit_splits_after_warmup_relabels_the_hard_set_and_resumes_its_split(tmp_path: Path) -> None:
    clean = np.arange(32) % 4
    train = inject_noise(labeled(clean, size=16), flip_matrix("symmetric", 0.25, EMOTIONS_7), seed=0)
    settings = NoisySettings(warmup_epochs=1, mim_weight=0.5, dcl_weight=0.5)

    def run() -> tuple[SelfPacedRelabel, list]:
        method = SelfPacedRelabel(settings, train.with_transform(eval_transform(16)), epochs=2, label_smoothing=0.1,
                                  mim_decoder=build_mae("vit_smoke", "dec64d1", img_size=16, depth=0))
        result = fit(tiny_vit(), method, train.with_transform(train_transform(16, scale=(0.8, 1))),
                     TrainSettings(epochs=2, batch_size=32, base_lr=1e-3, device="cpu", seed=0), tmp_path)
        return method, result.history

    method, history = run()
    records = method.records()
    assert len(records) == 2 and records[0].easy.all() and (records[0].relabel == -1).all()  # warm-up: CE on all
    easy = records[1].easy
    for label in np.unique(train.labels):                                  # at most half of each class admitted
        assert easy[train.labels == label].sum() <= math.ceil(0.5 * (train.labels == label).sum())
    assert (~easy).any() and ((records[1].relabel >= 0) == ~easy).all()   # every hard sample is relabelled
    assert {"train_mim", "train_dcl", "train_easy_share"} <= set(history[-1])
    saved = read_checkpoint(tmp_path / "last.pt")["method"]
    assert torch.equal(saved["easy_history"], method.easy_history)
    resumed, _ = run()                                                      # finished run: the split comes back
    assert all(np.array_equal(a.p_clean, b.p_clean) for a, b in zip(resumed.records(), records))


def test_the_mim_decoder_starts_from_an_mae_checkpoints_decoder(tmp_path: Path) -> None:
    cfg = make_config("smoke", image_size=16)
    mae = build_mae(cfg.arch, cfg.mae.decoder, img_size=16)
    torch.nn.init.normal_(mae.norm.weight)
    torch.save({"model": mae.state_dict()}, tmp_path / "mae.pt")
    decoder = mim_decoder(cfg, tmp_path / "mae.pt")
    assert len(decoder.blocks) == 0
    torch.testing.assert_close(decoder.decoder_pred.weight, mae.decoder_pred.weight)
    torch.testing.assert_close(decoder.norm.weight, mae.norm.weight)


def test_the_recipe_scores_every_split_and_the_selected_model_against_the_clean_labels() -> None:
    cfg = make_config("smoke", image_size=16, noise_kind="symmetric", noise_rate=0.25, finetune_batch_size=32)
    clean = np.arange(48) % 6
    noisy = noisy_training_split(labeled(clean, size=16), "symmetric", 0.25, seed=0)
    splits = DatasetSplits(noisy, labeled(np.arange(14) % 7, size=16), labeled(np.arange(14) % 7, size=16))
    result = noisy_label_finetune(cfg, splits=splits, label="toy")
    assert len(result.splits) == len(result.detection) == len(result.relabel) == cfg.finetune.epochs + 1
    assert np.array_equal(result.clean, clean) and result.flipped.sum() == noisy.meta["flipped"].sum() > 0
    assert result.detection[-1].flipped == int(result.flipped.sum())
    assert result.finetune.run_dir.name.startswith("finetune-toy-")


def test_the_mim_loss_on_the_classifier_is_the_mae_loss_of_the_mae_it_was_loaded_from(tmp_path: Path) -> None:
    cfg = make_config("smoke", image_size=16)
    torch.manual_seed(1)
    mae = build_mae(cfg.arch, cfg.mae.decoder, img_size=16).eval()
    torch.save({"model": mae.state_dict()}, tmp_path / "mae.pt")
    vit = tiny_vit()                                            # average pooling: the MAE's final norm stays with MIM
    load_encoder_weights(vit, tmp_path / "mae.pt")
    method = SelfPacedRelabel(NoisySettings(), toy_faces(), 1, 0.0, mim_decoder(cfg, tmp_path / "mae.pt"), 0.75)
    images = torch.randn(3, 3, 16, 16)
    torch.manual_seed(0)
    through_the_classifier = method.mim_loss(vit.eval(), images)
    torch.manual_seed(0)                                        # the same random masking
    assert through_the_classifier.item() == pytest.approx(mae(images, 0.75)[0].item(), rel=1e-5)
