"""Id encoders of a trained model as JSON (and the seed's `user_encoder.pkl` / `item_encoder.pkl`)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from pixelrec.io import write_bytes_atomic, write_json_atomic
from pixelrec.training.checkpoint import checkpoint_path, load_checkpoint


def _label_encoder(ids: list[str]):
    """A fitted scikit-learn LabelEncoder (what the seed pickled), or a plain dict without it."""
    try:
        from sklearn.preprocessing import LabelEncoder
    except ImportError:
        return {"classes_": sorted(ids)}
    return LabelEncoder().fit(np.asarray(ids, dtype=object))


def extract_encoders(config, checkpoint: str = "best", output_dir: str | None = None
                     ) -> dict[str, Path]:
    """Write `user_encoder.json` / `item_encoder.json` (id -> embedding row; row 0 means no id
    embedding: unknown user, or an item without train interactions) plus the seed pickles."""
    state = load_checkpoint(checkpoint_path(config.checkpoint_dir, checkpoint))
    out = Path(output_dir or Path(config.checkpoint_dir) / "encoders")
    users = {u: k + 1 for k, u in enumerate(state["user_ids"])}
    id_rows = {i: k + 1 for k, i in enumerate(state["id_items"])}
    items = {i: id_rows.get(i, 0) for i in state["item_ids"]}
    paths = {
        "user_json": out / "user_encoder.json",
        "item_json": out / "item_encoder.json",
        "user_pkl": out / "user_encoder.pkl",
        "item_pkl": out / "item_encoder.pkl",
    }
    note = "row in the id embedding; 0 = no id embedding (scored from content / history)"
    write_json_atomic(paths["user_json"], {"meaning": note, "n_users": len(users),
                                           "mapping": users})
    write_json_atomic(paths["item_json"], {"meaning": note, "n_items": len(items),
                                           "catalogue_order": state["item_ids"],
                                           "mapping": items})
    write_bytes_atomic(paths["user_pkl"], pickle.dumps(_label_encoder(state["user_ids"])))
    write_bytes_atomic(paths["item_pkl"], pickle.dumps(_label_encoder(state["item_ids"])))
    return paths
