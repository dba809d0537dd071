"""Helpers shared by command modules (kept light: no heavy imports at module level)."""

from __future__ import annotations

import argparse
import json


def load(args: argparse.Namespace, flags: dict[str, str] | None = None):
    """Load --config with the --set overrides, then the command's own flags on top.

    `flags` maps an argument name to the config key it sets (e.g. the seed's `--sample_n` ->
    `data.splitting.sample_n`); flags left unset (None) keep the config's value.
    """
    from pixelrec.config import load_config

    extra = [f"{key}={json.dumps(getattr(args, name))}"
             for name, key in (flags or {}).items() if getattr(args, name) is not None]
    return load_config(args.config, [*args.overrides, *extra])
