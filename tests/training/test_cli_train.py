"""`pixelrec train`, `extract-encoders`, the seed scripts and torchrun/DDP on 2 CPU processes."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest
import yaml

from pixelrec.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def write_config(train_config, tmp_path, **overrides) -> Path:
    """A config without encoders (content = numeric features + tags + ids) as a YAML file."""
    config = train_config(model__vision_model=None, model__language_model=None, **overrides)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def test_train_and_extract_encoders_cli(train_config, tmp_path, capsys):
    path = write_config(train_config, tmp_path)
    assert main(["train", "--config", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "best val NDCG@10" in out and "best.pt" in out
    config = yaml.safe_load(path.read_text())
    assert main(["extract-encoders", "--config", str(path)]) == 0
    enc = Path(config["checkpoint_dir"]) / "encoders"
    users = json.loads((enc / "user_encoder.json").read_text())
    items = json.loads((enc / "item_encoder.json").read_text())
    assert sorted(users["mapping"].values()) == list(range(1, users["n_users"] + 1))
    assert 0 <= min(items["mapping"].values())
    label = pickle.loads((enc / "user_encoder.pkl").read_bytes())
    assert list(label.classes_) == sorted(users["mapping"])
    # --resume on a finished run trains nothing more and keeps the history.
    first_seconds = json.loads((Path(config["results_dir"]) / "training_metadata.json")
                               .read_text())["seconds"]
    capsys.readouterr()
    assert main(["train", "--config", str(path), "--device", "cpu", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "nothing left to train" in out and "training.epochs" in out
    meta = json.loads((Path(config["results_dir"]) / "training_metadata.json").read_text())
    assert meta["seconds"] == first_seconds > 0 and meta["new_epochs"] == 0
    assert f"in {first_seconds:.1f} s" in out


def test_use_wandb_without_the_package_is_a_clear_error(train_config, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    path = write_config(train_config, tmp_path)
    assert main(["train", "--config", str(path), "--device", "cpu", "--use_wandb"]) == 2
    assert "pip install wandb" in capsys.readouterr().err


def test_use_wandb_logs_metrics_and_best_checkpoint(train_config, tmp_path, monkeypatch):
    calls = []

    class Run:
        def log(self, data, step):
            calls.append(("log", step, data))

        def log_artifact(self, artifact):
            calls.append(("artifact", artifact.files))

        def finish(self):
            calls.append(("finish",))

    class Artifact:
        def __init__(self, name, type):
            self.files = []

        def add_file(self, path):
            self.files.append(path)

    fake = types.SimpleNamespace(init=lambda **kw: calls.append(("init", kw["project"])) or Run(),
                                 Artifact=Artifact)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    path = write_config(train_config, tmp_path)
    assert main(["train", "--config", str(path), "--device", "cpu", "--use_wandb",
                 "--wandb_project", "proj"]) == 0
    assert calls[0] == ("init", "proj")
    logged = [c for c in calls if c[0] == "log"]
    assert [c[1] for c in logged] == [1, 2] and "val/ndcg@10" in logged[0][2]
    assert calls[-2][0] == "artifact" and calls[-2][1][0].endswith("best.pt")
    assert calls[-1] == ("finish",)


def test_missing_checkpoint_for_extract_is_exit_2(train_config, tmp_path, capsys):
    path = write_config(train_config, tmp_path)
    assert main(["extract-encoders", "--config", str(path), "--checkpoint", "nope.pt"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_seed_script_train_help():
    out = subprocess.run([sys.executable, "scripts/train.py", "--help"], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0
    for flag in ("--device", "--resume", "--use_wandb", "--wandb_project", "--wandb_entity"):
        assert flag in out.stdout


def run_torchrun(cmd: list[str], env: dict, outputs: list[Path]) -> subprocess.CompletedProcess:
    """Launch torchrun; one retry from clean output folders if the first launch fails.

    Two of about 50 launches failed during development on a shared 2-core machine (the cause was
    not captured and did not reproduce); the first failure's stderr is kept as a warning so it
    shows in the test log. A failure that repeats still fails the test.
    """
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    if out.returncode != 0:
        warnings.warn(f"torchrun launch failed once (rc {out.returncode}); retrying. "
                      f"stderr tail:\n{out.stderr[-2000:]}", stacklevel=2)
        for folder in outputs:
            shutil.rmtree(folder, ignore_errors=True)
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    return out


def test_torchrun_two_cpu_processes(train_config, tmp_path):
    """Both ranks end with identical weights; rank 0 alone writes; NDCG@10 near 1 process.

    Tolerance 0.05 absolute: the 2-rank run sees the same global batches but its in-batch
    negatives and dropout masks differ (each rank holds half a batch), and NDCG@10 on this
    ~80-user validation split moves by a few hundredths between such runs.
    """
    path = write_config(train_config, tmp_path, training__epochs=3,
                        training__gradient_accumulation_steps=2)
    config = yaml.safe_load(path.read_text())
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pixelrec", "train", "--config", str(path),
           "--device", "cpu"]
    out = run_torchrun(cmd, env, [Path(config["results_dir"]), Path(config["checkpoint_dir"])])
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("best val NDCG@10") == 1
    results = Path(config["results_dir"])
    meta = json.loads((results / "training_metadata.json").read_text())
    assert meta["world_size"] == 2 and meta["ranks_in_sync"] is True
    assert sorted(p.name for p in Path(config["checkpoint_dir"]).iterdir()) == ["best.pt",
                                                                                 "last.pt"]
    assert not (results / "error_log.json").exists()
    from pixelrec.config import load_config
    from pixelrec.training import train_model

    single = train_model(load_config(path), device="cpu")
    assert meta["best_val_ndcg@10"] == pytest.approx(single["best_val_ndcg@10"], abs=0.05)
