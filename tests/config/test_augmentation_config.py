"""The augmentation and fine-tuning keys: defaults, range checks and error wording."""

from __future__ import annotations

import pytest

from pixelrec.config import load_config
from pixelrec.errors import ConfigError


def test_defaults_leave_augmentation_off_and_encoders_frozen():
    config = load_config()
    assert not config.data.text_augmentation.enabled
    assert not config.data.image_augmentation.enabled
    assert config.data.text_augmentation.cached_views == 0
    assert config.data.image_augmentation.cached_views == 0
    assert config.model.freeze_vision and config.model.freeze_language
    assert config.training.encoder_learning_rate < config.training.learning_rate


def test_values_are_read():
    config = load_config(None, ["data.image_augmentation.crop_scale=[0.3, 0.9]",
                                "data.image_augmentation.color_jitter.saturation=0.5",
                                "data.text_augmentation.cached_views=3",
                                "model.freeze_language=false",
                                "training.encoder_learning_rate=0.00002"])
    assert config.data.image_augmentation.crop_scale == [0.3, 0.9]
    assert config.data.image_augmentation.color_jitter.saturation == 0.5
    assert config.data.text_augmentation.cached_views == 3
    assert not config.model.freeze_language
    assert config.training.encoder_learning_rate == 2e-5


@pytest.mark.parametrize("override, fragment", [
    ("data.image_augmentation.crop_scale=[0.9, 0.3]", "0 < min <= max <= 1"),
    ("data.image_augmentation.crop_scale=[0.5]", "0 < min <= max <= 1"),
    ("data.image_augmentation.crop_scale=[0, 1]", "0 < min <= max <= 1"),
    ("data.image_augmentation.crop_ratio=[1.5, 0.5]", "0 < min <= max"),
    ("data.image_augmentation.horizontal_flip_prob=1.5", "horizontal_flip_prob"),
    ("data.image_augmentation.rotation_degrees=-1", "rotation_degrees"),
    ("data.image_augmentation.blur_radius=0", "blur_radius"),
    ("data.image_augmentation.color_jitter.brightness=2", "brightness"),
    ("data.image_augmentation.cached_views=-1", "cached_views"),
    ("data.text_augmentation.random_delete_prob=1", "random_delete_prob"),
    ("data.text_augmentation.random_swap_prob=-0.1", "random_swap_prob"),
    ("training.encoder_learning_rate=0", "encoder_learning_rate"),
])
def test_out_of_range_values_are_refused(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("+", r"\+")):
        load_config(None, [override])


def test_fine_tuning_needs_an_encoder():
    with pytest.raises(ConfigError, match="freeze_vision is false but model.vision_model is null"):
        load_config(None, ["model.vision_model=null", "model.freeze_vision=false"])
    with pytest.raises(ConfigError, match="freeze_language is false"):
        load_config(None, ["model.language_model=null", "model.freeze_language=false"])
    load_config(None, ["model.vision_model=null", "model.freeze_vision=true"])
