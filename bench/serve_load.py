"""Load test of `pixelrec serve`: N concurrent async clients, a bounded number of requests.

Starts the server on 127.0.0.1 in its own process (or drives one given by --url, which must be
on 127.0.0.1), sends GET /recommendations/{user}?k=K for known users (and a share of unknown
ones) from this process over keep-alive connections (a minimal asyncio HTTP/1.1 client), and reports throughput, p50/p95/p99 latency and errors; writes
bench/results/serve_load.json. The server runs with `serving.torch_threads` = --server_threads
so that it and this client share the machine's cores sanely.

    python bench/serve_load.py --config configs/demo.yaml --concurrency 32 --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 50.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/demo.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   help="config override for the server, e.g. recommendation.recommender_type="
                        "popularity")
    p.add_argument("--url", help="drive this running server instead of starting one "
                                 "(must be http://127.0.0.1:PORT)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--requests", type=int, default=4000, help="measured requests (bounded)")
    p.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--unknown_share", type=float, default=0.1,
                   help="share of requests for users the model never saw (popularity fallback)")
    p.add_argument("--server_threads", type=int, default=1, help="serving.torch_threads")
    p.add_argument("--max_seconds", type=float, default=300, help="stop sending after this")
    p.add_argument("--output", default=str(REPO / "bench" / "results" / "serve_load.json"))
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "pixelrec", "serve", "--config", args.config, "--host",
           "127.0.0.1", "--port", str(port), "--set",
           f"serving.torch_threads={args.server_threads}"]
    for item in args.overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.server_threads)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return proc, f"http://127.0.0.1:{port}"


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a client light enough that, on a
    small machine, the numbers measure the server rather than the load generator."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(line.split(":", 1)[1]) for line in lines[1:]
                      if line.lower().startswith("content-length:"))
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def wait_ready(url: str, proc, timeout: float = 300) -> dict:
    parts = urlparse(url)
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{proc.stdout.read()}")
        conn = Connection(parts.hostname, parts.port)
        try:
            status, body = await conn.get("/health")
            await conn.close()
            if status == 200:
                return json.loads(body)
        except (OSError, asyncio.IncompleteReadError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"server at {url} not ready after {timeout:.0f} s")
        await asyncio.sleep(0.5)


def user_ids(args) -> list[str]:
    sys.path.insert(0, str(REPO / "src"))
    from pixelrec.config import load_config
    from pixelrec.inference import known_interactions

    config = load_config(args.config, args.overrides)
    return sorted(known_interactions(config)["user_id"].unique())


async def drive(url: str, users: list[str], n: int, args) -> dict:
    """`n` requests from `args.concurrency` connections; latencies of the successful ones."""
    import random

    parts = urlparse(url)
    rng = random.Random(0)
    plan = [f"unknown-{i}" if rng.random() < args.unknown_share else rng.choice(users)
            for i in range(n)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    cursor = iter(plan)
    stop_at = time.monotonic() + args.max_seconds

    async def worker() -> None:
        conn = Connection(parts.hostname, parts.port)
        try:
            for user in cursor:
                if time.monotonic() > stop_at:
                    return
                start = time.perf_counter()
                try:
                    status, body = await conn.get(f"/recommendations/{user}?k={args.k}")
                    ok = status == 200 and len(json.loads(body)["recommendations"]) == args.k
                    key = None if ok else f"HTTP {status}"
                except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                    key = type(exc).__name__
                    await conn.close()
                    conn = Connection(parts.hostname, parts.port)
                if key is None:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors[key] = errors.get(key, 0) + 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - started}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def main_async(args) -> dict:
    load_before = os.getloadavg()[0]
    proc = None
    if args.url:
        if urlparse(args.url).hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit("--url must point at 127.0.0.1: this benchmark stays local.")
        url = args.url.rstrip("/")
    else:
        proc, url = start_server(args)
    try:
        health = await wait_ready(url, proc)
        users = user_ids(args)
        await drive(url, users, args.warmup, args)
        run = await drive(url, users, args.requests, args)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    lat = sorted(run["latencies"])
    n_errors = sum(run["errors"].values())
    done = len(lat) + n_errors
    result = {
        "endpoint": "GET /recommendations/{user_id}",
        "k": args.k, "concurrency": args.concurrency, "requests": done,
        "unknown_share": args.unknown_share,
        "throughput_rps": round(done / run["wall"], 1),
        "latency_ms": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                       "p99": round(percentile(lat, 99), 2),
                       "mean": round(sum(lat) / max(len(lat), 1), 2),
                       "max": round(lat[-1], 2) if lat else None},
        "errors": n_errors, "error_kinds": run["errors"], "wall_seconds": round(run["wall"], 2),
        "server": {"recommender": health.get("recommender"), "n_items": health.get("n_items"),
                   "n_users": health.get("n_users"), "torch_threads": args.server_threads,
                   "started_by_bench": proc is not None},
        "config": args.config,
        "target": {"p99_ms": TARGET_P99_MS, "errors": 0,
                   "met": n_errors == 0 and percentile(lat, 99) < TARGET_P99_MS},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_before": round(load_before, 2)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    result = asyncio.run(main_async(args))
    lat = result["latency_ms"]
    print(f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'errors':>6}")
    print(f"{result['concurrency']:>11} {result['requests']:>8} {result['throughput_rps']:>8} "
          f"{lat['p50']:>7} {lat['p95']:>7} {lat['p99']:>7} {result['errors']:>6}")
    print(f"target (0 errors, p99 < {TARGET_P99_MS:.0f} ms): "
          f"{'met' if result['target']['met'] else 'NOT met'}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
