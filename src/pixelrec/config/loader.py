"""Load YAML configs, apply `--set` overrides, and turn validation failures into clear errors."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pixelrec.config.schema import Config
from pixelrec.errors import ConfigError
from pixelrec.io import write_text_atomic

DEFAULT_CONFIG = "configs/simple_config.yaml"
RESOLVED_CONFIG_NAME = "resolved_config.yaml"


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> Config:
    """Read `path` (YAML), apply `section.key=value` overrides, validate, return a Config."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = _read_yaml(Path(path))
    for item in overrides or []:
        _apply_override(raw, item)
    keys = {item.partition("=")[0].strip() for item in overrides or []}
    return validate_config(raw, source=source, overridden=keys)


def validate_config(raw: dict[str, Any], source: str = "config",
                    overridden: set[str] = frozenset()) -> Config:
    """Validate `raw`; errors name the key, and `--set` for keys in `overridden`."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, overridden)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(
            f"config file not found: {path}. Pass an existing file with --config "
            f"(for example configs/demo.yaml or {DEFAULT_CONFIG})."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        raise ConfigError(f"config file {path} is not valid YAML{where}: "
                          f"{getattr(exc, 'problem', exc)}. Fix the syntax there.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections "
                          f"(model:, data:, ...), not a {type(data).__name__}.")
    return data


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set expects section.key=value (e.g. --set data.splitting.strategy="
                          f"leave_one_out), got {item!r}.")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: '{part}' is a value, not a section.")
        node = child
    node[parts[-1]] = parsed


def _describe(exc: ValidationError, source: str, overridden: set[str] = frozenset()) -> str:
    errors = exc.errors()
    dotted_keys = [".".join(str(p) for p in err["loc"]) for err in errors]
    # an error at k comes from --set o when o sets k, a key inside k, or a section holding k
    from_set = [any(k == o or k.startswith(o + ".") or o.startswith(k + ".") for o in overridden)
                for k in dotted_keys]
    where = "--set" if all(from_set) else f"{source} and --set" if any(from_set) else source
    lines = [f"invalid configuration in {where}:"]
    for err, by_set in zip(errors, from_set, strict=True):
        loc = [str(p) for p in err["loc"]]
        dotted = ".".join(loc)
        if err["type"] == "extra_forbidden":
            section = ".".join(loc[:-1]) or "(top level)"
            valid = _fields_at(Config, loc[:-1])
            close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
            lines.append(f"  - unknown key '{loc[-1]}' in section {section}{hint}")
        else:
            value = err.get("input")
            shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
            origin = " (from --set)" if by_set else ""
            lines.append(f"  - {dotted or '(top level)'} = {shown}{origin}: {err['msg']}")
    lines.append("See docs/configuration.md for every key, its type and default.")
    return "\n".join(lines)


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    for part in loc:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def config_to_dict(config: Config) -> dict[str, Any]:
    return config.model_dump(mode="json")


def config_hash(config: Config) -> str:
    blob = json.dumps(config_to_dict(config), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def write_resolved_config(config: Config, directory: str | os.PathLike) -> Path:
    """Write the fully resolved config next to the outputs it produced."""
    path = Path(directory) / RESOLVED_CONFIG_NAME
    write_text_atomic(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path
