"""Item text templates: empty parts are skipped together with their separators."""

from __future__ import annotations

import pytest

from pixelrec.config import load_config
from pixelrec.errors import ConfigError
from pixelrec.features.text import render_text

DEFAULT = "{title}. {tag}. {description}"


@pytest.mark.parametrize(("row", "expected"), [
    ({"title": "Red dress", "tag": "summer", "description": "Cotton."}, "Red dress. summer. Cotton."),
    ({"title": "Red dress", "tag": "", "description": "Cotton."}, "Red dress. Cotton."),
    ({"title": "", "tag": "summer", "description": ""}, "summer"),
    ({"title": "  ", "tag": None, "description": float("nan")}, ""),
    ({}, ""),
])
def test_default_template_skips_empty_parts(row, expected):
    assert render_text(row, DEFAULT) == expected


def test_custom_template_keeps_lead_and_trail_only_with_content():
    template = "Title: {title} ({tag})"
    assert render_text({"title": "A", "tag": "x"}, template) == "Title: A (x)"
    assert render_text({"title": "A", "tag": ""}, template) == "Title: A"
    assert render_text({"title": "", "tag": ""}, template) == ""


def test_template_with_unknown_column_is_a_config_error():
    with pytest.raises(ConfigError, match="features.text_template"):
        load_config(None, ["features.text_template={name} {title}"])
    with pytest.raises(ConfigError, match="features.text_template"):
        load_config(None, ["features.text_template=no placeholders"])

