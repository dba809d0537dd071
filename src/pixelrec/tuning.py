"""`tune`: hyper-parameter search with Optuna on the val split (the code behind `pixelrec tune`).

Each trial sets the sampled values of the recommender's search space (its shipped
`Recommender.search_space`, or `tuning.spaces.<name>`) into the config, fits the recommender
on the train split only and scores `training.validation_metric` on the val split with train
items masked (`evaluate_interactions`, as validation during training); the test split is never
read. The multimodal model trains with early stopping on val (its value is the best epoch's)
and reports every epoch's val metric, so the median rule can prune a hopeless trial.

The study lives in `<results_dir>/tuning/<name>.db` (SQLite) under a name made of the
recommender and a hash of the config without the tuned keys, so re-running the same command
resumes it: `n_trials` is the total of finished (complete or pruned) trials the study should
hold. After every trial the best configuration is written as a full config
(`<name>_best.yaml`, which `pixelrec train` / `evaluate` take unchanged) and every trial to
`<name>_trials.json`. Optuna is an optional dependency, imported only here.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import random
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pixelrec.config import Config, config_to_dict, validate_config
from pixelrec.config.tuning import Categorical, Distribution, config_key_problem
from pixelrec.errors import ConfigError, DataError, PixelRecError
from pixelrec.io import write_json_atomic, write_text_atomic

INSTALL_HINT = 'pip install "pixelrec-multimodal[tune]"'
FINISHED = ("COMPLETE", "PRUNED")
# Keys that do not change what a trial measures: left out of the study's config hash.
_NOT_HASHED = ("tuning", "serving", "recommendation", "results_dir", "checkpoint_dir",
               "training.progress", "training.use_wandb", "training.wandb_project",
               "training.wandb_entity", "evaluation.bootstrap_samples")


def import_optuna():
    """The optuna module, or a PixelRecError (exit 2) saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise PixelRecError(f"pixelrec tune needs Optuna, which is not installed: "
                            f"{INSTALL_HINT} (or pip install optuna).") from None
    return optuna


# ---- config helpers ------------------------------------------------------------------------

def _get(raw: dict, key: str) -> Any:
    node: Any = raw
    for part in key.split("."):
        node = node[part]
    return node


def _set(raw: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _drop(raw: dict, key: str) -> None:
    *parents, last = key.split(".")
    node = raw
    for part in parents:
        node = node.get(part, {})
    node.pop(last, None)


def with_params(config: Config, params: dict[str, Any]) -> dict:
    """The config as a dict with the dotted `params` set (not validated)."""
    raw = copy.deepcopy(config_to_dict(config))
    for key, value in params.items():
        _set(raw, key, value)
    return raw


def search_space(config: Config, name: str) -> dict[str, Distribution]:
    """The space tuned for `name`: `tuning.spaces.<name>`, else the recommender's shipped
    `search_space`; every bound and choice is checked against this config. An empty space (a
    recommender without hyper-parameters, e.g. popularity) is a ConfigError."""
    from pixelrec.models import get_recommender

    entry = get_recommender(name)
    configured = config.tuning.space_for(name)
    space = configured if configured is not None else \
        dict(getattr(entry.cls, "search_space", None) or {})
    if not space:
        raise ConfigError(f"{name} has no hyper-parameters to tune: its search space is empty. "
                          f"Tune another recommender, or give it a space in the config "
                          f"(tuning.spaces.{name}: {{dotted.config.key: {{type: float, low: ..., "
                          f"high: ...}}}}; see docs/tuning.md).")
    for key, dist in space.items():
        where = f"tuning.spaces.{name}.{key}" if configured is not None \
            else f"the shipped search space of {name} ({key})"
        problem = config_key_problem(key, Config)
        if problem:
            raise ConfigError(f"{where}: {problem}.")
        for value in dist.probes():
            try:
                Config.model_validate(with_params(config, {key: value}))
            except ValidationError as exc:
                reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                    for e in exc.errors())
                kind = dist.to_dict()["type"]
                raise ConfigError(f"{where}: the {kind} value {value!r} is not valid for {key} "
                                  f"({reasons}). Change the type, range or choices.") from None
    return space


