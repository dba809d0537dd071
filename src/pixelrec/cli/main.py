"""`pixelrec` entry point: builds the parser from the command modules and maps errors to exit codes.

Command modules import only argparse at module level; heavy libraries are imported inside `run`,
so `pixelrec --help` starts fast. Modules named in $PIXELREC_PLUGINS (comma-separated) are
imported first, so what they register (encoders, recommenders, processors, metrics, evaluation
tasks; see docs/extending.md) is usable from the command line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from pixelrec import __version__

# Subcommand name -> module under pixelrec.cli (each defines `HELP`, `add_arguments`, `run`).
COMMANDS: dict[str, str] = {
    "demo-data": "demo_data",
    "preprocess": "preprocess",
    "split": "split",
    "precompute": "precompute",
    "cache": "cache",
    "train": "train",
    "tune": "tune",
    "extract-encoders": "extract_encoders",
    "evaluate": "evaluate",
    "compare": "compare",
    "recommend": "recommend",
    "serve": "serve",
    "report": "report",
    "demo": "demo",
}


def common_parser() -> argparse.ArgumentParser:
    """Options every command takes: --config and repeated --set overrides."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", default="configs/simple_config.yaml",
                        help="YAML config file (default: %(default)s)")
    parent.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config key, e.g. --set data.splitting.strategy=random "
                             "(repeatable)")
    return parent


def build_parser(commands: dict[str, str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelrec",
        description="PixelRec Multimodal: preprocess, split, train, evaluate and serve "
                    "multimodal recommenders.",
    )
    parser.add_argument("--version", action="version", version=f"pixelrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in (commands or COMMANDS).items():
        module = importlib.import_module(f"pixelrec.cli.{module_name}")
        # a fresh parent per command: parents share action objects, so a command changing
        # its --config default must not change everyone's
        cmd = sub.add_parser(name, help=module.HELP.replace("%", "%%"), description=module.HELP,
                             parents=[common_parser()])
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


PLUGINS_ENV = "PIXELREC_PLUGINS"


def load_plugins() -> list[str]:
    """Import every module named in $PIXELREC_PLUGINS; return their names."""
    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    for name in names:
        importlib.import_module(name)
    return names


def main(argv: list[str] | None = None) -> int:
    try:
        load_plugins()
    except ImportError as exc:
        print(f"error: {PLUGINS_ENV} names a module that cannot be imported: {exc}. Set it to "
              f"importable module names (on PYTHONPATH), comma-separated.", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    from pixelrec.errors import PixelRecError

    try:
        return int(args._run(args) or 0)
    except PixelRecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; finished outputs are kept, re-run to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
