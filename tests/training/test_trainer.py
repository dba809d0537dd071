"""The trainer end to end on the small demo with synthetic encoder features."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelrec.errors import ConfigError
from pixelrec.training import train_model
from pixelrec.training.checkpoint import load_checkpoint
from pixelrec.training.outputs import training_status
from tests.training.conftest import synthetic_features


@pytest.mark.parametrize("fusion", ["concatenate", "gated", "attention", "sum"])
@pytest.mark.parametrize("loss", ["bce", "bpr", "softmax"])
def test_every_fusion_and_loss_trains_without_nan(train_config, fusion, loss):
    # pairwise losses train interaction batches (history pooling); softmax the default
    # transformer's sequences
    history = "transformer" if loss == "softmax" else "mean"
    config = train_config(model__fusion_type=fusion, training__loss=loss,
                          model__use_contrastive=True, training__epochs=2,
                          model__user_history=history)
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    assert summary["epochs"] == 2
    for record in summary["history"]:
        assert math.isfinite(record["train_loss"])
        assert 0.0 <= record["val"]["ndcg@10"] <= 1.0
    state = load_checkpoint(summary["checkpoint"])
    assert all(torch.isfinite(v).all() for v in state["model_state"].values()
               if v.is_floating_point())


def test_outputs_checkpoints_and_metadata(train_config):
    config = train_config(training__epochs=2)
    results = config.results_dir
    seen = []

    def metadata_now(record):  # callbacks run after the epoch's checkpoints and metadata
        meta = json.loads((Path(results) / "training_metadata.json").read_text())
        last = load_checkpoint(Path(config.checkpoint_dir) / "last.pt")
        seen.append((meta["status"], meta["epochs"], last["epoch"], len(meta["history"]),
                     meta["run_id"] == last["run_id"]))

    summary = train_model(config, device="cpu", features=synthetic_features(config),
                          callbacks=[metadata_now])
    assert seen == [("incomplete", 1, 1, 1, True), ("incomplete", 2, 2, 2, True)]
    meta = json.loads((Path(results) / "training_metadata.json").read_text())
    assert meta["status"] == "complete" and meta["run_id"] == summary["run_id"]
    assert meta["epochs"] == 2 and meta["best_val_ndcg@10"] == summary["best_val_ndcg@10"]
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert (Path(results) / "figures" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (Path(results) / "resolved_config.yaml").exists()
    best = load_checkpoint(Path(config.checkpoint_dir) / "best.pt")
    last = load_checkpoint(Path(config.checkpoint_dir) / "last.pt")
    assert last["epoch"] == 2 and best["epoch"] == summary["best_epoch"]
    for key in ("model_config", "user_ids", "item_ids", "feature_cache", "optimizer",
                "schedule", "rng", "history"):
        assert key in last
    assert not list(Path(config.checkpoint_dir).glob(".*tmp"))


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(train_config):
    config = train_config(training__epochs=3, model__dropout_rate=0.2,
                          training__scheduler="cosine", training__warmup_steps=3)
    features = synthetic_features(config)
    full = train_model(config, device="cpu", features=features)
    reference = load_checkpoint(full["last_checkpoint"])["model_state"]

    def interrupt(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(config, device="cpu", features=features, callbacks=[interrupt])
    last = load_checkpoint(full["last_checkpoint"])
    assert last["epoch"] == 2
    complete, warning = training_status(config.results_dir, last)
    assert complete is False and "after 2 epoch(s)" in warning and "--resume last" in warning
    previous = {**last, "run_id": full["run_id"]}  # a checkpoint of the first, finished run
    complete, warning = training_status(config.results_dir, previous)
    assert complete is None and "another training run" in warning
    resumed = train_model(config, device="cpu", features=features, resume="last")
    assert resumed["epochs"] == 3 and resumed["run_id"] == last["run_id"]
    assert training_status(config.results_dir, load_checkpoint(resumed["checkpoint"])) == (
        True, None)
    final = load_checkpoint(resumed["last_checkpoint"])["model_state"]
    for key, value in reference.items():
        assert torch.equal(value, final[key]), key
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    assert resumed["new_epochs"] == 1
    assert resumed["seconds"] == pytest.approx(sum(h["seconds"] for h in resumed["history"]),
                                               abs=1e-3)  # the whole run's epochs
    again = train_model(config, device="cpu", features=features, resume="last")
    assert again["new_epochs"] == 0 and again["early_stopped"] is False
    assert again["seconds"] == resumed["seconds"]  # the original time, not 0.0 s


def test_early_stopping_respects_patience(train_config):
    # lr so small nothing improves after the first epoch's (tiny) change.
    config = train_config(training__epochs=10, training__patience=2,
                          training__learning_rate=1e-9, training__scheduler="none",
                          model__dropout_rate=0.0, model__id_dropout=0.0)
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    assert summary["epochs"] == 1 + 2
    assert summary["best_epoch"] == 1


def test_val_loss_can_drive_early_stopping(train_config):
    config = train_config(training__validation_metric="val_loss", training__epochs=2)
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    losses = [h["val_loss"] for h in summary["history"]]
    assert all(np.isfinite(losses))
    assert summary["best_value"] == pytest.approx(min(losses))


def test_validation_goes_through_the_evaluation_package(train_config, monkeypatch):
    import pixelrec.evaluation as evaluation

    calls = []
    real = evaluation.evaluate_interactions

    def spy(*args, **kwargs):
        calls.append(kwargs["evaluation"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_interactions", spy)
    config = train_config(training__epochs=2)
    train_model(config, device="cpu", features=synthetic_features(config))
    assert len(calls) == 2 and calls[0] == config.evaluation


def test_validation_ranks_a_seeded_sample_of_validation_users(train_config, monkeypatch):
    import pixelrec.evaluation as evaluation

    seen = []
    real = evaluation.evaluate_interactions

    def spy(recommender, frame, *args, **kwargs):
        seen.append(sorted(frame["user_id"].unique()))
        return real(recommender, frame, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_interactions", spy)
    config = train_config(training__epochs=1, training__validation_users=5)
    train_model(config, device="cpu", features=synthetic_features(config))
    everyone = train_config(training__epochs=1, training__validation_users=None)
    train_model(everyone, device="cpu", features=synthetic_features(everyone))
    sample, full = seen
    assert len(sample) == 5 and set(sample) < set(full)


def test_failure_is_logged_and_metric_k_checked(train_config):
    config = train_config(training__validation_metric="ndcg@7")
    with pytest.raises(ConfigError, match="evaluation.k_values"):
        train_model(config, device="cpu", features=synthetic_features(config),
                    config_path="cfg.yaml")
    log = json.loads((Path(config.results_dir) / "error_log.json").read_text())
    assert log[-1]["stage"] == "train" and log[-1]["config_path"] == "cfg.yaml"
    assert "ConfigError" in log[-1]["exception"] and log[-1]["traceback"]


def test_gradient_accumulation_and_sgd_step_schedule(train_config):
    config = train_config(training__gradient_accumulation_steps=2, training__optimizer="sgd",
                          training__scheduler="step", training__scheduler_step_size=1,
                          training__epochs=2)
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    lrs = [h["lr"] for h in summary["history"]]
    assert lrs[1] == pytest.approx(lrs[0] * config.training.scheduler_gamma)


def test_mlp_scorer_trains_and_validates_by_full_ranking(train_config):
    config = train_config(model__scorer="mlp", model__user_history="attention",
                          training__loss="softmax")
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    assert all(0.0 <= h["val"]["ndcg@10"] <= 1.0 for h in summary["history"])


def test_history_free_model_cannot_score_a_history(train_config):
    from pixelrec.errors import PixelRecError
    from pixelrec.models.multimodal import load_multimodal_recommender

    config = train_config(model__user_history="none", model__use_user_id=True,
                          training__epochs=1)
    features = synthetic_features(config)
    train_model(config, device="cpu", features=features)
    model = load_multimodal_recommender(config, features=features)
    with pytest.raises(PixelRecError, match="user_history"):
        model.score_histories([[model.item_ids_[0]]])


def test_loading_with_other_item_inputs_is_a_clear_error(train_config):
    from pixelrec.errors import PixelRecError
    from pixelrec.models.multimodal import load_multimodal_recommender

    config = train_config(training__epochs=1)
    train_model(config, device="cpu", features=synthetic_features(config))
    other = synthetic_features(config, dims=(("image", 5), ("text", 8)))
    with pytest.raises(PixelRecError, match="does not fit"):
        load_multimodal_recommender(config, features=other)


def test_empty_validation_split_is_a_clear_error(train_config):
    import pandas as pd

    from pixelrec.errors import DataError

    config = train_config()
    val = pd.read_parquet(f"{config.data.split_data_path}/val.parquet")
    val.head(0).to_parquet(f"{config.data.split_data_path}/val.parquet")
    with pytest.raises(DataError, match="val_ratio"):
        train_model(config, device="cpu", features=synthetic_features(config))


def test_validation_none_trains_fixed_epochs_without_a_val_split(train_config):
    """A refit on train+val: exactly `epochs` epochs, no val file read, last epoch == best."""
    from pathlib import Path

    config = train_config(training__validation_metric="none", training__epochs=3,
                          training__patience=1)
    Path(f"{config.data.split_data_path}/val.parquet").unlink()
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    assert summary["epochs"] == 3  # patience 1 would have stopped a validated run earlier
    assert summary["best_epoch"] == 3 and summary["best_value"] is None
    assert all(h["val"] == {} and 0 < h["train_seconds"] <= h["seconds"]
               for h in summary["history"])
    best = load_checkpoint(Path(config.checkpoint_dir) / "best.pt")["model_state"]
    last = load_checkpoint(Path(config.checkpoint_dir) / "last.pt")["model_state"]
    assert all(torch.equal(best[k], last[k]) for k in best)


def test_validation_metric_accepts_registered_metrics_only(train_config):
    from pixelrec.config import validate_config
    from pixelrec.evaluation.metrics import TOPK_METRICS, register_metric

    with pytest.raises(ConfigError, match="registered top-k metrics"):
        validate_config({"training": {"validation_metric": "dcg@10"}})

    @register_metric("dcg")
    def dcg(hits, n_relevant, k):
        return (hits / np.log2(np.arange(2, k + 2))).sum(axis=1)

    try:
        assert validate_config({"training": {"validation_metric": "dcg@10"}}) \
            .training.validation_metric == "dcg@10"
    finally:
        del TOPK_METRICS["dcg"]
