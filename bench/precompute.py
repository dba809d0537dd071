"""Precompute throughput versus the bare encoder forward, images and texts.

End to end = `pixelrec.features.precompute(..., force=True)` with the encoders already loaded:
hashing inputs, decoding images in worker processes, tokenising, the forward, cache writes.
Bare forward = the same encoder, same batch size and mode, on inputs decoded and normalised (or
tokenised, length-sorted) beforehand. Each number is the median of --repeats runs, interleaved.

    .venv/bin/python bench/precompute.py            # demo data (+ ml1m-posters-100k if present)
    .venv/bin/python bench/precompute.py --only_workers   # 1 vs 2 worker processes only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SHARED = REPO.parent / "shared" / "data" / "ml1m-posters-100k"


def demo_table(work: Path, n_items: int) -> tuple[Path, Path]:
    """Generate and preprocess the demo dataset under `work`; return (item table, image folder)."""
    from pixelrec.config import load_config
    from pixelrec.data.demo import write_demo
    from pixelrec.data.preprocess import preprocess

    write_demo(work / "raw", n_items=n_items, n_users=max(200, n_items // 2), seed=0)
    processed = work / "processed"
    config = load_config(REPO / "configs" / "demo.yaml", [
        f"data.item_info_path={work / 'raw' / 'item_info.csv'}",
        f"data.interactions_path={work / 'raw' / 'interactions.csv'}",
        f"data.image_folder={work / 'raw' / 'images'}",
        f"data.processed_item_info_path={processed / 'item_info.parquet'}",
        f"data.processed_interactions_path={processed / 'interactions.parquet'}",
        f"data.processed_image_folder={processed / 'images'}",
        f"data.scaler_path={processed / 'scaler.json'}"])
    preprocess(config, progress=False)
    return processed / "item_info.parquet", processed / "images"


def shared_table(work: Path, n_items: int) -> tuple[Path, Path]:
    """ml1m-posters-100k items.csv as a processed item table (genres as the tag)."""
    import pandas as pd

    df = pd.read_csv(SHARED / "items.csv", dtype={"item_id": str}).head(n_items)
    table = pd.DataFrame({
        "item_id": df["item_id"], "title": df["title"].fillna(""),
        "tag": df["genres"].fillna("").str.replace("|", ", "), "description": "",
        "image_path": df["image_path"].fillna(""),
        "has_image": df["image_path"].notna(), "has_text": True})
    path = work / "ml1m_items.parquet"
    table.to_parquet(path, index=False)
    return path, SHARED


def bare_images(encoder, paths, batch_size: int) -> tuple[float, int]:
    """Seconds for the forward alone over all decodable images, and their count."""
    import numpy as np

    from pixelrec.features.imaging import decode_batch

    pixels, ok = decode_batch(paths, encoder.spec.preprocessing)
    pixels = pixels[ok]
    batches = [encoder.prepare(pixels[i:i + batch_size]) for i in range(0, len(pixels), batch_size)]
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            encoder.forward(batch)
    return time.perf_counter() - start, int(np.sum(ok))


def bare_texts(encoder, texts, batch_size: int) -> tuple[float, int]:
    import torch

    texts = sorted((t for t in texts if t), key=len)
    batches = [encoder.prepare(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            encoder.forward(batch)
    return time.perf_counter() - start, len(texts)


def measure(name: str, table: Path, images: Path, work: Path, repeats: int) -> dict:
    import torch

    from pixelrec.config import load_config
    from pixelrec.features import precompute
    from pixelrec.features.compute import decode_workers, encoder_specs, read_items
    from pixelrec.features.encoders import load_encoder

    base = [f"data.processed_item_info_path={table}", f"data.processed_image_folder={images}",
            f"data.cache_config.cache_directory={work / ('cache_' + name)}"]
    configs = {"image": load_config(None, [*base, "model.language_model=null"]),
               "text": load_config(None, [*base, "model.vision_model=null"])}
    result = {}
    for modality, config in configs.items():
        inputs = read_items(config)
        spec = encoder_specs(config)[modality]
        first = precompute(config, force=True, progress=False)  # loads the encoder (cold run)
        encoder = load_encoder(spec, config.features.device)
        e2e, bare = [], []
        for _ in range(repeats):
            summary = precompute(config, force=True, progress=False)
            present = summary[modality]["computed"] - summary[modality]["missing"]
            e2e.append(present / summary["seconds"])
            if modality == "image":
                seconds, n = bare_images(encoder, inputs.image_paths,
                                         config.features.image_batch_size)
            else:
                seconds, n = bare_texts(encoder, inputs.texts, config.features.text_batch_size)
            bare.append(n / seconds)
        x, y = statistics.median(e2e), statistics.median(bare)
        result[modality] = {
            "end_to_end_per_s": round(x, 2), "bare_forward_per_s": round(y, 2),
            "ratio": round(x / y, 3), "encoder": spec.name, "items": len(inputs.item_ids),
            "encoded": present, "first_run_seconds_incl_model_load": first["seconds"],
            "batch_size": (config.features.image_batch_size if modality == "image"
                           else config.features.text_batch_size),
            "decode_workers": (decode_workers(config.features.num_workers, encoder.device.type)
                               if modality == "image" else None),
            "runs_end_to_end_per_s": [round(v, 2) for v in e2e],
            "runs_bare_forward_per_s": [round(v, 2) for v in bare],
        }
    result["torch_threads"] = torch.get_num_threads()
    return result


def measure_workers(table: Path, images: Path, work: Path, processes: int) -> dict:
    """Items/s of precompute (`force`, into an empty cache) in one process at one thread, in
    `processes` worker processes (`features.encode_processes`, one thread each, start-up and
    encoder loads included), and in one process at every core (the pre-worker default); next to
    the bare forward at one thread, same run."""
    import torch

    from pixelrec.config import load_config
    from pixelrec.features import precompute
    from pixelrec.features.compute import encoder_specs, read_items
    from pixelrec.features.encoders import load_encoder

    cores = torch.get_num_threads()
    out = {}
    for modality, off in (("image", "model.language_model=null"),
                          ("text", "model.vision_model=null")):
        def config(n, tag, off=off):
            return load_config(None, [f"data.processed_item_info_path={table}",
                                      f"data.processed_image_folder={images}",
                                      f"data.cache_config.cache_directory={work / tag}", off,
                                      f"features.encode_processes={n}", "features.num_workers=0"])

        one = config(1, f"w1-{modality}")
        inputs = read_items(one)
        spec = encoder_specs(one)[modality]
        torch.set_num_threads(1)
        load_encoder(spec, "cpu")  # loaded (and traced) once, outside every timing
        batch = (one.features.image_batch_size if modality == "image"
                 else one.features.text_batch_size)
        if modality == "image":
            seconds, n = bare_images(load_encoder(spec, "cpu"), inputs.image_paths, batch)
        else:
            seconds, n = bare_texts(load_encoder(spec, "cpu"), inputs.texts, batch)
        bare = n / seconds
        row = {"items": len(inputs.item_ids), "encoded": n, "batch_size": batch,
               "bare_forward_1_thread_per_s": round(bare, 2)}
        runs = {"one_process_1_thread": (one, 1),
                f"{processes}_processes_1_thread_each": (config(processes, f"wp-{modality}"), 1),
                f"one_process_{cores}_threads": (config(1, f"wt-{modality}"), cores)}
        for name, (cfg, threads) in runs.items():
            torch.set_num_threads(threads)
            summary = precompute(cfg, force=True, progress=False)
            row[name + "_per_s"] = round(n / summary["seconds"], 2)
            workers = summary[modality].get("workers")
            if workers is not None:  # the same run without the workers' start-up
                row["worker_startup_seconds"] = workers["startup_seconds"]
                row[name + "_after_startup_per_s"] = round(
                    n / (summary["seconds"] - workers["startup_seconds"]), 2)
        torch.set_num_threads(cores)
        for suffix in ("", "_after_startup"):
            many = row[f"{processes}_processes_1_thread_each{suffix}_per_s"]
            row[f"speedup_vs_one_process{suffix}"] = round(
                many / row["one_process_1_thread_per_s"], 3)
            row[f"ratio_to_bare_x_processes{suffix}"] = round(many / (bare * processes), 3)
        out[modality] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demo_items", type=int, default=2000)
    parser.add_argument("--shared_items", type=int, default=600,
                        help="first N items of ml1m-posters-100k (0 skips it)")
    parser.add_argument("--worker_items", type=int, default=3000,
                        help="demo items for the worker-process comparison (0 skips it)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only_workers", action="store_true",
                        help="run the worker-process comparison alone, keeping the rest of "
                             "the JSON")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "precompute.json"))
    args = parser.parse_args()
    import json
    import os

    from pixelrec.io import write_json_atomic

    out = json.loads(Path(args.out).read_text()) if args.only_workers else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.only_workers:
            datasets = {"demo": demo_table(work / "demo", args.demo_items)}
            if args.shared_items and (SHARED / "items.csv").exists():
                datasets["ml1m-posters-100k"] = shared_table(work, args.shared_items)
            results = {name: measure(name, table, images, work, args.repeats)
                       for name, (table, images) in datasets.items()}
            print(f"{'dataset':<20}{'modality':<10}{'end-to-end/s':>14}{'bare/s':>10}"
                  f"{'ratio':>8}")
            for name, res in results.items():
                for modality in ("image", "text"):
                    r = res[modality]
                    print(f"{name:<20}{modality:<10}{r['end_to_end_per_s']:>14.1f}"
                          f"{r['bare_forward_per_s']:>10.1f}{r['ratio']:>8.2f}")
            primary = results["demo"]
            out = {"image": primary["image"], "text": primary["text"], "dataset": "demo",
                   "median_of": args.repeats, "cpu_count": os.cpu_count(),
                   "torch_threads": primary["torch_threads"], "all_datasets": results,
                   "command": "python bench/precompute.py"}
        if args.worker_items:
            table, images = demo_table(work / "workers", args.worker_items)
            workers = measure_workers(table, images, work, args.processes)
            many = f"{args.processes}_processes_1_thread_each_per_s"
            print(f"\n{'modality':<10}{'bare 1 thr/s':>13}{'1 proc/s':>10}{'N procs/s':>11}"
                  f"{'(after start)':>14}{'1 proc all cores/s':>20}{'speed-up':>10}"
                  f"{'(after start)':>14}{'vs bare x N':>13}{'(after start)':>14}")
            for modality, r in workers.items():
                every = next(v for k, v in r.items() if k.startswith("one_process_")
                             and k.endswith("threads_per_s"))
                print(f"{modality:<10}{r['bare_forward_1_thread_per_s']:>13.1f}"
                      f"{r['one_process_1_thread_per_s']:>10.1f}{r[many]:>11.1f}"
                      f"{r[many.replace('_per_s', '_after_startup_per_s')]:>14.1f}"
                      f"{every:>20.1f}{r['speedup_vs_one_process']:>10.2f}"
                      f"{r['speedup_vs_one_process_after_startup']:>14.2f}"
                      f"{r['ratio_to_bare_x_processes']:>13.2f}"
                      f"{r['ratio_to_bare_x_processes_after_startup']:>14.2f}")
            out["worker_processes"] = {"processes": args.processes, "demo_items": args.worker_items,
                                       **workers}
    out["load_average_1_5_15min_at_end"] = [round(v, 2) for v in os.getloadavg()]
    write_json_atomic(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
