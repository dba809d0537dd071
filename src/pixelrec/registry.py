"""The two helpers behind every plug-in registry (encoders, recommenders, processors, metrics,
evaluation tasks): each registry is a plain dict from the config name to the implementation.

`add` refuses a name that is already taken; `lookup` names every registered choice when asked
for an unknown one. A registration is undone with `del REGISTRY[name]` (tests do this).
Importing this module is free: it imports nothing heavy.
"""

from __future__ import annotations

from typing import TypeVar

from pixelrec.errors import ConfigError

T = TypeVar("T")


def add(registry: dict[str, T], kind: str, name: str, value: T) -> T:
    """`registry[name] = value`; a name already registered raises ValueError."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a {kind} name must be a non-empty string, got {name!r}")
    if name in registry:
        raise ValueError(f"{kind} {name!r} is already registered ({registry[name]!r}); choose "
                         f"another name, or `del` the old entry first")
    registry[name] = value
    return value


def lookup(registry: dict[str, T], kind: str, name: str) -> T:
    """`registry[name]`; an unknown name raises ConfigError listing the registered ones."""
    if name not in registry:
        raise ConfigError(f"unknown {kind} {name!r}; registered: {', '.join(registry)}.")
    return registry[name]
