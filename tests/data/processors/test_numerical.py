from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pixelrec.data.processors import NumericalProcessor
from pixelrec.errors import DataError

DF = pd.DataFrame({"a": [1.0, 3.0, np.nan, 7.0], "b": [0.0, 0.0, 0.0, 0.0]})


def test_standardization_with_median_imputation_and_counts():
    proc = NumericalProcessor("standardization", "median").fit(DF, ["a", "b"])
    out, imputed = proc.transform(DF)
    # a imputed with median(1,3,7)=3 -> [1,3,3,7], mean 3.5, std sqrt(4.75)
    np.testing.assert_allclose(out["a"], (np.array([1, 3, 3, 7]) - 3.5) / np.sqrt(4.75))
    np.testing.assert_allclose(out["b"], 0.0)  # constant column: scale 1, no NaN
    assert imputed == {"a": 1, "b": 0}


@pytest.mark.parametrize("method, expected", [
    ("min_max", [0.0, 1 / 3, 0.5, 1.0]),  # mean imputation: (1+3+7)/3 ... see below
    ("none", [1.0, 3.0, 11 / 3, 7.0]),
    ("log1p", np.log1p([1.0, 3.0, 11 / 3, 7.0])),
])
def test_methods_with_mean_imputation(method, expected):
    proc = NumericalProcessor(method, "mean").fit(DF, ["a"])
    out, _ = proc.transform(DF)
    if method == "min_max":
        expected = (np.array([1.0, 3.0, 11 / 3, 7.0]) - 1.0) / 6.0
    np.testing.assert_allclose(out["a"], expected)


def test_robust_and_log1p_standardization():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 100.0]})
    out, _ = NumericalProcessor("robust", "zero").fit(df, ["a"]).transform(df)
    np.testing.assert_allclose(out["a"], (df["a"] - 2.0) / 2.0)  # median 2, IQR 3-1
    out, _ = NumericalProcessor("log1p_standardization").fit(df, ["a"]).transform(df)
    assert abs(out["a"].mean()) < 1e-12 and abs(out["a"].std(ddof=0) - 1) < 1e-12


def test_saved_scaler_is_reused(tmp_path):
    proc = NumericalProcessor("standardization", "zero").fit(DF, ["a"])
    proc.save(tmp_path / "s.json")
    again = NumericalProcessor.load(tmp_path / "s.json")
    new = pd.DataFrame({"a": [10.0, np.nan]})
    pd.testing.assert_frame_equal(proc.transform(new)[0], again.transform(new)[0])


def test_log_of_negative_is_a_clear_error():
    with pytest.raises(DataError, match="negative values.*numerical_normalization_method"):
        NumericalProcessor("log1p").fit(pd.DataFrame({"a": [-1.0, 2.0]}), ["a"])
