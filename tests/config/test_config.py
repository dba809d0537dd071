"""Config loading, overrides and the wording of validation errors."""

from __future__ import annotations

import pytest
import yaml

from pixelrec.config import config_hash, load_config, write_resolved_config
from pixelrec.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_pixelrec_schema():
    config = load_config()
    assert config.data.columns.item_id == "item_id"
    assert config.data.columns.image_pattern == "{item_id}.jpg"
    assert "view_number" in config.data.numerical_features_cols
    assert config.data.splitting.strategy == "temporal"


def test_file_values_and_set_overrides(tmp_path):
    path = write(tmp_path, "data:\n  splitting:\n    strategy: random\n    seed: 7\n")
    config = load_config(path, ["data.splitting.seed=9", "model.vision_model=null",
                                "data.numerical_features_cols=[a, b]"])
    assert config.data.splitting.strategy == "random"
    assert config.data.splitting.seed == 9
    assert config.model.vision_model is None
    assert config.data.numerical_features_cols == ["a", "b"]


def test_unknown_key_names_section_and_closest_key(tmp_path):
    path = write(tmp_path, "data:\n  splitting:\n    stratgy: random\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "unknown key 'stratgy' in section data.splitting" in msg
    assert "did you mean 'strategy'" in msg
    assert str(path) in msg


def test_unknown_top_level_section():
    with pytest.raises(ConfigError, match="unknown key 'modle' in section \\(top level\\); "
                                          "did you mean 'model'"):
        load_config(None, ["modle.embedding_dim=3"])


@pytest.mark.parametrize("override, path, value", [
    ("data.splitting.train_ratio=1.5", "data.splitting.train_ratio", "1.5"),
    ("model.embedding_dim=abc", "model.embedding_dim", '"abc"'),
    ("data.splitting.strategy=sideways", "data.splitting.strategy", '"sideways"'),
    ("data.image_compression.quality=0", "data.image_compression.quality", "0"),
    ("model.vision_model=resnett", "model.vision_model", '"resnett"'),
    ("model.language_model=efficientnet-lite0", "model.language_model", '"efficientnet-lite0"'),
])
def test_bad_value_names_dotted_path_and_value(override, path, value):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert f"{path} = {value}" in str(err.value)


@pytest.mark.parametrize("key, reason", [("''", "must not be empty"),
                                         ("'  '", "must not be empty"),
                                         ("' k '", "whitespace")])
def test_an_unusable_api_key_is_refused(key, reason):
    with pytest.raises(ConfigError, match=reason) as err:
        load_config(None, [f"serving.api_key={key}"])
    assert "serving.api_key" in str(err.value)


def test_ratios_must_sum_to_one():
    with pytest.raises(ConfigError, match="must be 1.0"):
        load_config(None, ["data.splitting.train_ratio=0.5"])


def test_image_pattern_needs_item_id_placeholder():
    with pytest.raises(ConfigError, match="image_pattern"):
        load_config(None, ["data.columns.image_pattern=poster.jpg"])


def test_malformed_yaml_reports_line(tmp_path):
    path = write(tmp_path, "data:\n  splitting: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(path)


def test_non_mapping_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("override", ["data.splitting", "=3", "a..b=1"])
def test_malformed_set(override):
    with pytest.raises(ConfigError, match="--set"):
        load_config(None, [override])


def test_resolved_config_roundtrips(tmp_path):
    config = load_config(None, ["data.splitting.strategy=cold_item"])
    path = write_resolved_config(config, tmp_path)
    again = load_config(path)
    assert again == config
    assert config_hash(again) == config_hash(config)
    assert yaml.safe_load(path.read_text())["data"]["splitting"]["strategy"] == "cold_item"


@pytest.mark.parametrize("name", ["simple_config.yaml", "advanced_config.yaml", "demo.yaml",
                                  "examples/movielens_posters.yaml",
                                  "examples/ml_latest_small_posters.yaml"])
def test_shipped_configs_validate(name):
    load_config(f"configs/{name}")


def test_demo_config_spells_out_every_output_path():
    raw = yaml.safe_load(open("configs/demo.yaml"))
    for key in ("processed_item_info_path", "processed_interactions_path",
                "processed_image_folder", "scaler_path", "split_data_path"):
        assert raw["data"][key].startswith("data/"), key
    assert raw["data"]["cache_config"]["cache_directory"].startswith("data/")
    assert raw["checkpoint_dir"].startswith("models/")
    assert raw["results_dir"].startswith("results/")


def test_a_bad_set_value_is_blamed_on_set_not_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epochs: 3\n  batch_size: nope\n")
    with pytest.raises(ConfigError) as bad_set:
        load_config(None, ["training.epochs=abc"])
    assert "invalid configuration in --set:" in str(bad_set.value)
    assert 'training.epochs = "abc" (from --set)' in str(bad_set.value)
    with pytest.raises(ConfigError) as both:
        load_config(path, ["training.epochs=abc"])
    text = str(both.value)
    assert f"in {path} and --set:" in text and "training.batch_size = " in text
    assert '"nope" (from --set)' not in text


def test_a_set_inside_a_validated_map_is_blamed_on_set():
    # the error is reported at tuning.spaces (the map), the override sets a key inside it
    with pytest.raises(ConfigError) as bad:
        load_config(None, ["tuning.spaces.item_knn.k_neighbors.low=-5"])
    text = str(bad.value)
    assert "invalid configuration in --set:" in text and "(from --set)" in text
    assert "full dotted config keys" in text