def objective_metric(config: Config) -> str:
    """`training.validation_metric`, which must be a top-k metric computed at a k in
    `evaluation.k_values`."""
    metric = config.training.validation_metric
    if "@" not in metric:
        raise ConfigError(f"pixelrec tune maximises training.validation_metric on the val split; "
                          f"it must be <metric>@<k> (e.g. ndcg@10), not {metric}.")
    k = int(metric.split("@")[1])
    if k not in config.evaluation.k_values:
        raise ConfigError(f"training.validation_metric {metric} needs k={k} in "
                          f"evaluation.k_values ({config.evaluation.k_values}); add it or pick "
                          f"another metric.")
    return metric


def study_name(config: Config, name: str, space: dict[str, Distribution] | None = None) -> str:
    """`<name>-<hash>`: the hash covers the config without the tuned keys (and without keys that
    do not change a trial's value, such as serving and output folders) plus the space, so the
    same command resumes the same study and a changed setting starts a new one."""
    space = search_space(config, name) if space is None else space
    raw = copy.deepcopy(config_to_dict(config))
    for key in [*_NOT_HASHED, *space]:
        _drop(raw, key)
    raw["__space__"] = {key: dist.to_dict() for key, dist in sorted(space.items())}
    if config.tuning.sampler != "tpe":  # (TPE studies keep the names they had before)
        raw["__sampler__"] = config.tuning.sampler
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
    return f"{name}-{digest}"


def tuning_paths(config: Config, name: str) -> dict[str, Path]:
    folder = Path(config.results_dir) / "tuning"
    return {"folder": folder, "storage": folder / f"{name}.db",
            "best_config": folder / f"{name}_best.yaml",
            "trials": folder / f"{name}_trials.json", "scratch": folder / f"{name}_trial"}


# ---- the study ----------------------------------------------------------------------------

def _frames(config: Config):
    from pixelrec.evaluation.data import catalogue, default_split_path, read_split

    split_dir = config.data.split_data_path
    train = read_split(default_split_path(split_dir, "train"), "train split", "--train_data")
    val_path = default_split_path(split_dir, "val")
    if not val_path.exists():
        raise DataError(f"val split not found: {val_path}. pixelrec tune selects on the val split; "
                        f"run `pixelrec split` with data.splitting.val_ratio > 0 first.")
    val = read_split(val_path, "val split", "--val_data")
    if val.empty:
        raise DataError(f"val split {val_path} is empty; pixelrec tune selects on it. Re-run "
                        f"`pixelrec split` with data.splitting.val_ratio > 0.")
    items, _ = catalogue(config.data.processed_item_info_path, [train, val])
    return train, val, items


def val_value(config: Config, name: str, train, val, items, *, features=None,
              report: Callable[[dict], None] | None = None) -> tuple[float, dict]:
    """(`training.validation_metric` on val, extra facts) of `name` fitted on train only.

    The multimodal model trains with early stopping on val and returns its best epoch's value
    (`report` gets every epoch's record); other models are fitted on train and evaluated on val
    with train items masked."""
    from pixelrec.models import create_recommender

    metric = objective_metric(config)
    if _is_multimodal(name):
        from pixelrec.training import train_model

        summary = train_model(config, features=features, train=train, val=val,
                              callbacks=[report] if report is not None else ())
        return float(summary["best_value"]), {"best_epoch": summary["best_epoch"],
                                              "epochs": summary["epochs"]}
    from pixelrec.evaluation import evaluate_interactions

    recommender = create_recommender(name, config, checkpoint="auto")
    recommender.fit(train, items=items, val=val)
    result = evaluate_interactions(recommender, val, [train], evaluation=config.evaluation,
                                   seed=config.seed, bootstrap=False)
    return float(result["metrics"][metric]), {}


