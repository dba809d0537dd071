"""The `tuning` section (read by `pixelrec tune`) and the search-space distributions.

A search space maps dotted config keys to distributions: `FloatRange` (linear or log),
`IntRange` and `Categorical`. Each recommender declares its shipped space next to its code
(`Recommender.search_space`); `tuning.spaces.<recommender>` replaces it. In YAML a distribution
is a mapping: `{type: float, low: 1.0, high: 100.0, log: true}`, `{type: int, low: 10,
high: 400}` or `{type: categorical, choices: [a, b]}`. This module is light (no torch).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from pixelrec.config.base import Section


def _number(value: Any, what: str, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or (integer and not (isinstance(value, int) or float(value).is_integer())):
        raise ValueError(f"{what} must be {'an integer' if integer else 'a number'}, "
                         f"got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return int(value) if integer else float(value)


@dataclass(frozen=True)
class _Range:
    """[low, high], sampled uniformly or (`log`) log-uniformly; values stored as they are."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, self.log)

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class FloatRange(_Range):
    """A float in [low, high], sampled uniformly or (`log`) log-uniformly."""

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and self.low <= value <= self.high

    def probes(self) -> list[Any]:
        """Values that must all be valid for the key: the bounds and a non-integral inner
        point (so that a float range on an int key is caught)."""
        inner = math.floor(self.low) + 0.5
        if not self.low < inner < self.high:
            inner = self.low + 0.37 * (self.high - self.low)
        return [self.low, self.high] + ([inner] if self.low < inner < self.high else [])

    def to_dict(self) -> dict:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class IntRange(_Range):
    """An integer in [low, high] (inclusive), sampled uniformly or (`log`) log-uniformly."""

    low: int
    high: int

    def suggest(self, trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) \
            and self.low <= value <= self.high

    def probes(self) -> list[Any]:
        return [self.low, self.high]

    def to_dict(self) -> dict:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Categorical:
    """One of `choices`. Scalars (str, int, float, bool, null) are stored as they are; lists
    and mappings (e.g. `content_knn.modalities`) are stored in the study as their JSON text."""

    choices: tuple

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("choices must not be empty")
        encoded = [json.dumps(c, sort_keys=True) for c in self.choices]
        if len(set(encoded)) != len(encoded):
            raise ValueError(f"choices must be distinct, got {list(self.choices)}")

    @property
    def structured(self) -> bool:
        return any(isinstance(c, list | tuple | dict) for c in self.choices)

    def suggest(self, trial, name: str) -> Any:
        return self.decode(trial.suggest_categorical(name, [self.encode(c)
                                                            for c in self.choices]))

    def contains(self, value: Any) -> bool:
        key = json.dumps(value, sort_keys=True)
        return any(json.dumps(c, sort_keys=True) == key for c in self.choices)

    def encode(self, value: Any) -> Any:
        return json.dumps(value, sort_keys=True) if self.structured else value

    def decode(self, value: Any) -> Any:
        return json.loads(value) if self.structured and isinstance(value, str) else value

    def probes(self) -> list[Any]:
        return list(self.choices)

    def to_dict(self) -> dict:
        return {"type": "categorical", "choices": list(self.choices)}


Distribution = FloatRange | IntRange | Categorical
_FIELDS = {"float": {"type", "low", "high", "log"}, "int": {"type", "low", "high", "log"},
           "categorical": {"type", "choices"}}


def _check_range(low: float, high: float, log: bool) -> None:
    if low > high:
        raise ValueError(f"low ({low}) is above high ({high})")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got low {low}")


