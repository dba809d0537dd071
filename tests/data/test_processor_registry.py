"""The processor registry: registered steps run inside `preprocess` on the small demo, in the
registered position; a taken or unknown position name is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from pixelrec.data.preprocess import preprocess
from pixelrec.data.processors import PROCESSORS, Preprocessing, register_processor

BOILERPLATE = ("Great as a gift.", "Limited stock available.")


@pytest.fixture
def custom_steps():
    @register_processor("strip_boilerplate", after="text")
    def strip_boilerplate(state: Preprocessing) -> None:
        """Drop stock marketing sentences from the (already cleaned) descriptions."""
        before = state.items["description"]
        after = before
        for phrase in BOILERPLATE:
            after = after.str.replace(phrase, "", regex=False).str.strip()
        state.items = state.items.assign(description=after)
        state.report["strip_boilerplate"] = {"changed": int((after != before).sum())}

    @register_processor("count_kept")
    def count_kept(state: Preprocessing) -> None:
        state.report["count_kept"] = {"interactions": len(state.interactions)}

    yield
    del PROCESSORS["strip_boilerplate"], PROCESSORS["count_kept"]


def test_registered_processors_run_in_order_inside_preprocess(custom_steps, small_demo,
                                                              make_config):
    assert list(PROCESSORS) == ["text", "strip_boilerplate", "image", "filter", "numerical",
                                "count_kept"]
    raw = pd.read_csv(small_demo / "item_info.csv")
    assert raw["description"].str.contains("Limited stock available.", regex=False).any()
    _, config = make_config(small_demo)
    report = preprocess(config, progress=False)
    items = pd.read_parquet(config.data.processed_item_info_path)
    for phrase in BOILERPLATE:
        assert not items["description"].str.contains(phrase, regex=False).any()
    assert not items["description"].str.contains("<b>", regex=False).any()  # text ran first
    assert report["strip_boilerplate"]["changed"] > 0
    assert report["count_kept"]["interactions"] == report["interactions"]["rows_out"]


def test_taken_or_unknown_names_are_refused():
    from pixelrec.errors import ConfigError

    def step(state: Preprocessing) -> None:
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_processor("text")(step)
    with pytest.raises(ConfigError, match="text, image, filter, numerical"):
        register_processor("late", after="nope")(step)
    assert list(PROCESSORS) == ["text", "image", "filter", "numerical"]