def tune(config: Config, name: str, n_trials: int, *, timeout: float | None = None,
         progress: bool = True, features=None) -> dict:
    """Run the study of `name` until it holds `n_trials` finished trials (or `timeout` seconds
    pass: no new trial starts after it); returns the summary written to `<name>_trials.json`
    plus `ran` (trials run by this call). `features` replace the feature cache (tests)."""
    if n_trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {n_trials}.")
    optuna = import_optuna()
    metric = objective_metric(config)
    space = search_space(config, name)
    tuning = config.tuning
    if tuning.sampler == "grid":
        grid_problem(space, f"tuning.spaces.{name}" if tuning.space_for(name) is not None
                     else f"the shipped search space of {name}")
    paths = tuning_paths(config, name)
    paths["folder"].mkdir(parents=True, exist_ok=True)
    train, val, items = _frames(config)
    current = config_to_dict(config)
    start = {key: _get(current, key) for key, dist in space.items()
             if dist.contains(_get(current, key))}
    pruner = optuna.pruners.MedianPruner(n_startup_trials=tuning.pruning_startup_trials,
                                         n_warmup_steps=tuning.pruning_warmup_epochs) \
        if tuning.pruning else optuna.pruners.NopPruner()
    seed = config.seed if tuning.seed is None else tuning.seed

    trial_dirs = {}
    scratch = paths["scratch"]
    multimodal = _is_multimodal(name)
    if multimodal:  # trials train into a scratch folder: the user's checkpoints stay untouched
        trial_dirs = {"checkpoint_dir": str(scratch / "checkpoints"),
                      "results_dir": str(scratch), "training.progress": False}

    def objective(params: dict[str, Any], trial) -> float:
        trial_config = validate_config(with_params(config, {**params, **trial_dirs}),
                                       source=f"trial {trial.number} of the study")

        def report(record: dict) -> None:
            trial.report(float(record["val_score"]), int(record["epoch"]))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {record['epoch']}")

        value, extra = val_value(trial_config, name, train, val, items, features=features,
                                 report=report if multimodal else None)
        for key, fact in extra.items():
            trial.set_user_attr(key, fact)
        return value

    try:
        study, ran = run_study(
            paths["storage"], study_name(config, name, space), space, objective, n_trials,
            seed=seed, sampler=tuning.sampler, start=start, grid_key=f"{name}-{seed}",
            pruner=pruner, timeout=timeout, progress=progress, desc=f"tune {name}",
            attrs={"recommender": name, "metric": metric},
            after_trial=lambda study: write_outputs(config, name, study, space, metric,
                                                    n_trials, paths))
    finally:
        if multimodal and scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    summary = write_outputs(config, name, study, space, metric, n_trials, paths)
    summary["ran"] = ran
    return summary


def grid_problem(space: dict[str, Distribution], where: str) -> None:
    """ConfigError unless every entry of `space` is categorical (what `tuning.sampler: grid`
    enumerates)."""
    ranges = [key for key, dist in space.items() if not isinstance(dist, Categorical)]
    if ranges:
        raise ConfigError(f"tuning.sampler is grid, which tries every combination of categorical "
                          f"choices, but {where} has range(s) for {', '.join(ranges)}. Give "
                          f"those keys {{type: categorical, choices: [...]}} in tuning.spaces, "
                          f"or set tuning.sampler: tpe.")


def grid_order(space: dict[str, Categorical], start: dict[str, Any] | None,
               key: str) -> list[dict[str, Any]]:
    """Every point of an all-categorical space: `start` first (when it is one of them), then
    the others in a random order seeded by the text `key`; a trial budget below the grid's
    size takes a prefix: the starting point and distinct random draws."""
    keys = list(space)
    points = [dict(zip(keys, values, strict=True))
              for values in itertools.product(*(space[k].choices for k in keys))]
    first = [start] if start is not None and start in points else []
    rest = [p for p in points if not first or p != start]
    random.Random(key).shuffle(rest)
    return first + rest


