"""NumericalProcessor: impute missing values by a declared policy, then scale; saved as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.errors import DataError
from pixelrec.io import write_json_atomic

METHODS = ("standardization", "min_max", "log1p", "log1p_standardization", "robust", "none")
IMPUTATIONS = ("median", "mean", "zero")


class NumericalProcessor:
    """Fit on the item table once; `transform` reuses the fitted parameters (also at inference)."""

    def __init__(self, method: str = "log1p_standardization", imputation: str = "median"):
        if method not in METHODS:
            raise ValueError(f"unknown normalisation method {method!r}; use one of {METHODS}")
        if imputation not in IMPUTATIONS:
            raise ValueError(f"unknown imputation {imputation!r}; use one of {IMPUTATIONS}")
        self.method = method
        self.imputation = imputation

    def fit(self, df: pd.DataFrame, columns: list[str]) -> NumericalProcessor:
        self.columns_ = list(columns)
        self.fill_ = {}
        self.center_ = {}
        self.scale_ = {}
        for col in self.columns_:
            raw = df[col].astype(float)
            fill = {"median": raw.median(), "mean": raw.mean(), "zero": 0.0}[self.imputation]
            self.fill_[col] = 0.0 if pd.isna(fill) else float(fill)
            values = self._pre(raw.fillna(self.fill_[col]).to_numpy(), col)
            self.center_[col], self.scale_[col] = self._stats(values)
        return self

    def transform(self, df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
        """Return a copy with the columns imputed and scaled, and the imputed count per column."""
        out = df.copy()
        imputed = {}
        for col in self.columns_:
            raw = out[col].astype(float)
            imputed[col] = int(raw.isna().sum())
            values = self._pre(raw.fillna(self.fill_[col]).to_numpy(), col)
            out[col] = (values - self.center_[col]) / self.scale_[col]
        return out, imputed

    def _pre(self, values: np.ndarray, col: str) -> np.ndarray:
        if self.method.startswith("log1p"):
            if (values < 0).any():
                raise DataError(
                    f"numeric column '{col}' has negative values, which "
                    f"`{self.method}` cannot take (log1p). Choose another "
                    f"`data.numerical_normalization_method` (e.g. standardization)."
                )
            return np.log1p(values)
        return values

    def _stats(self, values: np.ndarray) -> tuple[float, float]:
        if len(values) == 0 or self.method in ("none", "log1p"):
            return 0.0, 1.0
        if self.method in ("standardization", "log1p_standardization"):
            center, scale = values.mean(), values.std()
        elif self.method == "min_max":
            center, scale = values.min(), values.max() - values.min()
        else:  # robust
            q1, med, q3 = np.percentile(values, [25, 50, 75])
            center, scale = med, q3 - q1
        return float(center), float(scale) if scale > 0 else 1.0

    def to_dict(self) -> dict:
        return {"method": self.method, "imputation": self.imputation, "columns": self.columns_,
                "fill": self.fill_, "center": self.center_, "scale": self.scale_}

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumericalProcessor:
        state = json.loads(Path(path).read_text())
        proc = cls(state["method"], state["imputation"])
        proc.columns_ = state["columns"]
        proc.fill_, proc.center_, proc.scale_ = state["fill"], state["center"], state["scale"]
        return proc
