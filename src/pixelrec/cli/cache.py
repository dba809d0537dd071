"""`pixelrec cache list|stats NAME|clear NAME|clear --all`: inspect and delete feature caches."""

from __future__ import annotations

import argparse
import sys

HELP = "list, inspect or delete the item feature caches under data.cache_config.cache_directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every cache: name, encoders, items, size, created")
    stats = actions.add_parser("stats", help="manifest, coverage, missing counts, vector norms")
    stats.add_argument("name", nargs="?", help="cache name as shown by `pixelrec cache list` "
                       "(default: the only cache, when there is one)")
    clear = actions.add_parser("clear", help="delete one cache, or all of them with --all")
    clear.add_argument("name", nargs="?", help="cache name as shown by `pixelrec cache list`")
    clear.add_argument("--all", action="store_true", help="delete every cache")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for sub in (listing, stats, clear):  # accept --config/--set after the action too
        sub.add_argument("--config", default=argparse.SUPPRESS, help="YAML config file")
        sub.add_argument("--set", dest="overrides", action="append", default=argparse.SUPPRESS,
                         metavar="SECTION.KEY=VALUE", help="override one config key")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pixelrec.cli._common import load

    root = Path(load(args).data.cache_config.cache_directory)
    if args.action == "list":
        return _list(root)
    if args.action == "stats":
        return _stats(_named(root, args.name, only_by_default=True))
    return _clear(root, args)


def _named(root, name: str | None, only_by_default: bool = False):
    from pixelrec.errors import PixelRecError
    from pixelrec.features.inspect import find_caches

    caches = {p.name: p for p in find_caches(root)}
    if not name and only_by_default and len(caches) == 1:
        return next(iter(caches.values()))
    if not name:
        known = ", ".join(caches) or f"none under {root}"
        raise PixelRecError(f"name a cache (caches: {known}; see `pixelrec cache list`)"
                            + ("." if only_by_default else " or pass --all."))
    if name not in caches:
        known = ", ".join(caches) or "none"
        raise PixelRecError(f"no feature cache named {name!r} under {root} (caches: {known}); "
                            f"check data.cache_config.cache_directory.")
    return caches[name]


def _list(root) -> int:
    from pixelrec.features.inspect import find_caches, human_bytes, summary

    caches = find_caches(root)
    if not caches:
        print(f"no feature caches under {root}")
        return 0
    rows = [summary(p) for p in caches]
    header = ("NAME", "IMAGE", "TEXT", "ITEMS", "SIZE", "CREATED")
    table = [header] + [(r["name"], str(r["image_encoder"]), str(r["text_encoder"]),
                         str(r["items"]), human_bytes(r["bytes"]), r["created"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _stats(directory) -> int:
    import json

    from pixelrec.features.inspect import human_bytes, stats

    info = stats(directory)
    s = info["summary"]
    print(f"cache {s['name']} ({directory}): {s['items']} items, {human_bytes(s['bytes'])}, "
          f"created {s['created']}")
    for modality, m in info["modalities"].items():
        norm = m["norm"]
        norms = (f"norm min {norm['min']:.3f} mean {norm['mean']:.3f} max {norm['max']:.3f}"
                 if norm else "no vectors")
        print(f"  {modality}: {m['present']}/{m['items']} present ({100 * m['coverage']:.1f}%), "
              f"{m['missing']} missing, dim {m['dim']}, {norms}")
    for name, v in info["views"].items():
        per_view = ", ".join(f"view {k}: {n}" for k, n in v["items_per_view"].items()) or "empty"
        print(f"  augmented {v['modality']} views ({name}): {per_view} items, dim {v['dim']}")
    print("manifest:")
    print(json.dumps(info["manifest"], indent=2))
    return 0


def _clear(root, args: argparse.Namespace) -> int:
    from pixelrec.errors import PixelRecError
    from pixelrec.features.cache import remove_cache
    from pixelrec.features.inspect import find_caches

    if args.all == bool(args.name):
        raise PixelRecError("`pixelrec cache clear` takes either a cache NAME or --all.")
    targets = find_caches(root) if args.all else [_named(root, args.name)]
    if not targets:
        print(f"no feature caches under {root}")
        return 0
    if args.all and not args.yes:
        names = ", ".join(p.name for p in targets)
        if not sys.stdin.isatty():
            raise PixelRecError(f"refusing to delete {len(targets)} caches ({names}) without "
                                f"confirmation; re-run with --yes.")
        answer = input(f"delete {len(targets)} feature caches under {root} ({names})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    for path in targets:
        remove_cache(path)
        print(f"deleted {path}")
    return 0