def _point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def run_study(storage: Path, name: str, space: dict[str, Distribution],
              objective: Callable[[dict[str, Any], Any], float], n_trials: int, *, seed: int,
              sampler: str = "tpe", start: dict[str, Any] | None = None, grid_key: str = "",
              pruner=None, timeout: float | None = None, progress: bool = True,
              desc: str = "tune", attrs: dict[str, Any] | None = None,
              after_trial: Callable[[Any], Any] | None = None) -> tuple[Any, int]:
    """Create or resume the Optuna study `name` in the SQLite file `storage` and run it until
    it holds `n_trials` finished (complete or pruned) trials; return (study, trials run now).

    `objective(params, trial)` gets each trial's decoded values of `space` and returns the value
    to maximise (it may report intermediate values and raise `optuna.TrialPruned`).
    `sampler` "tpe": seeded TPE, `start` (the values to begin from) as the first trial of a new
    study; "grid": the points of `grid_order(space, start, grid_key)`, each tried at most once,
    so the study stops when the grid is exhausted. `after_trial(study)` runs after each trial.
    The code behind `pixelrec tune`, and the tuning loop of `bench/accuracy.py`."""
    optuna = import_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        db = optuna.storages.RDBStorage(
            f"sqlite:///{Path(storage).resolve()}",
            engine_kwargs={"connect_args": {"timeout": 60}},
            heartbeat_interval=30, grace_period=120)  # a killed run's trial is failed later
    study = optuna.create_study(storage=db, study_name=name,
                                sampler=optuna.samplers.RandomSampler(seed=seed),
                                pruner=pruner or optuna.pruners.NopPruner(),
                                direction="maximize", load_if_exists=True)
    trials = study.get_trials(deepcopy=False)
    if not trials:
        for key, value in {**(attrs or {}), "sampler": sampler,
                           "space": {k: d.to_dict() for k, d in space.items()}}.items():
            study.set_user_attr(key, value)
    encoded = {} if start is None else {key: space[key].encode(value)
                                        for key, value in start.items() if key in space}
    remaining = max(0, n_trials - _finished(study))
    if sampler == "grid":
        waiting = [t for t in trials if t.state.name == "WAITING"]
        # an enqueued trial that has not started holds its point as fixed params only
        tried = {_point_key(_decoded(t, space) if t.params else
                            {k: space[k].decode(v) if k in space else v for k, v in
                             t.system_attrs.get("fixed_params", {}).items()})
                 for t in trials if t.state.name in (*FINISHED, "WAITING")}
        order = [p for p in grid_order(space, start, grid_key) if _point_key(p) not in tried]
        for point in order[:max(0, remaining - len(waiting))]:
            study.enqueue_trial({key: space[key].encode(v) for key, v in point.items()})
        remaining = min(remaining, len(waiting) + len(order))
    else:
        # a resumed study continues with seed + trials so far: the same seed would replay the
        # points already tried (the sampler's random start-up draws restart with it)
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(trials))
        if not trials and encoded:  # the config's own values first: never worse than them
            study.enqueue_trial(encoded)

    def run(trial) -> float:
        return objective({key: dist.suggest(trial, key) for key, dist in space.items()}, trial)

    from tqdm import tqdm

    done = _finished(study)
    ran = 0
    bar = tqdm(total=done + remaining, initial=done, desc=desc, unit="trial",
               dynamic_ncols=True, disable=not progress or remaining == 0)
    _show_best(bar, study)

    def finished(study, frozen) -> None:
        nonlocal ran
        ran += 1
        _show_best(bar, study)
        bar.update(1)
        if after_trial is not None:
            after_trial(study)

    try:
        if remaining:
            study.optimize(run, n_trials=remaining, timeout=timeout, callbacks=[finished])
    finally:
        bar.close()
    return study, ran


