"""Typed configuration: defaults, YAML loading, `--set` overrides and validation."""

from pixelrec.config.data import ColumnsConfig, DataConfig, SplittingConfig
from pixelrec.config.loader import (
    DEFAULT_CONFIG,
    config_hash,
    config_to_dict,
    load_config,
    validate_config,
    write_resolved_config,
)
from pixelrec.config.schema import Config

__all__ = [
    "DEFAULT_CONFIG",
    "ColumnsConfig",
    "Config",
    "DataConfig",
    "SplittingConfig",
    "config_hash",
    "config_to_dict",
    "load_config",
    "validate_config",
    "write_resolved_config",
]
