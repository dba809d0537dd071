"""Every config key is documented and present in the annotated advanced config."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from pixelrec.config import Config


def dotted_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += dotted_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def flatten(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        if isinstance(value, dict):  # a section, or a key whose value is a map
            out |= flatten(value, f"{prefix}{key}.") | {f"{prefix}{key}"}
        else:
            out.add(f"{prefix}{key}")
    return out


def test_every_key_is_documented():
    doc = Path("docs/configuration.md").read_text()
    documented = set(re.findall(r"^\|\s*`([a-z0-9_.]+)`", doc, flags=re.M))
    missing = [k for k in dotted_keys(Config) if k not in documented]
    assert not missing, f"keys missing from docs/configuration.md: {missing}"


def test_advanced_config_lists_every_key():
    advanced = flatten(yaml.safe_load(Path("configs/advanced_config.yaml").read_text()))
    missing = [k for k in dotted_keys(Config) if k not in advanced]
    assert not missing, f"keys missing from configs/advanced_config.yaml: {missing}"
