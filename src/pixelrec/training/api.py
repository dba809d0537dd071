"""`train_model`: the entry point behind `pixelrec train` (single process or torchrun)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path

from pixelrec.config import Config, config_hash, write_resolved_config
from pixelrec.io import write_json_atomic
from pixelrec.models.multimodal.content import Features
from pixelrec.training import checkpoint as ckpt
from pixelrec.training.distributed import setup, teardown
from pixelrec.training.outputs import METADATA_NAME, curves_path, log_error, plot_curves
from pixelrec.training.trainer import Callback, Trainer, best_value


def train_model(config: Config, device: str | None = None, resume: str | None = None, *,
                features: Features | None = None, callbacks: Sequence[Callback] = (),
                config_path: str | None = None, views: dict | None = None,
                train=None, val=None) -> dict:
    """Train the multimodal model on `config`'s split; return a summary dict.

    `device` overrides `training.device`; `resume` is `last`, `best` or a checkpoint path;
    `features` replaces the feature cache ({modality: (vectors, mask)} aligned with the
    processed item table, e.g. synthetic arrays in tests) and `views` the cached augmented views
    ({modality: [(vectors, mask) per view]}; none when only `features` is given); each callback
    gets every epoch's record on rank 0; `train` / `val` frames replace the split files.
    Failures are appended to `<results_dir>/error_log.json`. The metadata, resolved config and
    curves are written at the start (status incomplete), after every epoch's checkpoints and
    at the end (status complete).
    """
    ctx = setup(device or config.training.device)
    if config.training.num_threads is not None:
        import torch

        torch.set_num_threads(config.training.num_threads)
    try:
        run = _Wandb(config) if ctx.is_main and config.training.use_wandb else None
        trainer = Trainer(config, ctx, features=features,
                          callbacks=[*callbacks, run.log] if run is not None else callbacks,
                          views=views, train=train, val=val)
        if resume:
            trainer.restore(ckpt.checkpoint_path(config.checkpoint_dir, resume))
        if ctx.is_main:
            outputs = _RunOutputs(config, trainer, str(ctx.device), resume)
            trainer.callbacks.insert(0, outputs.write_progress)  # right after the checkpoints
        result = trainer.fit()
        summary = _summary(config, trainer, result, str(ctx.device), ctx.world, resume)
        if ctx.is_main:
            outputs.write(summary, "complete")
            if run is not None:
                run.finish(summary)
        return summary
    except BaseException as exc:
        if ctx.is_main and not isinstance(exc, KeyboardInterrupt):
            log_error(config.results_dir, "train", exc, config_path)
        raise
    finally:
        teardown(ctx)


def _summary(config: Config, trainer: Trainer, result: dict, device: str, world: int,
             resume: str | None) -> dict:
    metric = config.training.validation_metric
    return {
        "best_val_ndcg@10": best_value(result["history"], "ndcg@10"),
        "validation_metric": metric,
        "best_epoch": result["best"]["epoch"],
        "best_value": {"val_loss": -result["best"]["value"],
                       "none": None}.get(metric, result["best"]["value"]),
        "epochs": result["epochs"],
        "seconds": result["seconds"],  # every epoch of the run, resumed parts included
        "session_seconds": result["session_seconds"],
        "new_epochs": result["new_epochs"],
        "early_stopped": result["early_stopped"],
        "checkpoint": str(ckpt.checkpoint_path(config.checkpoint_dir, "best")),
        "last_checkpoint": str(ckpt.checkpoint_path(config.checkpoint_dir, "last")),
        "device": device,
        "world_size": world,
        "ranks_in_sync": result["ranks_in_sync"],
        "resumed_from": resume,
        "n_users": trainer.data.n_users,
        "n_items": len(trainer.item_ids),
        "n_train_interactions": len(trainer.data),
        "config_hash": config_hash(config),
        "run_id": trainer.run_id,
        "history": result["history"],
    }


class _RunOutputs:
    """The run's resolved config, curves and metadata under `results_dir`: written at the
    start and after every epoch's checkpoints (status incomplete), and at the end (complete)."""

    def __init__(self, config: Config, trainer: Trainer, device: str, resume: str | None):
        self.config, self.trainer, self.device, self.resume = config, trainer, device, resume
        self.results = Path(config.results_dir)
        self.started, self.first_epoch = time.perf_counter(), trainer.epoch
        self.resolved = str(write_resolved_config(config, self.results))
        self.plotted: int | None = None  # epochs drawn in the figure on disk
        self.write_progress()

    def write_progress(self, _record: dict | None = None) -> None:
        """Status incomplete, for the epochs done so far: at the start, then as the first epoch
        callback (the state is read from the trainer)."""
        trainer = self.trainer
        so_far = {"seconds": round(sum(r["seconds"] for r in trainer.history), 3),
                  "session_seconds": round(time.perf_counter() - self.started, 3),
                  "epochs": trainer.epoch, "new_epochs": trainer.epoch - self.first_epoch,
                  "early_stopped": None, "history": trainer.history, "best": trainer.best,
                  "ranks_in_sync": None}
        self.write(_summary(self.config, trainer, so_far, self.device, trainer.ctx.world,
                            self.resume), "incomplete")

    def write(self, summary: dict, status: str) -> None:
        """Metadata with `status`; the curves are redrawn when epochs were added (a fresh run
        removes the previous run's figure)."""
        history = self.trainer.history
        figure = curves_path(self.results)
        if self.plotted != len(history):
            if history:
                plot_curves(history, self.results)
            else:
                figure.unlink(missing_ok=True)
            self.plotted = len(history)
        summary.update(resolved_config=self.resolved, figure=str(figure) if history else None)
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(self.results / METADATA_NAME,
                          {"status": status, **summary, "created": created})


class _Wandb:
    """Optional Weights & Biases logging (metrics per epoch, best checkpoint as an artifact)."""

    def __init__(self, config: Config) -> None:
        try:
            import wandb
        except ImportError:
            from pixelrec.errors import ConfigError

            raise ConfigError("--use_wandb (training.use_wandb) needs the wandb package, which "
                              "is not installed: `pip install wandb`, or drop the flag. "
                              "WANDB_MODE=offline logs without a network.") from None
        self.wandb = wandb
        self.run = wandb.init(project=config.training.wandb_project,
                              entity=config.training.wandb_entity,
                              config=config.model_dump(), dir=config.results_dir)

    def log(self, record: dict) -> None:
        flat = {"train_loss": record["train_loss"], "lr": record["lr"],
                **{f"val/{k}": v for k, v in record.get("val", {}).items()}}
        if "val_loss" in record:
            flat["val_loss"] = record["val_loss"]
        self.run.log(flat, step=record["epoch"])

    def finish(self, summary: dict) -> None:
        artifact = self.wandb.Artifact("best-checkpoint", type="model")
        artifact.add_file(summary["checkpoint"])
        self.run.log_artifact(artifact)
        self.run.finish()
