"""A fitted recommender of any type for a config, and every interaction known for its users."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelrec.models import create_recommender, get_recommender
from pixelrec.models.base import Recommender


def load_recommender(config, recommender_type: str | None = None, checkpoint: str | None = None,
                     features=None, history: pd.DataFrame | None = None) -> Recommender:
    """A fitted recommender of any type on the train split, over every item of the processed
    item table; models with trained weights (multimodal, also inside an ensemble) bind
    `checkpoint` (default `recommendation.checkpoint`; encoder `features` replace the feature
    cache, as in training) instead of training. With `history`, the fitted model is then folded
    in on it (its interactions with catalogue items); a model with the base `fit` and `fold_in`
    (nothing selected on val, folding in refits) is fitted on `history` once instead."""
    from pixelrec.evaluation.data import catalogue, default_split_path, read_split

    name = recommender_type or config.recommendation.recommender_type
    get_recommender(name)  # an unknown name raises ConfigError listing them all
    split_dir = config.data.split_data_path
    train = read_split(default_split_path(split_dir, "train"), "train split",
                       "data.split_data_path")
    val_path = default_split_path(split_dir, "val")
    val = read_split(val_path, "val split", "data.split_data_path") if val_path.exists() \
        else None
    items, _ = catalogue(config.data.processed_item_info_path, [train])
    recommender = create_recommender(name, config,
                                     checkpoint=checkpoint or config.recommendation.checkpoint,
                                     features=features)
    if history is None:
        return recommender.fit(train, items=items, val=val)
    history = history[history["item_id"].isin(set(items))]
    kind = type(recommender)
    if kind.fit is Recommender.fit and kind.fold_in is Recommender.fold_in:
        # the base fit learns from train alone and folding in fits again: fit once
        return recommender.fit(history, items=items)
    return recommender.fit(train, items=items, val=val).fold_in(history)


def known_interactions(config) -> pd.DataFrame:
    """user_id/item_id of every interaction the framework knows: the processed interactions,
    else the union of the split files (all that is masked as "seen" at recommendation time)."""
    from pixelrec.evaluation.data import default_split_path, read_split

    processed = Path(config.data.processed_interactions_path)
    if processed.exists():
        return read_split(processed, "processed interactions", "data.processed_interactions_path")
    frames = [read_split(path, f"{part} split", "data.split_data_path")
              for part in ("train", "val", "test")
              if (path := default_split_path(config.data.split_data_path, part)).exists()]
    if not frames:
        from pixelrec.errors import DataError

        raise DataError(f"no interactions found: neither {processed} "
                        f"(data.processed_interactions_path) nor split files under "
                        f"{config.data.split_data_path} (data.split_data_path) exist; run "
                        f"`pixelrec preprocess` and `pixelrec split` first.")
    return pd.concat(frames, ignore_index=True)


def load_engine(config, recommender_type: str | None = None, checkpoint: str | None = None,
                embedder=None, features=None, fold_in: bool = True):
    """A `RecommendationEngine` for `config`: the recommender (fitted on train and selected on
    val as in evaluation, then folded in on every known interaction, so users are scored from
    their whole history; `fold_in=False` keeps the train histories), every known interaction
    (masked), and for
    the multimodal model its content model, the configured encoders (or `embedder`; `features`
    replace the feature cache) and the items added so far (`serving.added_items_dir`); an ANN index when
    `recommendation.ann.enabled` asks for one (auto: faiss installed and at least
    `approximate_above` items) and the model scores by dot product."""
    import numpy as np

    from pixelrec.inference.added import AddedItemStore, added_items_dir
    from pixelrec.inference.engine import RecommendationEngine

    known = known_interactions(config)
    # fitted (and selected on val) as evaluated, then every known interaction is its history
    recommender = load_recommender(config, recommender_type, checkpoint, features,
                                   history=known if fold_in else None)
    content = store = None
    if recommender.name == "multimodal":
        from pixelrec.config import validate_config
        from pixelrec.inference.content import ContentModel, EncoderEmbedder
        from pixelrec.training.checkpoint import load_checkpoint

        state = load_checkpoint(recommender.checkpoint_path_)
        model_config = validate_config({**config.model_dump(), "model": state["model_config"]})
        content = ContentModel(recommender, model_config, state["tag_vocab"],
                               state["numeric_cols"])
        embedder = embedder or EncoderEmbedder(model_config, content.dims, content.encoders)
        store = AddedItemStore(added_items_dir(config))
    ann = None
    cfg = config.recommendation.ann
    from pixelrec.inference.ann import wanted

    if recommender.has_vectors and wanted(cfg, len(recommender.item_ids_)):
        from pixelrec.inference.ann import build_index

        allowed = np.ones(len(recommender.item_ids_), dtype=bool)
        if not recommender.scores_cold_items:
            allowed[recommender.cold_items_] = False
        users = recommender.user_vectors(recommender.user_index_.to_numpy())
        ann = build_index(recommender.item_vectors(), allowed, users, cfg,
                          config.recommendation.top_k, config.seed)
    return RecommendationEngine(recommender, known, content=content,
                                embedder=embedder, store=store, ann=ann,
                                chunk_size=config.recommendation.chunk_size,
                                exclude_seen=not config.evaluation.repeats_are_hits)
