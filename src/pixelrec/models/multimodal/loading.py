"""Build item content for a config, and rebuild a trained recommender from a checkpoint."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.errors import DataError, PixelRecError
from pixelrec.models.multimodal.content import Features, ItemContent, build_content


def read_catalogue(config) -> tuple[list[str], pd.DataFrame]:
    """All items of the processed item table (the catalogue) and the table itself."""
    from pixelrec.data.items import read_processed_items

    table = read_processed_items(config.data.processed_item_info_path)
    return table["item_id"].astype(str).tolist(), table


def feature_cache_name(config) -> str:
    from pixelrec.features.cache import cache_name

    return cache_name(config.model.vision_model, config.model.language_model)


def cached_features(config, item_ids: list[str], read_only: bool = False) -> Features:
    """Encoder vectors + masks from the feature cache (missing items are encoded and stored),
    for the frozen encoders only: fine-tuned ones encode raw inputs themselves.

    `read_only` reads what another process (rank 0) has just made complete, without the lock.
    """
    from pixelrec.models.multimodal.encoders import fine_tuned_modalities

    tuned = fine_tuned_modalities(config.model)
    modalities = [m for m, name in (("image", config.model.vision_model),
                                    ("text", config.model.language_model))
                  if name and m not in tuned]
    if not modalities:
        return {}
    from pixelrec.features import item_features, open_cache

    cfg = config.data.cache_config
    if not (read_only and cfg.enabled and cfg.use_disk):
        return item_features(config, item_ids, modalities=modalities)
    with open_cache(config) as cache:
        return {m: tuple(np.array(a) for a in cache.load_all(m, item_ids)) for m in modalities}


def with_encoder_slots(features: Features, encoders: dict, n_items: int) -> Features:
    """`features` for the frozen modalities plus an empty (all missing) table for each
    fine-tuned one, filled by `ItemTower.encode_catalogue`."""
    out = {m: v for m, v in features.items() if m not in encoders}
    for modality, encoder in encoders.items():
        out[modality] = (np.zeros((n_items, encoder.dim), np.float32),
                         np.zeros(n_items, dtype=bool))
    return out


def encoder_batch_sizes(config) -> dict[str, int]:
    """Items per no-grad encoder forward when the whole catalogue is encoded."""
    return {"image": config.features.image_batch_size, "text": config.features.text_batch_size}


def item_content(config, item_ids: list[str], table: pd.DataFrame, id_items: Sequence[str],
                 tag_vocab: list[str] | None = None, features: Features | None = None,
                 numeric_cols: Sequence[str] | None = None) -> ItemContent:
    """Model inputs for `item_ids`: cached encoder vectors (or the given `features`); numeric
    columns default to `data.numerical_features_cols` that exist in the table."""
    if features is None:
        features = cached_features(config, item_ids)
    if numeric_cols is None:
        numeric_cols = [c for c in config.data.numerical_features_cols if c in table.columns]
    return build_content(item_ids, table, features, numeric_cols,
                         use_tags=config.model.use_tags, id_items=id_items, tag_vocab=tag_vocab)


def resolve_checkpoint(config, checkpoint: str | Path | None) -> str | None:
    """Trained weights to use: `None` / `none` -> none (train); `auto` -> `best.pt` of
    `checkpoint_dir` when `pixelrec train` wrote one, else none; `best`, `last` or a path ->
    that file, which must exist."""
    from pixelrec.training.checkpoint import checkpoint_path

    if checkpoint is None or str(checkpoint) == "none":
        return None
    if str(checkpoint) == "auto":
        best = checkpoint_path(config.checkpoint_dir, "best")
        return str(best) if best.exists() else None
    path = checkpoint_path(config.checkpoint_dir, str(checkpoint))
    if not path.exists():
        raise PixelRecError(f"checkpoint not found: {path}. Train the model first (`pixelrec "
                            f"train`, checkpoint_dir: {config.checkpoint_dir}), pass another "
                            f"--checkpoint, or `--checkpoint none` to train it now.")
    return str(path)


def load_network(config, checkpoint: str | Path = "best", features: Features | None = None):
    """(network, checkpoint state + `path` + `training_complete`) of a trained checkpoint
    (`best`, `last` or a path) over the catalogue of `config`: all processed items. A checkpoint
    whose training did not finish (see `training_status`) is used with a warning.

    Item inputs come from the clean feature cache (never augmented views), or for a model
    trained with a fine-tuned encoder from that encoder's checkpoint weights run over the
    catalogue's raw inputs (eval mode, no gradients).
    """
    from pixelrec.config import validate_config
    from pixelrec.models.multimodal.encoders import RawInputs, build_encoder_modules
    from pixelrec.models.multimodal.network import MultimodalNetwork
    from pixelrec.training.checkpoint import checkpoint_path, load_checkpoint
    from pixelrec.training.outputs import training_status

    path = checkpoint_path(config.checkpoint_dir, str(checkpoint))
    state = load_checkpoint(path)
    complete, warning = training_status(config.results_dir, state)
    if warning:
        warnings.warn(f"checkpoint {path} (epoch {state['epoch']}): {warning}", stacklevel=2)
    # The architecture comes from the checkpoint; paths and data from the given config.
    config = validate_config({**config.model_dump(), "model": state["model_config"]})
    item_ids, table = read_catalogue(config)
    if item_ids != state["item_ids"]:
        raise PixelRecError(f"checkpoint {path} was trained on another catalogue "
                            f"({len(state['item_ids'])} items) than the processed item table "
                            f"{config.data.processed_item_info_path} ({len(item_ids)} items); "
                            f"retrain, or use the item table it was trained with.")
    missing = [c for c in state["numeric_cols"] if c not in table.columns]
    if missing:
        raise DataError(f"the model was trained with numeric columns {missing} that the "
                        f"processed item table {config.data.processed_item_info_path} lacks; "
                        f"re-run `pixelrec preprocess` with the same data.numerical_features_cols.")
    # Fine-tuned encoders: the checkpoint's weights encode the catalogue (not the cache).
    encoders = build_encoder_modules(config)
    if features is None:
        features = cached_features(config, item_ids)
    features = with_encoder_slots(features, encoders, len(item_ids))
    content = item_content(config, item_ids, table, state["id_items"], state["tag_vocab"],
                           features, state["numeric_cols"])
    network = MultimodalNetwork(content, len(state["user_ids"]), config.model, encoders)
    try:
        network.load_state_dict(state["model_state"])
    except RuntimeError as exc:
        raise PixelRecError(f"checkpoint {path} does not fit the current item inputs (feature "
                            f"cache {feature_cache_name(config)}, item table "
                            f"{config.data.processed_item_info_path}): {str(exc)[:300]}. Use "
                            f"the data and encoders it was trained with, or retrain.") from None
    if encoders:
        for encoder in encoders.values():
            encoder.set_trainable(False)  # inference only
        network.item_tower.raw = RawInputs.from_config(config, item_ids)
        network.item_tower.encode_catalogue(encoder_batch_sizes(config))
    network.eval()
    return network, {**state, "path": path, "training_complete": complete}


def load_multimodal_recommender(config, checkpoint: str | Path | None = None,
                                features: Features | None = None,
                                train: pd.DataFrame | None = None):
    """A fitted `MultimodalRecommender` from `checkpoint` (`best`, `last` or a path; default
    `<checkpoint_dir>/best.pt`): catalogue = all processed items, user histories from `train`
    (user_id, item_id[, timestamp]; default: the train split of `config`)."""
    from pixelrec.models.multimodal.recommender import MultimodalRecommender

    if train is None:
        from pixelrec.data.split_stage import split_files
        from pixelrec.training.data import read_interactions

        train = read_interactions(split_files(config.data.split_data_path)["train"],
                                  "train split")
    recommender = MultimodalRecommender(config, resolve_checkpoint(config, checkpoint or "best"),
                                        features)
    return recommender.fit(train)  # the catalogue: the network's (all processed items)
