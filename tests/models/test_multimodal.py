"""MultimodalNetwork / MultimodalRecommender on hand-made content (no encoders, no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pixelrec.config.model import ModelConfig
from pixelrec.models.multimodal import FUSIONS, MultimodalNetwork, MultimodalRecommender
from pixelrec.models.multimodal.content import build_content, split_tags
from pixelrec.models.multimodal.contrastive import MAX_TEMPERATURE, ContrastiveAlignment
from pixelrec.models.multimodal.network import history_matrix
from pixelrec.training.losses import build_loss

ITEMS = [f"i{k}" for k in range(8)]


def content(id_items=ITEMS[:6], seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"item_id": ITEMS, "tag": ["red, mug", "blue|mug", "", "red", None,
                                                    "green, lamp", "lamp", "red, lamp"],
                          "views": np.arange(8.0)})
    features = {"image": (rng.normal(size=(8, 6)).astype(np.float32), np.array([1] * 7 + [0],
                                                                                  dtype=bool)),
                "text": (rng.normal(size=(8, 5)).astype(np.float32), np.ones(8, dtype=bool))}
    return build_content(ITEMS, table, features, ["views"], use_tags=True, id_items=id_items)


def network(**cfg):
    torch.manual_seed(0)
    config = ModelConfig(embedding_dim=8, fusion_hidden_dims=[16], num_attention_heads=2,
                         history_length=3, **cfg)
    return MultimodalNetwork(content(), n_users=3, cfg=config)


def test_content_tags_ids_and_normalisation():
    c = content()
    assert split_tags("Red, mug ,") == ["red", "mug"] and split_tags(None) == []
    assert c.tag_vocab == ["blue", "green", "lamp", "mug", "red"]
    assert c.tags[1].tolist() == [1, 4] and c.tags[2].tolist() == [0, 0]
    assert c.id_rows.tolist() == [1, 2, 3, 4, 5, 6, 0, 0]  # i6, i7 are cold
    assert np.allclose(np.linalg.norm(c.modalities["text"][0], axis=1), 1.0)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_selected_fusion_module_runs(fusion):
    net = network(fusion_type=fusion)
    assert type(net.item_tower.fusion) is FUSIONS[fusion]
    ran = []
    net.item_tower.fusion.register_forward_hook(lambda m, i, o: ran.append(tuple(i[0].shape)))
    out = net.item_vectors()
    assert out.shape == (8, 9) and torch.isfinite(out).all()  # 8-d vector + the bias column
    assert ran == [(8, 4, 8)]  # image, text, numeric, tags tokens; the id is a residual


def test_item_id_as_a_fusion_token():
    net = network(item_id_fusion="token")
    ran = []
    net.item_tower.fusion.register_forward_hook(lambda m, i, o: ran.append(tuple(i[0].shape)))
    net.item_vectors()
    assert ran == [(8, 5, 8)]  # ... plus the id token


def test_gated_weights_are_a_softmax_over_modalities():
    net = network(fusion_type="gated")
    net.item_vectors()
    weights = net.item_tower.fusion.last_weights
    assert weights.shape == (8, 4) and torch.allclose(weights.sum(1), torch.ones(8))


def test_item_vector_is_scaled_content_plus_id_and_bias_is_id_plus_content_bias():
    net = network(content_scale=0.25, similarity="dot")
    net.eval()
    tower = net.item_tower
    with torch.no_grad():
        tower.bias.weight.uniform_()
        vecs, bias = tower(torch.arange(8))
        tokens = list(tower.modality_tokens(torch.arange(8)).values())
        tokens += [tower.numeric(tower.x_numeric), tower.tags(tower.x_tags)]
        tokens[-1][2] = tower.missing["tags"]  # i2 has no tags
        tokens[-1][4] = tower.missing["tags"]  # nor i4
        content = 0.25 * tower.fusion(torch.stack(tokens, 1))
        rows = tower.id_rows
        assert torch.allclose(vecs, content + tower.ids(rows), atol=1e-6)
        assert torch.allclose(bias, tower.bias(rows).squeeze(1)
                              + tower.content_bias(content).squeeze(1), atol=1e-6)


def test_missing_modality_uses_learned_embedding_and_cold_items_share_the_new_item_row():
    net = network()
    tokens = net.item_tower.modality_tokens(torch.arange(8))
    assert torch.equal(tokens["image"][7], net.item_tower.missing["image"].detach())
    net.eval()
    with torch.no_grad():
        before = net.item_vectors()
        net.item_tower.ids.weight[1:].add_(1.0)  # every warm item's own id
        net.item_tower.bias.weight[1:].add_(1.0)
        middle = net.item_vectors()
        net.item_tower.ids.weight[0].add_(1.0)  # the learned "new item" row
        after = net.item_vectors()
    assert torch.equal(before[6:], middle[6:])  # cold i6, i7: content + row 0 only
    assert not torch.allclose(before[:6], middle[:6])
    assert not torch.allclose(middle[6:], after[6:]) and torch.equal(middle[:6], after[:6])


def test_id_dropout_scores_items_as_cold_in_training_only():
    net = network(id_dropout=1.0, fusion_type="sum", similarity="dot")
    items = torch.arange(6)
    net.train()
    dropped = net.item_tower(items)
    cold = content(id_items=[])
    net.item_tower.set_content(cold)
    net.eval()
    as_cold = net.item_tower(items)
    assert all(torch.allclose(a, b) for a, b in zip(dropped, as_cold, strict=True))


def test_history_matrix_keeps_most_recent_first():
    hist = history_matrix(np.array([1, 1, 1, 1, 2]), np.array([5, 6, 7, 8, 3]),
                          np.array([4, 1, 3, 2, 0]), n_users=3, length=3)
    assert hist.tolist() == [[-1, -1, -1], [5, 7, 8], [3, -1, -1], [-1, -1, -1]]


def test_contrastive_is_symmetric_infonce_with_clamped_temperature():
    head = ContrastiveAlignment(0.5)
    image = torch.eye(3)
    text = torch.eye(3)
    logits = 2.0 * torch.eye(3)
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    assert torch.isclose(head(image, text, torch.ones(3, dtype=bool)), expected)
    with torch.no_grad():
        head.log_scale.fill_(-5.0)  # temperature e^5, above the range
    assert head.temperature == pytest.approx(MAX_TEMPERATURE)
    assert head(image, text, torch.tensor([True, False, False])) == 0.0


@pytest.mark.parametrize("loss", ["bce", "bpr", "softmax"])
def test_forward_returns_losses_with_contrastive_term(loss):
    net = network(use_contrastive=True, contrastive_weight=0.5, user_history="attention")
    net.objective = build_loss(loss)
    net.set_history(np.array([[-1, -1, -1], [0, 1, -1], [2, -1, -1], [3, 4, 5]]))
    batch = {"users": torch.tensor([1, 2, 3]), "pos": torch.tensor([0, 2, 3])}
    if loss == "softmax":  # sampled: the rows' positives then their negatives
        batch.update(cands=torch.tensor([0, 2, 3, 4, 5, 1]), valid=torch.ones(3, 6, dtype=bool),
                     log_q=torch.zeros(6), target=torch.arange(3))
    else:
        batch["neg"] = torch.tensor([[4], [5], [1]])
    out = net(batch)
    assert torch.isclose(out["loss"], out["main"] + 0.5 * out["contrastive"])
    out["loss"].backward()
    assert net.contrastive.log_scale.grad is not None


def as_new_logits(net, user_vecs):
    """Scores of the 6 train items as brand-new items (id row 0: content only)."""
    rows = torch.arange(6)
    return net.scorer.matrix(user_vecs, net.rank_items(*net.item_tower(rows, as_new=True)))


@pytest.mark.parametrize("new_weight", [0.0, 0.5])
def test_full_softmax_is_cross_entropy_over_every_train_item(new_weight):
    net = network(user_history="mean", similarity="dot", new_item_loss_weight=new_weight)
    net.objective = build_loss("softmax")
    net.set_history(np.array([[-1, -1, -1], [0, 1, -1], [2, -1, -1], [3, 4, 5]]))
    net.eval()  # no dropout: the loss is a function of the weights
    users, pos = torch.tensor([1, 2]), torch.tensor([1, 2])
    out = net({"users": users, "pos": pos})
    table = net.item_vectors()
    user_vecs = net.user_vectors(users, table, exclude=pos)
    logits = user_vecs @ table[:6].T  # candidates: the 6 train items, never cold i6, i7
    ce = torch.nn.functional.cross_entropy
    expected = ce(logits, pos) + new_weight * ce(as_new_logits(net, user_vecs), pos)
    assert torch.isclose(out["main"], expected, atol=1e-5)


@pytest.mark.parametrize("new_weight", [0.0, 0.5])
def test_sequence_batch_predicts_every_next_item(new_weight):
    net = network(user_history="transformer", history_heads=2, similarity="dot",
                  new_item_loss_weight=new_weight)
    net.objective = build_loss("softmax")
    net.eval()
    seq = torch.tensor([[0, 1, 2], [3, 4, -1]])
    targets = torch.tensor([[1, 2, 3], [4, 5, -1]])
    out = net({"users": torch.tensor([1, 2]), "seq": seq, "targets": targets})
    table = net.item_vectors()
    mask = seq >= 0
    states = net.user_tower.sequence(torch.tensor([1, 2]),
                                     table[seq.clamp_min(0)][..., :8] * mask.unsqueeze(-1), mask)
    user_vecs = net.rank_users(states[targets >= 0])
    ce = torch.nn.functional.cross_entropy
    flat = targets[targets >= 0]
    expected = ce(user_vecs @ table[:6].T, flat) + new_weight * ce(as_new_logits(net, user_vecs),
                                                                   flat)
    assert torch.isclose(out["main"], expected, atol=1e-5)


def test_transformer_history_encoder_is_causal():
    net = network(user_history="transformer", history_heads=2)
    net.eval()
    encoder = net.user_tower.encoder
    items = torch.randn(1, 3, 8)
    mask = torch.ones(1, 3, dtype=torch.bool)
    changed = items.clone()
    changed[0, 2] = torch.randn(8)  # only the latest item differs
    with torch.no_grad():
        a, b = encoder(items, mask), encoder(changed, mask)
    assert torch.allclose(a[0, :2], b[0, :2], atol=1e-6)  # earlier positions: unchanged
    assert not torch.allclose(a[0, 2], b[0, 2])


def test_user_vector_of_a_history_is_the_encoder_output_at_its_latest_item():
    net = network(user_history="transformer", history_heads=2)
    net.eval()
    items = torch.randn(1, 3, 8)
    with torch.no_grad():
        # the tower reads histories most recent first, with holes (a removed target)
        recent_first = torch.stack([items[0, 2], torch.zeros(8), items[0, 1]])[None]
        mask = torch.tensor([[True, False, True]])
        vec = net.user_tower(torch.tensor([1]), recent_first, mask)
        direct = net.user_tower.encoder(items[:, 1:], torch.ones(1, 2, dtype=torch.bool))[0, 1]
    assert torch.allclose(vec[0], direct, atol=1e-6)


def fitted(scorer="dot", **cfg):
    net = network(scorer=scorer, user_history="mean", **cfg)
    train = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "item_id": ["i0", "i1", "i2", "i3"],
                          "timestamp": [1, 2, 3, 4]})
    return MultimodalRecommender.from_network(net, ITEMS, ["a", "b", "c"]).fit(train,
                                                                                items=ITEMS)


def test_recommender_scores_cold_items_from_content_and_masks_seen():
    rec = fitted()
    scores = rec.score(["a", "b"])
    assert scores.shape == (2, 8) and np.isfinite(scores).all()  # cold i6, i7 scored too
    ids, _ = rec.recommend(["a"], k=6)
    assert set(ids[0]) == set(ITEMS) - {"i0", "i1"}
    user = rec.user_vectors(["a"])
    assert np.allclose(user @ rec.item_vectors().T, scores[:1], atol=1e-5)


def test_mlp_scorer_ranks_without_vectors_and_matches_pairwise_scores():
    rec = fitted(scorer="mlp")
    assert not rec.has_vectors
    scores = rec.score(["a", "c"])
    net = rec.network
    with torch.no_grad():
        pair = net.scorer.pairs(rec.user_vectors_[[0]], rec.item_vectors_[3])
    assert scores[0, 3] == pytest.approx(float(pair), abs=1e-5)


def test_recommender_save_load_roundtrip(tmp_path):
    rec = fitted()
    rec.save(tmp_path / "mm.pkl")
    again = MultimodalRecommender.load(tmp_path / "mm.pkl")
    assert np.allclose(again.score(["b"]), rec.score(["b"]))
    assert np.isfinite(rec.recommend(["zz"], k=1)[1]).all()  # unknown user: popularity


def test_joint_space_encoder_starts_with_equal_projections():
    rng = np.random.default_rng(0)
    same = {m: (rng.normal(size=(8, 6)).astype(np.float32), np.ones(8, dtype=bool))
            for m in ("image", "text")}
    c = build_content(ITEMS, None, same, [], use_tags=False, id_items=ITEMS)
    clip = MultimodalNetwork(c, 2, ModelConfig(vision_model="clip", language_model="clip",
                                               embedding_dim=8))
    other = MultimodalNetwork(c, 2, ModelConfig(embedding_dim=8))
    tower = clip.item_tower
    assert torch.equal(tower.proj["image"].weight, tower.proj["text"].weight)
    assert not torch.equal(other.item_tower.proj["image"].weight,
                           other.item_tower.proj["text"].weight)


def test_fold_in_rebinds_histories_without_training():
    rec = fitted()
    weights = {k: v.clone() for k, v in rec.network.state_dict().items()}
    before = rec.score(["a", "b"])
    more = pd.DataFrame({"user_id": ["a", "a", "b", "c", "b"],
                         "item_id": ["i0", "i1", "i2", "i3", "i6"], "timestamp": [1, 2, 3, 4, 5]})
    rec.fold_in(more)
    assert all(torch.equal(v, rec.network.state_dict()[k]) for k, v in weights.items())
    after = rec.score(["a", "b"])
    assert np.allclose(after[0], before[0])  # a's history did not change
    assert not np.allclose(after[1], before[1])  # b's now ends with i6
    assert "i6" not in set(rec.item_ids_[rec.cold_items_])  # i6 has an interaction now
