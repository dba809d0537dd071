"""The `data` section: input paths, column mapping, preprocessing and splitting."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pixelrec.config.base import Section
from pixelrec.config.features import CacheConfig

PIXELREC_NUMERIC = [
    "view_number",
    "comment_number",
    "thumbup_number",
    "share_number",
    "coin_number",
    "favorite_number",
    "barrage_number",
]

NormalizationMethod = Literal[
    "standardization", "min_max", "log1p", "log1p_standardization", "robust", "none"
]
SplitStrategy = Literal[
    "temporal", "leave_one_out", "user_temporal", "random", "stratified", "cold_user", "cold_item"
]


class ColumnsConfig(Section):
    """Maps the canonical column names onto the columns of the user's files."""

    item_id: str = "item_id"
    user_id: str = "user_id"
    timestamp: str = "timestamp"
    timestamp_unit: Literal["s", "ms", "us", "ns"] = "s"
    title: str | None = "title"
    tag: str | None = "tag"
    description: str | None = "description"
    image: str | None = None
    image_pattern: str = "{item_id}.jpg"

    @field_validator("image_pattern")
    @classmethod
    def _pattern_has_item_id(cls, value: str) -> str:
        if "{item_id" not in value:
            raise ValueError("must contain the placeholder {item_id}, e.g. '{item_id}.jpg'")
        return value


class TextCleaningConfig(Section):
    strip_html: bool = True
    normalize_unicode: bool = True
    lowercase: bool = False
    remove_extra_whitespace: bool = True
    tag_separator: str | None = "|"


class ImageValidationConfig(Section):
    min_width: int = Field(32, ge=1)
    min_height: int = Field(32, ge=1)
    max_pixels: int = Field(89_478_485, ge=1, description="width x height above which an image "
                            "is rejected (too_large) before decoding; Pillow's default limit")


class ImageCompressionConfig(Section):
    enabled: bool = True
    max_size: int = Field(512, ge=32, description="longest side in pixels")
    quality: int = Field(90, ge=1, le=100)


class FilteringConfig(Section):
    min_user_interactions: int = Field(5, ge=1)
    min_item_interactions: int = Field(5, ge=1)
    repeats: Literal["first", "keep"] = Field(
        "first", description="repeated (user, item) interactions: keep the earliest only, or "
        "keep every one (rows equal in user, item and timestamp still collapse)")


class SplittingConfig(Section):
    strategy: SplitStrategy = "temporal"
    train_ratio: float = Field(0.8, gt=0, lt=1)
    val_ratio: float = Field(0.1, ge=0, lt=1)
    test_ratio: float = Field(0.1, gt=0, lt=1)
    seed: int = 42
    sample_n: int | None = Field(None, ge=1)
    sample_users: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplittingConfig:
        total = self.train_ratio + self.val_ratio + self.test_ratio
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train_ratio + val_ratio + test_ratio must be 1.0, got "
                f"{self.train_ratio} + {self.val_ratio} + {self.test_ratio} = {total:g}"
            )
        return self


class TextAugmentationConfig(Section):
    """Word-level text augmentation (`pixelrec.data.augmentation`); see docs/training.md."""

    enabled: bool = False
    random_delete_prob: float = Field(0.1, ge=0, lt=1, description="drop each word with this p")
    random_swap_prob: float = Field(0.1, ge=0, le=1,
                                    description="expected swaps per word (binomial count)")
    cached_views: int = Field(0, ge=0, le=64, description="augmented views per item in the cache")


class ColorJitterConfig(Section):
    brightness: float = Field(0.2, ge=0, le=1)
    contrast: float = Field(0.2, ge=0, le=1)
    saturation: float = Field(0.2, ge=0, le=1)


class ImageAugmentationConfig(Section):
    """Image augmentation with Pillow (`pixelrec.data.augmentation`); see docs/training.md."""

    enabled: bool = False
    crop_scale: list[float] = Field(default_factory=lambda: [0.6, 1.0])
    crop_ratio: list[float] = Field(default_factory=lambda: [0.75, 1.3333])
    horizontal_flip_prob: float = Field(0.5, ge=0, le=1)
    color_jitter: ColorJitterConfig = ColorJitterConfig()
    rotation_degrees: float = Field(10.0, ge=0, le=180)
    blur_prob: float = Field(0.1, ge=0, le=1)
    blur_radius: float = Field(1.5, ge=0.1, le=50)
    cached_views: int = Field(0, ge=0, le=64, description="augmented views per item in the cache")

    @field_validator("crop_scale")
    @classmethod
    def _scale_range(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0 < value[0] <= value[1] <= 1:
            raise ValueError(f"must be [min, max] with 0 < min <= max <= 1 (fractions of the "
                             f"image area), got {value}")
        return value

    @field_validator("crop_ratio")
    @classmethod
    def _ratio_range(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0 < value[0] <= value[1]:
            raise ValueError(f"must be [min, max] with 0 < min <= max (width / height of the "
                             f"crop), got {value}")
        return value


class DataConfig(Section):
    item_info_path: str = "data/raw/item_info.csv"
    interactions_path: str = "data/raw/interactions.csv"
    encoding: str = "utf-8"
    image_folder: str | None = "data/raw/images"
    processed_item_info_path: str = "data/processed/item_info.parquet"
    processed_interactions_path: str = "data/processed/interactions.parquet"
    processed_image_folder: str = "data/processed/images"
    scaler_path: str = "data/processed/numerical_scaler.json"
    split_data_path: str = "data/splits"
    write_csv: bool = False
    num_workers: int = Field(0, ge=0)
    columns: ColumnsConfig = ColumnsConfig()
    numerical_features_cols: list[str] = Field(default_factory=lambda: list(PIXELREC_NUMERIC))
    numerical_normalization_method: NormalizationMethod = "log1p_standardization"
    numerical_imputation: Literal["median", "mean", "zero"] = "median"
    missing_modality_policy: Literal["drop", "impute"] = "impute"
    max_missing_image_share: float = Field(
        0.5, ge=0, le=1, description="share of items whose image file is missing (a wrong "
        "image_pattern or image_folder) above which preprocess stops with an error; 1 disables")
    catalogue: Literal["interacted", "all"] = "interacted"
    text_cleaning: TextCleaningConfig = TextCleaningConfig()
    image_validation: ImageValidationConfig = ImageValidationConfig()
    image_compression: ImageCompressionConfig = ImageCompressionConfig()
    filtering: FilteringConfig = FilteringConfig()
    splitting: SplittingConfig = SplittingConfig()
    cache_config: CacheConfig = CacheConfig()
    text_augmentation: TextAugmentationConfig = TextAugmentationConfig()
    image_augmentation: ImageAugmentationConfig = ImageAugmentationConfig()

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}; use a Python codec name such as "
                             f"utf-8, utf-8-sig, cp1252 or latin-1") from None
        return value
