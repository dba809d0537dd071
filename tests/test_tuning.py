"""`pixelrec tune`: an interrupted study resumes where it stopped, the best YAML reproduces the
best trial's val value, bad search spaces and recommenders without hyper-parameters exit 2,
the test split is never read, and multimodal trials report every epoch and can be pruned."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna")

from pixelrec import tuning  # noqa: E402
from pixelrec.cli.main import main  # noqa: E402
from pixelrec.config import load_config, validate_config  # noqa: E402
from pixelrec.config.tuning import Categorical, FloatRange, IntRange  # noqa: E402
from pixelrec.evaluation import evaluate_interactions  # noqa: E402
from pixelrec.evaluation.data import read_split  # noqa: E402
from pixelrec.models import create_recommender, get_recommender, recommender_types  # noqa: E402
from tests.inference.helpers import tiny_config_dict  # noqa: E402


@pytest.fixture(scope="module")
def prepared(small_demo, tmp_path_factory) -> Path:
    """The small demo preprocessed and split through the CLI (read-only)."""
    work = tmp_path_factory.mktemp("tune")
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(small_demo, work)))
    assert main(["preprocess", "--config", str(path), "--no_progress"]) == 0
    assert main(["split", "--config", str(path)]) == 0
    return work


@pytest.fixture
def config_file(prepared, small_demo, tmp_path):
    """A config over the prepared splits writing results under tmp_path; `tuning` is merged."""

    def make(**tuning_section) -> Path:
        raw = tiny_config_dict(small_demo, prepared)
        raw["results_dir"] = str(tmp_path / "results")
        raw["checkpoint_dir"] = str(tmp_path / "models")
        if tuning_section:
            raw["tuning"] = tuning_section
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    return make


def tune_cli(path: Path, name: str, trials: int, *extra: str) -> int:
    return main(["tune", "--config", str(path), "--recommender_type", name, "--trials",
                 str(trials), "--no_progress", *extra])


def load_study(path: Path, name: str):
    summary = json.loads((Path(load_config(path).results_dir) / "tuning"
                          / f"{name}_trials.json").read_text())
    storage = f"sqlite:///{summary['storage']}"
    return optuna.load_study(study_name=summary["study"], storage=storage), summary


def val_metric(config, name: str) -> float:
    """What the objective measures, computed independently: fit on train, score val."""
    split = Path(config.data.split_data_path)
    train = read_split(split / "train.parquet", "train", "--train_data")
    val = read_split(split / "val.parquet", "val", "--val_data")
    from pixelrec.evaluation.data import catalogue

    items, _ = catalogue(config.data.processed_item_info_path, [train, val])
    model = create_recommender(name, config).fit(train, items=items, val=val)
    result = evaluate_interactions(model, val, [train], evaluation=config.evaluation,
                                   seed=config.seed, bootstrap=False)
    return result["metrics"][config.training.validation_metric]


def test_interrupted_study_resumes_and_best_yaml_reproduces_best_value(config_file,
                                                                        monkeypatch, capsys):
    path = config_file()
    real = tuning.val_value
    calls = {"n": 0}
    read = []

    def interrupt_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third trial
        return real(*args, **kwargs)

    real_read = read_split
    monkeypatch.setattr("pixelrec.evaluation.data.read_split",
                        lambda p, *a, **k: read.append(Path(p).name) or real_read(p, *a, **k))
    monkeypatch.setattr(tuning, "val_value", interrupt_third)
    assert tune_cli(path, "item_knn", 4) == 130
    study, _ = load_study(path, "item_knn")
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    first = [(t.params, t.value, t.datetime_start) for t in study.trials[:2]]
    # trial 0 is the config's own values
    assert study.trials[0].params == {"evaluation.baselines.item_knn.k_neighbors": 100,
                                      "evaluation.baselines.item_knn.shrinkage": 10.0}

    monkeypatch.setattr(tuning, "val_value", real)
    capsys.readouterr()
    assert tune_cli(path, "item_knn", 4) == 0
    out = capsys.readouterr().out
    assert "4 finished trial(s), 2 run now" in out
    study, summary = load_study(path, "item_knn")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "FAIL",
                                                    "COMPLETE", "COMPLETE"]
    assert [(t.params, t.value, t.datetime_start) for t in study.trials[:2]] == first
    params = [tuple(t.params.values()) for t in study.trials if t.state.name == "COMPLETE"]
    assert len(set(params)) == 4  # the resumed sampler does not replay tried points
    assert set(read) == {"train.parquet", "val.parquet"}  # never the test split
    # the table: one row per trial, with its number, state, value and params
    rows = [line.split()[:3] for line in out.splitlines() if line[:1].isdigit()]
    assert [r[:2] for r in rows] == [["0", "COMPLETE"], ["1", "COMPLETE"], ["2", "FAIL"],
                                     ["3", "COMPLETE"], ["4", "COMPLETE"]]
    assert float(rows[0][2]) == pytest.approx(study.trials[0].value, abs=1e-6)
    assert len(summary["trials"]) == 5 and summary["finished_trials"] == 4

    # a rerun of a finished study runs nothing
    assert tune_cli(path, "item_knn", 4) == 0
    assert "0 run now" in capsys.readouterr().out
    assert len(load_study(path, "item_knn")[0].trials) == 5

    # the best YAML is a full config: loaded as is, fitted on train, scored on val, it gives
    # the stored best value
    best = study.best_trial
    assert summary["best"] == {"number": best.number, "value": best.value,
                               "params": best.params}
    chosen = load_config(summary["best_config"])
    knn = chosen.evaluation.baselines.item_knn
    assert (knn.k_neighbors, knn.shrinkage) == (
        best.params["evaluation.baselines.item_knn.k_neighbors"],
        best.params["evaluation.baselines.item_knn.shrinkage"])
    assert chosen.recommendation.recommender_type == "item_knn"
    assert abs(val_metric(chosen, "item_knn") - best.value) < 1e-9
    assert best.value == max(t.value for t in study.trials if t.value is not None)
    assert main(["evaluate", "--config", summary["best_config"], "--recommender_type",
                 "item_knn", "--output", "best.json"]) == 0


GRID = {"evaluation.baselines.item_knn.k_neighbors": {"type": "categorical",
                                                     "choices": [100, 20, 50]},
        "evaluation.baselines.item_knn.shrinkage": {"type": "categorical", "choices": [10.0, 0.0]}}


def test_grid_sampler_tries_config_values_first_then_each_point_once(config_file, monkeypatch,
                                                                     capsys):
    path = config_file(spaces={"item_knn": GRID}, sampler="grid", seed=3)
    config = load_config(path)
    space = tuning.search_space(config, "item_knn")
    start = {"evaluation.baselines.item_knn.k_neighbors": 100,
             "evaluation.baselines.item_knn.shrinkage": 10.0}  # the config's own values
    order = tuning.grid_order(space, start, "item_knn-3")
    assert order[0] == start and len(order) == 6
    assert len({json.dumps(p, sort_keys=True) for p in order}) == 6
    # the order is a seeded shuffle: another seed gives another order, the same seed the same
    assert tuning.grid_order(space, start, "item_knn-3") == order
    assert tuning.grid_order(space, start, "item_knn-4")[1:] != order[1:]

    real = tuning.val_value
    calls = {"n": 0}

    def interrupt_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning, "val_value", interrupt_third)
    assert tune_cli(path, "item_knn", 4) == 130
    monkeypatch.setattr(tuning, "val_value", real)
    assert tune_cli(path, "item_knn", 4) == 0  # resumes: 4 finished, no point twice
    study, summary = load_study(path, "item_knn")
    complete = [t.params for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4 and complete[:2] == order[:2]
    assert {json.dumps(p, sort_keys=True) for p in complete} == \
        {json.dumps(p, sort_keys=True) for p in order[:4]}
    # a budget above the grid's size stops when every point has been tried once
    capsys.readouterr()
    assert tune_cli(path, "item_knn", 10) == 0
    assert "6 finished trial(s), 2 run now" in capsys.readouterr().out
    study, summary = load_study(path, "item_knn")
    complete = [t.params for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(json.dumps(p, sort_keys=True) for p in complete) == \
        sorted(json.dumps(p, sort_keys=True) for p in order)
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert summary["best"]["value"] == best.value
    # the study's name depends on the sampler: a TPE study of the same space is another one
    tpe = load_config(path, ["tuning.sampler=tpe"])
    assert tuning.study_name(tpe, "item_knn") != tuning.study_name(config, "item_knn")


def test_grid_sampler_refuses_a_range(config_file, capsys):
    path = config_file(sampler="grid")  # the shipped item_knn space has int and float ranges
    assert tune_cli(path, "item_knn", 2) == 2
    err = capsys.readouterr().err
    assert "tuning.sampler is grid" in err and "the shipped search space of item_knn" in err
    assert "evaluation.baselines.item_knn.k_neighbors" in err and "tuning.sampler: tpe" in err


@pytest.mark.parametrize("space, message", [
    ({"evaluation.baselines.ease.l3": {"type": "float", "low": 1, "high": 2}},
     "tuning.spaces.ease.evaluation.baselines.ease.l3: unknown config key: no 'l3'"),
    ({"evaluation.baselines.ease.l2": {"type": "float", "low": 500, "high": 50}},
     "tuning.spaces.ease.evaluation.baselines.ease.l2: low (500.0) is above high (50.0)"),
    ({"evaluation.baselines.ease.l2": {"type": "categorical", "choices": []}},
     "tuning.spaces.ease.evaluation.baselines.ease.l2: choices must not be empty"),
    ({"evaluation.baselines.ease.l2": {"type": "normal", "low": 1, "high": 2}},
     "tuning.spaces.ease.evaluation.baselines.ease.l2: type must be float, int or categorical"),
    ({"evaluation.baselines.ease.l2": {"type": "float", "low": "a", "high": 2}},
     "tuning.spaces.ease.evaluation.baselines.ease.l2: low must be a number"),
    ({"evaluation.baselines.ease.max_items": {"type": "float", "low": 100, "high": 200}},
     "tuning.spaces.ease.evaluation.baselines.ease.max_items: the float value 100.5 is not "
     "valid for evaluation.baselines.ease.max_items"),
    ({"evaluation.baselines.ease.l2": {"type": "float", "low": 0, "high": 10}},
     "tuning.spaces.ease.evaluation.baselines.ease.l2: the float value 0.0 is not valid"),
    ({"evaluation.baselines.ease.l2": {"type": "float", "low": 0, "high": 10, "log": True}},
     "a log range needs low > 0"),
])
def test_bad_search_space_exits_2_naming_the_key(config_file, capsys, space, message):
    path = config_file(spaces={"ease": space})
    assert tune_cli(path, "ease", 1) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (path.parent / "results" / "tuning").exists()


def test_unknown_recommender_in_spaces_is_a_config_error():
    with pytest.raises(Exception, match="tuning.spaces.nope: unknown recommender"):
        validate_config({"tuning": {"spaces": {"nope": {"seed": {"type": "int", "low": 1,
                                                                 "high": 2}}}}})


@pytest.mark.parametrize("name", ["popularity", "random"])
def test_nothing_to_tune_exits_2(config_file, capsys, name):
    assert tune_cli(config_file(), name, 3) == 2
    assert f"{name} has no hyper-parameters to tune" in capsys.readouterr().err


def test_without_optuna_exits_2_with_install_hint(config_file, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    assert tune_cli(config_file(), "ease", 1) == 2
    assert 'pip install "pixelrec-multimodal[tune]"' in capsys.readouterr().err


def test_every_shipped_space_is_valid_for_the_default_config():
    config = load_config(None)
    tunable = {}
    for name in recommender_types():
        space = get_recommender(name).cls.search_space
        if space:
            assert tuning.search_space(config, name) == space
            tunable[name] = space
    assert set(tunable) == {"item_knn", "user_knn", "ease", "als", "bpr", "content_knn",
                            "multimodal_ease", "multimodal", "ensemble"}
    assert tunable["ease"] == {"evaluation.baselines.ease.l2": FloatRange(50.0, 5000.0, True)}
    assert tunable["item_knn"]["evaluation.baselines.item_knn.k_neighbors"] == \
        IntRange(20, 400, True)
    modalities = tunable["content_knn"]["evaluation.baselines.content_knn.modalities"]
    assert modalities == Categorical((["image", "text"], ["image"], ["text"]))
    assert modalities.decode(modalities.encode(["image"])) == ["image"]


def test_configured_space_replaces_the_shipped_one(config_file):
    path = config_file(spaces={"ease": {"evaluation.baselines.ease.l2": {
        "type": "categorical", "choices": [10.0, 20.0]}}})
    config = load_config(path)
    assert tuning.search_space(config, "ease") == {
        "evaluation.baselines.ease.l2": Categorical((10.0, 20.0))}
    # the study's identity ignores the tuned key's own value and output-only keys ...
    same = load_config(path, ["evaluation.baselines.ease.l2=77", "serving.port=9000"])
    assert tuning.study_name(same, "ease") == tuning.study_name(config, "ease")
    # ... but not a setting that changes what a trial measures
    other = load_config(path, ["evaluation.baselines.ease.max_items=999"])
    assert tuning.study_name(other, "ease") != tuning.study_name(config, "ease")


def test_multimodal_trials_report_epochs_and_are_pruned(config_file, prepared):
    from tests.training.conftest import synthetic_features

    space = {"multimodal": {"training.learning_rate": {"type": "float", "low": 0.005,
                                                       "high": 0.02, "log": True}}}
    path = config_file(spaces=space, pruning_startup_trials=1, pruning_warmup_epochs=0)
    config = load_config(path)
    features = synthetic_features(config)
    first = tuning.tune(config, "multimodal", 1, progress=False, features=features)
    (trial,) = first["trials"]
    assert trial["state"] == "COMPLETE" and trial["params"] == {"training.learning_rate": 0.01}
    curve = trial["intermediate_values"]
    assert list(curve) == ["1", "2"]  # every epoch's val metric, reported by the callback
    assert trial["value"] == pytest.approx(max(curve.values()), abs=1e-12)
    assert trial["user_attrs"]["epochs"] == 2
    assert 0 < trial["value"] < 1
    assert not Path(config.checkpoint_dir).exists()  # trials train in a scratch folder
    assert not (Path(config.results_dir) / "tuning" / "multimodal_trial").exists()

    # a finished trial far ahead at every epoch: the next trial is below the median after
    # its first epoch and is pruned there
    study, _ = load_study(path, "multimodal")
    study.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={1: 1.0, 2: 1.0},
                                              params={}, distributions={}))
    second = tuning.tune(config, "multimodal", 3, progress=False, features=features)
    pruned = second["trials"][2]
    assert pruned["state"] == "PRUNED" and list(pruned["intermediate_values"]) == ["1"]
    assert second["ran"] == 1 and second["finished_trials"] == 3
    best = yaml.safe_load(Path(second["best_config"]).read_text())
    assert best["checkpoint_dir"] == config.checkpoint_dir  # not the trials' scratch folder
    shutil.rmtree(Path(config.results_dir) / "tuning")
