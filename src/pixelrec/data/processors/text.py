"""TextProcessor: strip HTML, normalise Unicode, optional lowercase, collapse whitespace."""

from __future__ import annotations

import html
import re
import unicodedata

import pandas as pd

from pixelrec.config.data import TextCleaningConfig

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class TextProcessor:
    def __init__(self, config: TextCleaningConfig | None = None):
        self.config = config or TextCleaningConfig()

    def clean(self, text: object) -> str:
        """Clean one value; missing values (None/NaN) become the empty string, never 'nan'."""
        if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
            return ""
        out = str(text)
        cfg = self.config
        if cfg.strip_html:
            out = html.unescape(_TAG.sub(" ", out))
        if cfg.normalize_unicode:
            out = unicodedata.normalize("NFKC", out)
        if cfg.lowercase:
            out = out.lower()
        if cfg.remove_extra_whitespace:
            out = _SPACE.sub(" ", out).strip()
        return out

    def clean_tags(self, text: object) -> str:
        """Clean a tag list; `tag_separator` (e.g. '|') becomes ', ' so encoders read words."""
        sep = self.config.tag_separator
        cleaned = self.clean(text)
        if sep and sep in cleaned:
            parts = [p.strip() for p in cleaned.split(sep)]
            cleaned = ", ".join(p for p in parts if p)
        return cleaned

    def clean_series(self, values: pd.Series, tags: bool = False) -> pd.Series:
        fn = self.clean_tags if tags else self.clean
        return pd.Series([fn(v) for v in values], index=values.index, dtype=object)
