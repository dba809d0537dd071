"""docs/python_api.md: the example runs as written and produces what it promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "python_api.md"


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/python_api.md should hold exactly one runnable example"
    return blocks[0]


def test_every_documented_function_exists():
    import importlib

    for dotted in re.findall(r"`(pixelrec\.[a-z_.]+)\(", DOC.read_text()):
        module, name = dotted.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), dotted


@pytest.mark.slow
def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    try:
        exec(compile(example_code(), str(DOC), "exec"), {"__name__": "__main__"})
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    work = tmp_path / "pixelrec_api_demo"
    assert "best validation NDCG@10" in out and "multimodal" in out
    assert (work / "models" / "best.pt").exists()
    recs = json.loads((work / "results" / "recs.json").read_text())
    assert len(recs) == 3 and all(len(e["recommendations"]) == 5 for e in recs.values())
    assert "fallback='popularity'" in out
    assert (work / "results" / "report" / "index.html").exists()
