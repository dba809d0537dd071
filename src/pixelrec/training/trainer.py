"""`Trainer`: epochs of batches, validation by full ranking, early stopping, checkpoints."""

from __future__ import annotations

import contextlib
import math
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pixelrec.config import Config, config_hash
from pixelrec.config.model import ModelConfig
from pixelrec.data.augmentation import augmentation_params
from pixelrec.errors import ConfigError, DataError
from pixelrec.features.compute import augmentation_section, is_frozen
from pixelrec.models.multimodal.content import Features
from pixelrec.models.multimodal.encoders import RawInputs, build_encoder_modules
from pixelrec.models.multimodal.loading import (
    cached_features,
    encoder_batch_sizes,
    feature_cache_name,
    item_content,
    read_catalogue,
    with_encoder_slots,
)
from pixelrec.models.multimodal.network import MultimodalNetwork, history_matrix
from pixelrec.models.multimodal.recommender import MultimodalRecommender
from pixelrec.training import checkpoint as ckpt
from pixelrec.training.averaging import WeightAverage
from pixelrec.training.data import TrainingData, interaction_columns, read_interactions
from pixelrec.training.distributed import Context, broadcast
from pixelrec.training.losses import build_loss
from pixelrec.training.optim import (
    LRSchedule,
    build_optimizer,
    clip_gradients,
    use_sparse_embeddings,
)

Callback = Callable[[dict], None]
Views = dict[str, list[tuple[np.ndarray, np.ndarray]]]  # modality -> [(vectors, mask)] per view


