"""Make `pixelrec` importable when the scripts run from a checkout without `pip install -e .`."""

from __future__ import annotations

import sys
from pathlib import Path


def run(command: str) -> None:
    try:
        import pixelrec  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from pixelrec.cli.main import main

    raise SystemExit(main([command, *sys.argv[1:]]))
