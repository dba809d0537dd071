from __future__ import annotations

import numpy as np

from pixelrec.config.data import TextCleaningConfig
from pixelrec.data.processors import TextProcessor


def test_html_unicode_whitespace():
    tp = TextProcessor()
    assert tp.clean("<p>Caf\u00e9&nbsp;<b>ｆｕｌｌ</b>\n\twidth</p><br>") == "Café full width"


def test_missing_values_become_empty_never_nan():
    tp = TextProcessor()
    assert tp.clean(None) == ""
    assert tp.clean(float("nan")) == ""
    assert tp.clean(np.nan) == ""


def test_lowercase_optional_and_flags_respected():
    assert TextProcessor(TextCleaningConfig(lowercase=True)).clean("ABC  Def") == "abc def"
    raw = TextProcessor(TextCleaningConfig(strip_html=False, remove_extra_whitespace=False))
    assert raw.clean("<b>x</b>  y") == "<b>x</b>  y"


def test_tag_separator_becomes_commas():
    tp = TextProcessor()
    assert tp.clean_tags("Animation|Children's||Comedy") == "Animation, Children's, Comedy"
    assert TextProcessor(TextCleaningConfig(tag_separator=None)).clean_tags("a|b") == "a|b"