def parse_distribution(raw: Any) -> Distribution:
    """A distribution from its YAML mapping; ValueError (the caller names the key) if bad."""
    if isinstance(raw, FloatRange | IntRange | Categorical):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"must be a mapping with type: float, int or categorical, got {raw!r}")
    kind = raw.get("type")
    if kind not in _FIELDS:
        raise ValueError(f"type must be float, int or categorical, got {kind!r}")
    unknown = sorted(set(raw) - _FIELDS[kind])
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} for type {kind}; it takes "
                         f"{', '.join(sorted(_FIELDS[kind] - {'type'}))}")
    if kind == "categorical":
        choices = raw.get("choices")
        if not isinstance(choices, list):
            raise ValueError(f"choices must be a non-empty list, got {choices!r}")
        return Categorical(tuple(choices))
    missing = [f for f in ("low", "high") if f not in raw]
    if missing:
        raise ValueError(f"a {kind} range needs {' and '.join(missing)}")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"log must be true or false, got {log!r}")
    integer = kind == "int"
    low, high = (_number(raw[f], f, integer) for f in ("low", "high"))
    return IntRange(low, high, log) if integer else FloatRange(low, high, log)


def config_key_problem(key: str, root: type[BaseModel]) -> str | None:
    """Why `key` is not a settable leaf of the config (None when it is)."""
    model: type[BaseModel] | None = root
    parts = key.split(".")
    if parts[0] == "tuning":
        return "the tuning section itself cannot be tuned"
    for depth, part in enumerate(parts):
        fields = model.model_fields if model is not None else {}
        if part not in fields:
            if depth == 0:
                return (f"unknown config key: no '{part}' in the top level (a search space is "
                        f"keyed by full dotted config keys, e.g. training.learning_rate)")
            return f"unknown config key: no '{part}' in {'.'.join(parts[:depth])}"
        annotation = fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) \
            else None
        if model is not None and depth == len(parts) - 1:
            return f"{key} is a section, not a key; name one of its keys"
        if model is None and depth < len(parts) - 1:
            return f"{'.'.join(parts[:depth + 1])} is a key, not a section"
    return None


class TuningConfig(Section):
    """`pixelrec tune`: search spaces, sampler seed and pruning (see docs/tuning.md)."""

    spaces: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="recommender -> {dotted config key: distribution}; "
        "replaces that recommender's shipped space")
    sampler: Literal["tpe", "grid"] = Field("tpe", description="tpe: Optuna's TPE over the "
                                            "space; grid: the config's values, then every other "
                                            "combination of categorical choices in a seeded "
                                            "random order, each once")
    seed: int | None = Field(None, description="sampler seed; null: the top-level seed")
    pruning: bool = Field(True, description="stop hopeless multimodal trials early "
                                            "(median rule on the per-epoch val metric)")
    pruning_startup_trials: int = Field(3, ge=0, description="finished trials before any "
                                        "trial can be pruned")
    pruning_warmup_epochs: int = Field(1, ge=0, description="epochs of a trial before it can "
                                       "be pruned")

    @field_validator("spaces")
    @classmethod
    def _valid_spaces(cls, value: dict) -> dict:
        if not value:  # the default (also built while pixelrec.config.schema is imported)
            return {}
        from pixelrec.config.schema import Config
        from pixelrec.models.registry import recommender_names  # light: no torch import

        out = {}
        for recommender, space in value.items():
            if recommender not in recommender_names():
                raise ValueError(f"tuning.spaces.{recommender}: unknown recommender; use one of "
                                 f"{', '.join(recommender_names())}")
            if not space:
                raise ValueError(f"tuning.spaces.{recommender} is empty; name at least one "
                                 f"config key to tune, or drop the entry")
            out[recommender] = {}
            for key, raw in space.items():
                where = f"tuning.spaces.{recommender}.{key}"
                problem = config_key_problem(key, Config)
                if problem:
                    raise ValueError(f"{where}: {problem}")
                try:
                    out[recommender][key] = parse_distribution(raw).to_dict()
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
        return out

    def space_for(self, recommender: str) -> dict[str, Distribution] | None:
        """The configured space of `recommender`, or None when it has none here."""
        space = self.spaces.get(recommender)
        if space is None:
            return None
        return {key: parse_distribution(raw) for key, raw in space.items()}
