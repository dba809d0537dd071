"""Hugging Face encoders (CLIP towers, ResNet, DINOv2, ConvNeXt, sentence models, BERT-likes).

Weights always come from a local directory resolved by the registry (`local_files_only=True`).
"""

from __future__ import annotations

import torch

from pixelrec.errors import PixelRecError
from pixelrec.features.encoders.base import ImageEncoder, TextEncoder


def _from_pretrained(cls: str, spec, what: str):
    """Load `transformers.<cls>` from the spec's local folder; errors name the model and folder."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    kwargs = {}
    if spec.model_type == "clip":
        # A tower loaded from a full CLIP checkpoint takes its projection size from the top level.
        tower = cls.replace("ModelWithProjection", "Config")
        config = getattr(transformers, tower).from_pretrained(spec.source, local_files_only=True)
        full = transformers.CLIPConfig.from_pretrained(spec.source, local_files_only=True)
        config.projection_dim = full.projection_dim
        kwargs["config"] = config
    try:
        return getattr(transformers, cls).from_pretrained(spec.source, local_files_only=True,
                                                          **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise PixelRecError(f"could not load {what} {spec.name!r} from {spec.source}: {exc}. "
                            f"Check that the folder holds a complete model (config.json and "
                            f"weights), or use the offline defaults.") from None


class HFImageEncoder(ImageEncoder):
    """CLIP: the projected image embedding; other models: `pooler_output` (else mean of tokens)."""

    def _load(self) -> torch.nn.Module:
        cls = "CLIPVisionModelWithProjection" if self.spec.model_type == "clip" else "AutoModel"
        model = _from_pretrained(cls, self.spec, "vision model")
        if self.spec.preprocessing["channels_last"]:
            model = model.to(memory_format=torch.channels_last)
        return model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=inputs)
        if self.spec.model_type == "clip":
            return out.image_embeds
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.flatten(1)


class HFTextEncoder(TextEncoder):
    """Masked mean (or CLS) pooling over the last hidden state, or CLIP's projected text embedding."""

    def _load(self) -> torch.nn.Module:
        import transformers

        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                self.spec.source, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise PixelRecError(f"could not load the tokenizer of {self.spec.name!r} from "
                                f"{self.spec.source}: {exc}") from None
        cls = "CLIPTextModelWithProjection" if self.spec.model_type == "clip" else "AutoModel"
        return _from_pretrained(cls, self.spec, "language model")

    def prepare(self, batch: list[str]) -> dict[str, torch.Tensor]:
        pre = self.spec.preprocessing
        tokens = self.tokenizer(list(batch), padding=True, truncation=True,
                                max_length=pre["max_length"], return_tensors="pt")
        return {k: v.to(self.device) for k, v in tokens.items()}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        pre = self.spec.preprocessing
        if pre["pooling"] == "clip":
            keep = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            return self.model(**keep).text_embeds
        hidden = self.model(**inputs).last_hidden_state
        if pre["pooling"] == "cls":
            pooled = hidden[:, 0]
        else:
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if pre["normalize"]:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled
