"""What only a content model can do at inference: vectors for brand-new items (from their image,
text, numbers and tags through the trained item tower) and for users known only by a history."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from pixelrec.errors import DataError, PixelRecError
from pixelrec.models.multimodal.content import Features, build_content

# (image bytes or None, rendered text) -> one-row features per modality.
Embedder = Callable[[bytes | None, str], Features]


class EncoderEmbedder:
    """The configured pretrained encoders (`model.vision_model` / `model.language_model`),
    loaded on first use, or for a fine-tuned modality the checkpoint's own encoder (`encoders`);
    a modality without input gets a zero vector and mask False."""

    def __init__(self, config, dims: dict[str, int], encoders: dict | None = None) -> None:
        self.config, self.dims = config, dims
        self.encoders = dict(encoders or {})
        self._specs = None

    def __call__(self, image: bytes | None, text: str) -> Features:
        from pixelrec.features.compute import encoder_specs
        from pixelrec.features.encoders import load_encoder
        from pixelrec.features.imaging import decode

        if self._specs is None:
            self._specs = encoder_specs(self.config)
        out = {}
        for modality, dim in self.dims.items():
            vector, ok = np.zeros((1, dim), np.float32), np.zeros(1, bool)
            spec = self._specs.get(modality)
            data = image if modality == "image" else text
            if modality in self.encoders:
                spec = self.encoders[modality].spec
            if spec is not None and data:
                if modality in self.encoders:  # fine-tuned: the checkpoint's weights
                    module = self.encoders[modality]

                    def encoder_fn(batch, module=module):
                        with torch.no_grad():
                            return module(batch).cpu().numpy()
                else:
                    encoder_fn = load_encoder(spec, self.config.features.device).encode
                if modality == "image":
                    pixels = decode(io.BytesIO(data), spec.preprocessing)
                    if pixels is None:
                        raise DataError("the uploaded image could not be decoded.")
                    encoded = encoder_fn(np.array(pixels[None]))  # writable copy
                else:
                    encoded = encoder_fn([text])
                if encoded.shape[1] != dim:
                    raise PixelRecError(f"the {modality} encoder gives {encoded.shape[1]}-d "
                                        f"vectors but the checkpoint expects {dim}-d; serve "
                                        f"with the model.* encoders it was trained with.")
                vector, ok = encoded.astype(np.float32), np.ones(1, bool)
            out[modality] = (vector, ok)
        return out


class ContentModel:
    """New-item and history-user vectors for a fitted `MultimodalRecommender`."""

    def __init__(self, recommender, config, tag_vocab: list[str],
                 numeric_cols: list[str]) -> None:
        net = recommender.network
        self.network, self.config = net, config
        self.tag_vocab, self.numeric_cols = list(tag_vocab), list(numeric_cols)
        # A private copy of the item tower (weights only: the catalogue's input buffers and raw
        # inputs are not copied), rebound to the new items' inputs on each call.
        tower = net.item_tower
        skip = {id(b): torch.empty(0) for b in tower.input_buffers()}
        skip.update({id(tower.raw): None, id(tower.train_vectors): {}})
        self.tower = copy.deepcopy(tower, skip).cpu().eval()
        self.dims = {m: self.tower.proj[m].in_features for m in self.tower.modalities}
        self.width = int(recommender.item_vectors_.shape[1])
        self.encoders = dict(self.tower.encoders)  # fine-tuned encoders embed new items
        self._scaler = None

    @property
    def uses_history(self) -> bool:
        return self.network.uses_history

    def prepare(self, fields: dict) -> tuple[dict, str]:
        """(row, text) of a new item: text fields cleaned as `pixelrec preprocess` does, numeric
        fields kept raw (scaled when embedded), and the encoder text from the template."""
        from pixelrec.data.processors.text import TextProcessor
        from pixelrec.features.text import render_text

        clean = TextProcessor(self.config.data.text_cleaning)
        row = {"title": clean.clean(fields.get("title")),
               "tag": clean.clean_tags(fields.get("tag")),
               "description": clean.clean(fields.get("description"))}
        for col in self.numeric_cols:
            value = fields.get(col)
            row[col] = None if value is None else float(value)
        return row, render_text(row, self.config.features.text_template)

    def _scaled(self, table: pd.DataFrame) -> pd.DataFrame:
        """Raw numeric fields -> the scale of the processed table (the saved scaler)."""
        from pathlib import Path

        from pixelrec.data.processors.numerical import NumericalProcessor

        if not self.numeric_cols:
            return table
        if self._scaler is None:
            path = Path(self.config.data.scaler_path)
            if not path.exists():
                raise DataError(f"numeric scaler not found: {path}; run `pixelrec preprocess` "
                                f"or set data.scaler_path.")
            self._scaler = NumericalProcessor.load(path)
        table = table.copy()
        for col in self._scaler.columns_:
            table[col] = pd.to_numeric(table.get(col, np.nan), errors="coerce")
        scaled, _ = self._scaler.transform(table)
        return scaled

    @torch.no_grad()
    def item_vectors(self, table: pd.DataFrame, features: Features) -> torch.Tensor:
        """Vectors [n, d] of items given by raw fields (`table`) and encoder `features`."""
        if table.empty:
            return torch.zeros((0, self.width))
        table = self._scaled(table.reset_index(drop=True))
        content = build_content(table["item_id"].astype(str).tolist(), table, features,
                                self.numeric_cols, use_tags=self.tower.tags is not None,
                                id_items=[], tag_vocab=self.tag_vocab)
        self.tower.set_content(content)
        return self.network.rank_items(*self.tower(torch.arange(len(table)))).float()

    @torch.no_grad()
    def history_vector(self, item_vectors: torch.Tensor) -> torch.Tensor:
        """The ranking vector [1, d'] of an unknown user (id row 0) encoding the ranking
        vectors of its history items [h, d'] (oldest first; the last `model.history_length`
        are used)."""
        net = self.network
        # the user tower reads histories most recent first
        history = item_vectors[-net.history_length:].flip(0)[:, :net.dim].unsqueeze(0)
        mask = torch.ones(history.shape[:2], dtype=torch.bool)
        vec = net.user_tower(torch.zeros(1, dtype=torch.long), history, mask)
        return net.rank_users(vec).float()
