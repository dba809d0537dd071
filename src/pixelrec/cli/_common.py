"""Helpers shared by command modules (kept light: no heavy imports at module level)."""

from __future__ import annotations

import argparse


def load(args: argparse.Namespace, extra: list[str] | None = None):
    """Load the config named by --config with --set overrides (plus command-specific ones)."""
    from pixelrec.config import load_config

    return load_config(args.config, [*args.overrides, *(extra or [])])
