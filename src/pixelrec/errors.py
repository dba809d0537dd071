"""User-facing errors: what is wrong, where, and what to do; the CLI exits with code 2."""

from __future__ import annotations


class PixelRecError(Exception):
    """An error caused by the user's input (data, config, arguments), not by a bug.

    The message is shown as-is by the CLI, so it must name the file/row/key and the fix.
    """

    exit_code = 2


class ConfigError(PixelRecError):
    """The configuration file or a `--set` override is invalid."""


class DataError(PixelRecError):
    """An input data file is missing, malformed or inconsistent."""


def format_rows(rows, limit: int = 5) -> str:
    """Render the first few offending row numbers (1-based, as in a spreadsheet incl. header)."""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" (and {len(rows) - limit} more)" if len(rows) > limit else ""
    return shown + more
