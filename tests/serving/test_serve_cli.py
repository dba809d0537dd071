"""`pixelrec serve` starts uvicorn on 127.0.0.1 and answers over a real socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.inference.helpers import copy_work

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_binds_localhost_and_answers(trained, tmp_path):
    path, _ = copy_work(trained, tmp_path / "work")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pixelrec", "serve", "--config", str(path),
                             "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start within 90 s"
                time.sleep(0.3)
        assert health.json()["recommender"] == "multimodal"
        recs = httpx.get(f"http://127.0.0.1:{port}/recommendations/ghost", params={"k": 3})
        assert recs.json()["fallback"] == "popularity" and len(recs.json()["recommendations"]) == 3
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout \
            if Path("/usr/bin/ss").exists() or Path("/bin/ss").exists() else ""
        if listening:
            assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        proc.terminate()
        proc.wait(timeout=20)
