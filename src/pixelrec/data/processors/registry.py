"""The preprocessing steps by name: `pixelrec preprocess` runs every registered processor in order.

A processor is `fn(state: Preprocessing) -> None`: it reads and replaces `state.items` /
`state.interactions` and may add to `state.report` (written as preprocess_report.json). The
built-in ones (`pixelrec.data.processors.steps`) run as text, image, filter, numerical; a new one
runs last, or right after the step named by `after`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixelrec import registry

if TYPE_CHECKING:
    import pandas as pd

    from pixelrec.config import Config


@dataclass
class Preprocessing:
    """What the processors work on: the config, both tables (items keyed by `item_id`, with
    `title`, `tag`, `description`, `image_source`, numbers; interactions with `user_id`,
    `item_id`, `timestamp`), the report, and the numerical scaler once fitted (saved with the
    tables)."""

    config: Config
    items: pd.DataFrame
    interactions: pd.DataFrame
    report: dict[str, Any]
    progress: bool = True
    scaler: Any = None


Processor = Callable[[Preprocessing], None]
PROCESSORS: dict[str, Processor] = {}


def register_processor(name: str, *, after: str | None = None) -> Callable[[Processor], Processor]:
    """Register a preprocessing step `fn(state: Preprocessing) -> None` as `name`; it runs after
    every step registered so far, or right after the step `after`."""
    def add(fn: Processor) -> Processor:
        if after is not None:
            registry.lookup(PROCESSORS, "processor", after)
        registry.add(PROCESSORS, "processor", name, fn)
        if after is not None:
            order = [n for n in PROCESSORS if n != name]
            order.insert(order.index(after) + 1, name)
            entries = {n: PROCESSORS[n] for n in order}
            PROCESSORS.clear()
            PROCESSORS.update(entries)
        return fn
    return add
