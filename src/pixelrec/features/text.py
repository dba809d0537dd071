"""Item text from a template over the title/tag/description columns, skipping empty parts.

Each placeholder owns the literal text before it (its separator) and the last placeholder also owns
the text after it; an empty value drops together with what it owns, so `{title}. {tag}. {description}`
with no tag gives `Title. Description`, never `Title. . Description`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping


def parse_template(template: str) -> tuple[str, list[tuple[str, str]], str]:
    """Split a template into (lead, [(separator, field), ...], trail)."""
    chunks = [(lit, field) for lit, field, _, _ in string.Formatter().parse(template)]
    lead, parts, trail = "", [], ""
    for literal, field in chunks:
        if field is None:
            trail += literal
        elif not parts:
            lead += trail + literal
            trail = ""
            parts.append(("", field))
        else:
            parts.append((trail + literal, field))
            trail = ""
    return lead, parts, trail


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def render_text(row: Mapping[str, object], template: str) -> str:
    """Fill the template from `row`; empty parts are skipped cleanly ("" when all are empty)."""
    lead, parts, trail = parse_template(template)
    out, last_filled = "", False
    for sep, field in parts:
        value = _clean(row.get(field))
        last_filled = bool(value)
        if value:
            out += (sep if out else "") + value
    if not out:
        return ""
    return lead + out + (trail if last_filled else "")