def _is_multimodal(name: str) -> bool:
    from pixelrec.models import get_recommender
    from pixelrec.models.multimodal.recommender import MultimodalRecommender

    cls = get_recommender(name).cls
    return cls is not None and issubclass(cls, MultimodalRecommender)


def _finished(study) -> int:
    return sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))


def _best(study):
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def _show_best(bar, study) -> None:
    best = _best(study)
    bar.set_postfix(best="n/a" if best is None else f"{best.value:.4f}", refresh=False)


# ---- outputs ------------------------------------------------------------------------------

def _decoded(trial, space: dict[str, Distribution]) -> dict[str, Any]:
    return {key: space[key].decode(value) if key in space else value
            for key, value in trial.params.items()}


def trial_rows(study, space: dict[str, Distribution]) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = None
        if t.datetime_start is not None and t.datetime_complete is not None:
            seconds = round((t.datetime_complete - t.datetime_start).total_seconds(), 3)
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "params": _decoded(t, space),
                     "intermediate_values": {str(k): v for k, v in
                                             sorted(t.intermediate_values.items())},
                     "seconds": seconds, **({"user_attrs": dict(t.user_attrs)}
                                            if t.user_attrs else {})})
    return rows


def best_config(config: Config, name: str, params: dict[str, Any]) -> Config:
    """The full config with the best `params` set and `recommendation.recommender_type` =
    `name` (what `pixelrec train` / `evaluate` / `recommend` take unchanged)."""
    return validate_config(with_params(config, {**params, "recommendation.recommender_type":
                                                name}), source="the best trial")


def write_outputs(config: Config, name: str, study, space: dict[str, Distribution],
                  metric: str, n_trials: int, paths: dict[str, Path]) -> dict:
    """Write `<name>_best.yaml` (when a trial completed) and `<name>_trials.json`; return the
    summary."""
    best = _best(study)
    summary: dict[str, Any] = {
        "study": study.study_name, "storage": str(paths["storage"]), "recommender": name,
        "metric": metric, "split": "val", "direction": "maximize", "target_trials": n_trials,
        "finished_trials": _finished(study),
        "space": {key: dist.to_dict() for key, dist in space.items()},
        "best": None, "best_config": None}
    if best is not None:
        params = _decoded(best, space)
        summary["best"] = {"number": best.number, "value": best.value, "params": params}
        chosen = best_config(config, name, params)
        header = (f"# written by `pixelrec tune --recommender_type {name}`: the best trial "
                  f"(#{best.number}) of study {study.study_name},\n# val {metric} = "
                  f"{best.value:.6f}. Use it as it is: pixelrec train/evaluate --config "
                  f"<this file>\n")
        write_text_atomic(paths["best_config"],
                          header + yaml.safe_dump(config_to_dict(chosen), sort_keys=False))
        summary["best_config"] = str(paths["best_config"])
    summary["trials"] = trial_rows(study, space)
    summary["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(paths["trials"], summary)
    summary["trials_file"] = str(paths["trials"])
    return summary


def _short_names(keys: list[str]) -> dict[str, str]:
    """Each dotted key by its last part, or in full where two keys share a last part."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: s if last.count(s) == 1 else k for k, s in zip(keys, last, strict=True)}


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def format_trials(summary: dict) -> str:
    """The trials as a table: number, state, value, params."""
    names = _short_names(list(summary["space"]))
    lines = [("trial", "state", "value", "params")]
    for row in summary["trials"]:
        params = ", ".join(f"{names.get(k, k)}={_shown(v)}" for k, v in row["params"].items())
        value = "" if row["value"] is None else f"{row['value']:.6f}"
        lines.append((str(row["number"]), row["state"], value, params))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip()
                     for a, b, c, d in lines)