class Trainer:
    """Trains a `MultimodalNetwork` on `config`'s split; only rank 0 writes files."""

    def __init__(self, config: Config, ctx: Context, features: Features | None = None,
                 callbacks: Sequence[Callback] = (), views: Views | None = None,
                 train: pd.DataFrame | None = None, val: pd.DataFrame | None = None) -> None:
        """`features` / `views` replace the feature cache's clean vectors / cached augmented
        views (without `views`, given `features` come with no views); `train` / `val`
        (user_id, item_id[, timestamp]) replace the split files of `data.split_data_path`."""
        self.config, self.ctx, self.callbacks = config, ctx, list(callbacks)
        cfg = config.training
        metric = cfg.validation_metric
        if metric not in ("val_loss", "none") \
                and int(metric.split("@")[1]) not in config.evaluation.k_values:
            raise ConfigError(f"training.validation_metric {metric} needs k="
                              f"{metric.split('@')[1]} in evaluation.k_values "
                              f"({config.evaluation.k_values}); add it or pick another metric.")
        self.loss = build_loss(cfg.loss)
        if config.model.user_history == "transformer" and self.loss.kind != "listwise":
            raise ConfigError(f"model.user_history: transformer learns every next item of a "
                              f"sequence with training.loss: softmax, not {cfg.loss}; set "
                              f"training.loss: softmax or another model.user_history.")
        from pixelrec.data.split_stage import split_files

        paths = split_files(config.data.split_data_path)
        self.train_frame = read_interactions(paths["train"], "train split") if train is None \
            else _interactions(train)
        # `none`: a fixed number of epochs on all the given data (e.g. a refit on train+val);
        # the val split is neither read nor needed, and the last epoch is the best one.
        self.val_frame = None
        if metric != "none":
            self.val_frame = read_interactions(paths["val"], "val split") if val is None \
                else _interactions(val)
        if self.val_frame is not None and not self.val_frame.empty:
            from pixelrec.evaluation.core import sample_users

            self.val_frame = sample_users(self.val_frame, cfg.validation_users, config.seed)
        if self.val_frame is not None and self.val_frame.empty:
            raise DataError(f"val split {paths['val'] if val is None else '(given)'} is empty; "
                            f"training selects the model and stops early on it. Re-run "
                            f"`pixelrec split` with data.splitting.val_ratio > 0, or set "
                            f"training.validation_metric: none with a fixed training.epochs.")
        self.item_ids, table = read_catalogue(config)
        n_train_items = self.train_frame["item_id"].nunique()
        self.full_softmax = (self.loss.kind == "listwise" and config.model.scorer == "dot"
                             and n_train_items <= cfg.full_softmax_max_items)
        self.data = TrainingData(self.train_frame, self.item_ids, loss_kind=self.loss.kind,
                                 ratio=cfg.negative_sampling_ratio,
                                 strategy=cfg.negative_sampling_strategy, seed=config.seed,
                                 logq_correction=cfg.logq_correction,
                                 full_softmax=self.full_softmax)
        warn_ineffective_augmentation(config)
        self.encoders = build_encoder_modules(config)  # fine-tuned encoders (pretrained weights)
        if features is None:
            features, cached_views = self._features()
            views = cached_views if views is None else views
        self.views: Views = views or {}
        features = with_encoder_slots(features, self.encoders, len(self.item_ids))
        content = item_content(config, self.item_ids, table, self.data.id_items,
                               features=features)
        self.tag_vocab = content.tag_vocab
        self.numeric_cols = [c for c in config.data.numerical_features_cols
                             if c in table.columns]
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        net = MultimodalNetwork(content, self.data.n_users, config.model, self.encoders)
        net.set_history(history_matrix(self.data.users, self.data.items, self.data.timestamps,
                                       self.data.n_users, config.model.history_length))
        net.objective = self.loss
        self.network = net.to(ctx.device)
        if self.encoders:
            tower = net.item_tower
            tower.raw = RawInputs.from_config(config, self.item_ids)
            tower.augment = {m: augmentation_params(augmentation_section(config, m))
                             for m in self.encoders if augmentation_section(config, m).enabled}
            tower.encode_catalogue(encoder_batch_sizes(config))
        usable = set(net.item_tower.modalities) - set(self.encoders)
        if set(self.views) - usable:
            raise ValueError(f"augmented views given for {sorted(set(self.views) - usable)}, "
                             f"but only frozen modalities {sorted(usable)} can use them")
        if use_sparse_embeddings(cfg, net, ctx):
            for table in net.id_tables():
                table.sparse = True
        # auto: pooled histories on large catalogues only; a transformer's inputs are its
        # targets one step earlier, so a table would save it nothing (bench/train_step.py)
        self.history_table = net.uses_history and (
            cfg.history_vectors == "table"
            or (cfg.history_vectors == "auto" and not net.sequential
                and n_train_items > cfg.full_softmax_max_items))
        self.model = self.network
        if ctx.world > 1:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=ids, find_unused_parameters=bool(self.encoders))
        self.local_batch = max(1, cfg.batch_size // ctx.world)
        self.sequence_length = config.model.history_length if net.sequential else None
        self.batches_per_epoch = self.data.n_batches(self.local_batch, ctx.world,
                                                     self.sequence_length)
        self.optimizer = build_optimizer(net, cfg)
        self.ema = WeightAverage(net, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.schedule = LRSchedule(self.optimizer, cfg, math.ceil(
            self.batches_per_epoch / cfg.gradient_accumulation_steps))
        self.recommender = MultimodalRecommender.from_network(net, self.item_ids,
                                                              self.data.user_ids)
        if ctx.is_main:
            self.recommender.fit(self.train_frame, items=self.item_ids)
        self.val_data = None
        if metric == "val_loss":
            self.val_data = TrainingData(self.val_frame, self.item_ids, loss_kind=self.loss.kind,
                                         ratio=cfg.negative_sampling_ratio,
                                         strategy=cfg.negative_sampling_strategy,
                                         seed=config.seed, user_ids=self.data.user_ids,
                                         full_softmax=self.full_softmax, reference=self.data)
        self.run_id = uuid.uuid4().hex  # ties checkpoints to training_metadata.json
        self.epoch = 0
        self.history: list[dict] = []
        self.best: dict = {"epoch": None, "value": -math.inf}
        self.bad_epochs = 0

    def _features(self) -> tuple[Features, Views]:
        """Clean vectors and cached augmented views of the frozen encoders. Rank 0 fills the
        cache first; the other ranks then read it without the write lock."""
        from pixelrec.features.compute import item_views

        config, ids = self.config, self.item_ids
        if self.ctx.world == 1:
            return cached_features(config, ids), item_views(config, ids)
        if self.ctx.is_main:
            out = cached_features(config, ids), item_views(config, ids)
            torch.distributed.barrier()
            return out
        torch.distributed.barrier()
        return (cached_features(config, ids, read_only=True),
                item_views(config, ids, read_only=True))

    # ---- augmentation and fine-tuning, per epoch ------------------------------------------
    def view_choice(self, epoch: int) -> dict[str, np.ndarray]:
        """Per modality with cached views, the view each item shows in `epoch`: 0 = the clean
        vector, v = augmented view v (uniform over the clean vector and the N views; redrawn every
        epoch from (seed, epoch), identical across reruns and ranks)."""
        from pixelrec.data.augmentation import MODALITY_STREAM

        out = {}
        for modality, views in sorted(self.views.items()):
            rng = np.random.default_rng([self.config.seed, epoch, 2, MODALITY_STREAM[modality]])
            out[modality] = rng.integers(0, len(views) + 1, len(self.item_ids))
        return out

    def epoch_views(self, epoch: int) -> dict[str, torch.Tensor]:
        """This epoch's training tables: per item the clean vector or the drawn cached view."""
        tower = self.network.item_tower
        out = {}
        for modality, choice in self.view_choice(epoch).items():
            table = getattr(tower, f"x_{modality}").clone()
            for view, (vectors, mask) in enumerate(self.views[modality]):
                rows = np.flatnonzero((choice == view + 1) & np.asarray(mask, dtype=bool))
                if len(rows):
                    part = torch.as_tensor(np.asarray(vectors[rows], dtype=np.float32))
                    table[torch.as_tensor(rows, device=table.device)] = torch.nn.functional \
                        .normalize(part, dim=-1).to(table.device, table.dtype)
            out[modality] = table
        return out

    def begin_epoch(self) -> None:
        """Bind this epoch's cached views and on-the-fly augmentation generator (training only;
        eval mode always reads the clean tables)."""
        tower = self.network.item_tower
        tower.train_vectors = self.epoch_views(self.epoch)
        if tower.augment:
            tower.augment_rng = np.random.default_rng([self.config.seed, self.epoch, 3])

    def end_epoch(self) -> None:
        """Drop the epoch's views; fine-tuned encoders re-encode the catalogue (eval mode, no
        gradients; with the averaged weights under EMA) for validation and the next epoch's
        history items."""
        tower = self.network.item_tower
        tower.train_vectors = {}
        tower.augment_rng = None
        if self.encoders:
            with self._averaged():
                tower.encode_catalogue(encoder_batch_sizes(self.config))

    # ---- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "model_config": self.config.model.model_dump(),
            "training_config": self.config.training.model_dump(),
            "config_hash": config_hash(self.config),
            "seed": self.config.seed,
            "user_ids": self.data.user_ids,
            "item_ids": self.item_ids,
            "id_items": self.data.id_items,
            "tag_vocab": self.tag_vocab,
            "numeric_cols": self.numeric_cols,
            "feature_cache": feature_cache_name(self.config),
            "fine_tuned": sorted(self.encoders),
            "model_state": self._weights(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "raw_model_state": None if self.ema is None else
            {k: v.cpu() for k, v in self.network.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": ckpt.rng_state(),
            "run_id": self.run_id,
            "epoch": self.epoch,
            "history": self.history,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
        }

    def restore(self, path: str | Path) -> None:
        state = ckpt.load_checkpoint(path)
        if state["user_ids"] != self.data.user_ids or state["item_ids"] != self.item_ids:
            raise ConfigError(f"checkpoint {path} was trained on other users/items than the "
                              f"current split and catalogue; resume needs the same data.")
        if ModelConfig(**state["model_config"]).model_dump() != self.config.model.model_dump():
            raise ConfigError(f"checkpoint {path} has a different `model` section than the "
                              f"config; resume with the config it was trained with.")
        if self.ema is not None and state.get("ema") is not None:
            self.network.load_state_dict(state["raw_model_state"])
            self.ema.load_state_dict(state["ema"])
        else:
            self.network.load_state_dict(state["model_state"])
        if self.encoders:  # tables from the restored encoder weights (as `end_epoch`)
            with self._averaged():
                self.network.item_tower.encode_catalogue(encoder_batch_sizes(self.config))
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        ckpt.set_rng_state(state["rng"])
        self.run_id = state.get("run_id", self.run_id)  # a resumed run stays the same run
        self.epoch, self.history = state["epoch"], state["history"]
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]

    def _weights(self) -> dict:
        """Weights to checkpoint: the averaged ones under EMA (what validation scored)."""
        if self.ema is None:
            return {k: v.cpu() for k, v in self.network.state_dict().items()}
        with self.ema.averaged():
            return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    def _averaged(self):
        return contextlib.nullcontext() if self.ema is None else self.ema.averaged()

    # ---- loop ----------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.config.training
        started, first_epoch = time.perf_counter(), self.epoch
        while self.epoch < cfg.epochs and self.bad_epochs < cfg.patience:
            epoch_started = time.perf_counter()
            self.begin_epoch()
            train_loss = self.train_epoch()
            self.end_epoch()
            record = {"epoch": self.epoch + 1, "train_loss": train_loss,
                      "lr": self.optimizer.param_groups[0]["lr"],
                      "train_seconds": round(time.perf_counter() - epoch_started, 3)}
            with self._averaged():
                result = self.validate() if self.ctx.is_main else None
            record.update(broadcast(self.ctx, result))
            record["seconds"] = round(time.perf_counter() - epoch_started, 3)
            self.epoch += 1
            self.history.append(record)
            score = record["val_score"]
            self.schedule.epoch_end(score)
            improved = score > self.best["value"]
            if improved:
                self.best = {"epoch": self.epoch, "value": score}
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
            if self.ctx.is_main and cfg.progress:
                shown = ", ".join(f"val {k} {v:.4f}" for k, v in record["val"].items()
                                  if k in (cfg.validation_metric, "ndcg@10"))
                if "val_loss" in record:
                    shown = f"val_loss {record['val_loss']:.4f}"
                print(f"epoch {self.epoch}: train loss {train_loss:.4f}; {shown}"
                      f"{' (best)' if improved else ''}; {record['seconds']:.1f} s", flush=True)
            if self.ctx.is_main:
                state = self.state()
                ckpt_dir = self.config.checkpoint_dir
                if improved:
                    ckpt.save_checkpoint(ckpt.checkpoint_path(ckpt_dir, "best"), state)
                ckpt.save_checkpoint(ckpt.checkpoint_path(ckpt_dir, "last"), state)
                for callback in self.callbacks:
                    callback(record)
        return {"seconds": round(sum(r["seconds"] for r in self.history), 3),
                "session_seconds": round(time.perf_counter() - started, 3),
                "epochs": self.epoch, "new_epochs": self.epoch - first_epoch,
                "early_stopped": self.bad_epochs >= cfg.patience,
                "history": self.history, "best": self.best, "ranks_in_sync": self.ranks_in_sync()}

    def ranks_in_sync(self) -> bool | None:
        """Whether every rank holds bit-identical weights (None in a single process)."""
        if self.ctx.world == 1:
            return None
        flat = torch.cat([p.detach().flatten().float() for p in self.network.parameters()])
        copies = [torch.empty_like(flat) for _ in range(self.ctx.world)]
        torch.distributed.all_gather(copies, flat)
        return all(torch.equal(copies[0], c) for c in copies[1:])

    def train_epoch(self) -> float:
        cfg, ctx = self.config.training, self.ctx
        self.model.train()
        accum = cfg.gradient_accumulation_steps
        total, count, seen = 0.0, 0, 0
        bar = self._progress()
        started = time.perf_counter()
        if self.sequence_length is not None:
            batches = self.data.sequence_batches(self.epoch, self.local_batch,
                                                 self.sequence_length, ctx.rank, ctx.world,
                                                 ctx.device)
        else:
            batches = self.data.batches(self.epoch, self.local_batch, ctx.rank, ctx.world,
                                        ctx.device)
        self.optimizer.zero_grad(set_to_none=True)
        steps = 0
        if self.history_table:
            self.network.refresh_history_table()
        for k, batch in enumerate(batches):
            step_now = (k + 1) % accum == 0 or k + 1 == self.batches_per_epoch
            sync = contextlib.nullcontext()
            if ctx.world > 1 and not step_now:
                sync = self.model.no_sync()
            with sync:
                with self._autocast():
                    out = self.model(batch)
                (out["loss"] / accum).backward()
            if step_now:
                if cfg.gradient_clip_norm is not None:
                    clip_gradients(self.network.parameters(), cfg.gradient_clip_norm)
                self.optimizer.step()
                if self.ema is not None:
                    self.ema.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.schedule.step()
                steps += 1
                if self.history_table and steps % cfg.history_refresh_steps == 0:
                    self.network.refresh_history_table()
            loss = float(out["loss"].detach())
            if not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch "
                                         f"{self.epoch + 1}, batch {k + 1}; lower "
                                         f"training.learning_rate or enable gradient clipping.")
            n = len(batch["users"])
            total, count, seen = total + loss * n, count + n, seen + n * ctx.world
            if bar is not None:
                rate = seen / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix(loss=f"{loss:.4f}", inter_per_s=f"{rate:,.0f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        self.network.history_table = None
        return total / max(count, 1)

    def _progress(self):
        if not (self.config.training.progress and self.ctx.is_main):
            return None
        from tqdm import tqdm

        return tqdm(total=self.batches_per_epoch, desc=f"epoch {self.epoch + 1}",
                    unit="batch", dynamic_ncols=True, leave=False)

    def _autocast(self):
        enabled = self.ctx.device.type == "cuda" and self.config.training.bf16
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled) if enabled \
            else contextlib.nullcontext()

    @torch.no_grad()
    def validate(self) -> dict:
        """`val_loss`, or full-ranking metrics through the evaluation package (train masked)."""
        metric = self.config.training.validation_metric
        if metric == "none":  # every epoch counts as an improvement: best == last
            return {"val": {}, "val_score": float(self.epoch + 1)}
        if metric == "val_loss":
            loss = self.val_loss()
            return {"val": {}, "val_loss": loss, "val_score": -loss}
        from pixelrec.evaluation import evaluate_interactions

        self.recommender.refresh()
        result = evaluate_interactions(self.recommender, self.val_frame, [self.train_frame],
                                       evaluation=self.config.evaluation, seed=self.config.seed,
                                       bootstrap=False)
        keep = [f"{m}@{k}" for k in self.config.evaluation.k_values for m in ("ndcg", "recall")]
        val = {m: result["metrics"][m] for m in [*keep, metric] if m in result["metrics"]}
        return {"val": val, "val_score": result["metrics"][metric]}

    def val_loss(self) -> float:
        net = self.network
        net.eval()
        total, count = 0.0, 0
        for batch in self.val_data.batches(0, self.local_batch, device=self.ctx.device):
            with self._autocast():
                total += float(net(batch)["loss"]) * len(batch["users"])
            count += len(batch["users"])
        net.train()
        return total / max(count, 1)


def _interactions(frame: pd.DataFrame) -> pd.DataFrame:
    return interaction_columns(frame, "the given training interactions",
                               "pass user_id, item_id and optionally timestamp")


def warn_ineffective_augmentation(config: Config) -> None:
    """Warn about augmentation settings that would silently do nothing in this run."""
    for modality, model_key, freeze_key in (("image", "vision_model", "freeze_vision"),
                                            ("text", "language_model", "freeze_language")):
        section = augmentation_section(config, modality)
        key = f"data.{modality}_augmentation"
        if not section.enabled:
            continue
        if getattr(config.model, model_key) is None:
            warnings.warn(f"{key}.enabled is true but model.{model_key} is null: there is no "
                          f"{modality} to augment.", stacklevel=3)
        elif is_frozen(config, modality) and section.cached_views == 0:
            warnings.warn(f"{key}.enabled is true but the {modality} encoder is frozen and "
                          f"{key}.cached_views is 0, so training sees no augmented {modality}s; "
                          f"set {key}.cached_views > 0 (then `pixelrec precompute`) or fine-tune "
                          f"(model.{freeze_key}: false).", stacklevel=3)
        elif not is_frozen(config, modality) and section.cached_views > 0:
            warnings.warn(f"{key}.cached_views is ignored while model.{freeze_key} is false: the "
                          f"fine-tuned encoder augments raw {modality}s on the fly.", stacklevel=3)


def best_value(history: list[dict], key: str) -> float | None:
    values = [h.get("val", {}).get(key) for h in history]
    values = [v for v in values if v is not None and np.isfinite(v)]
    return max(values) if values else None
