"""The `evaluation` section, read by `pixelrec evaluate` and by validation during training."""

from __future__ import annotations

from pydantic import Field

from pixelrec.config.base import Section


class EvaluationConfig(Section):
    k_values: list[int] = Field(default_factory=lambda: [5, 10, 20, 50])
