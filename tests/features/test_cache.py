"""SimpleFeatureCache and its on-disk store: manifest refusal, input hashes, crash safety, LRU."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pixelrec.errors import PixelRecError
from pixelrec.features.cache import SimpleFeatureCache, cache_name
from pixelrec.features.store import ModalityStore

KEY = {"image": {"name": "enc", "fingerprint": "f1", "preprocessing": {"crop": 224}},
       "text": None, "text_template": None, "dtype": "float32"}


def _vectors(n: int, dim: int = 4, start: int = 0) -> np.ndarray:
    return np.arange(start * dim, (start + n) * dim, dtype=np.float32).reshape(n, dim)


def _ids(n: int, start: int = 0) -> list[str]:
    return [f"item{i}" for i in range(start, start + n)]


def test_cache_names():
    assert cache_name("efficientnet-lite0", "sentence-bert") == "efficientnet-lite0_sentence-bert"
    assert cache_name(None, "sentence-bert") == "none_sentence-bert"
    a, b = cache_name("hf:/models/a/clip", None), cache_name("hf:/models/b/clip", None)
    assert a.startswith("hf-clip-") and a != b and "/" not in a


def test_put_then_reopen_reads_back_vectors_and_mask(tmp_path):
    with SimpleFeatureCache(tmp_path / "c", KEY, writable=True) as cache:
        ok = np.array([True, False, True])
        vec = _vectors(3)
        vec[1] = 0
        cache.put("image", _ids(3), ["h0", "h1", "h2"], vec, ok)
    reader = SimpleFeatureCache(tmp_path / "c", KEY)
    assert reader.item_ids == _ids(3)
    assert reader.counts() == {"image": {"items": 3, "missing": 1}}
    matrix, mask = reader.load_all("image")
    assert isinstance(matrix, np.memmap)  # bulk load is one memory map, not a copy
    np.testing.assert_array_equal(matrix, vec)
    assert mask.tolist() == [True, False, True]
    sub, sub_mask = reader.load_all("image", ["item2", "unknown", "item0"])
    np.testing.assert_array_equal(sub, np.stack([vec[2], np.zeros(4), vec[0]]))
    assert sub_mask.tolist() == [True, False, True]
    vector, present = reader.get("image", "item2")
    np.testing.assert_array_equal(vector, vec[2])
    assert present and reader.get("image", "unknown") is None
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["key"] == KEY and manifest["dims"] == {"image": 4}


def test_changed_input_hash_is_a_miss_and_reencoding_wins(tmp_path):
    with SimpleFeatureCache(tmp_path / "c", KEY, writable=True, max_memory_items=0) as cache:
        cache.put("image", _ids(2), ["a", "b"], _vectors(2), np.ones(2, bool))
        assert cache.fresh("image", _ids(2), ["a", "b"]).tolist() == [True, True]
        # same id, different bytes (changed image, or another dataset reusing the id)
        assert cache.fresh("image", _ids(2), ["a", "CHANGED"]).tolist() == [True, False]
        cache.put("image", ["item1"], ["CHANGED"], _vectors(1, start=9), np.ones(1, bool))
    reader = SimpleFeatureCache(tmp_path / "c", KEY)
    matrix, _ = reader.load_all("image")
    np.testing.assert_array_equal(matrix[1], _vectors(1, start=9)[0])
    assert reader.fresh("image", _ids(2), ["a", "CHANGED"]).all()


def test_mismatched_manifest_is_refused_with_what_differs(tmp_path):
    SimpleFeatureCache(tmp_path / "c", KEY, writable=True).close()
    other = json.loads(json.dumps(KEY))
    other["image"]["fingerprint"] = "f2"
    other["dtype"] = "float16"
    with pytest.raises(PixelRecError) as info:
        SimpleFeatureCache(tmp_path / "c", other)
    message = str(info.value)
    assert 'image.fingerprint: cached "f1" != current "f2"' in message
    assert 'dtype: cached "float32" != current "float16"' in message
    assert "pixelrec cache clear c" in message
    # the refused cache is untouched and the writer lock was released
    SimpleFeatureCache(tmp_path / "c", KEY, writable=True).close()


def test_single_writer_lock(tmp_path):
    with SimpleFeatureCache(tmp_path / "c", KEY, writable=True):
        with pytest.raises(PixelRecError, match="being written by another process"):
            SimpleFeatureCache(tmp_path / "c", KEY, writable=True)
        SimpleFeatureCache(tmp_path / "c", KEY)  # readers never block


def test_torn_writes_are_repaired_and_committed_items_kept(tmp_path):
    directory = tmp_path / "c"
    with SimpleFeatureCache(directory, KEY, writable=True) as cache:
        cache.put("image", _ids(3), ["a", "b", "c"], _vectors(3), np.ones(3, bool))
    # a writer killed mid-batch: two vector rows written, one index line half written
    with open(directory / "image.f32", "ab") as fh:
        fh.write(_vectors(2, start=3).tobytes()[:-5])
    with open(directory / "image.index.jsonl", "ab") as fh:
        fh.write(b'["item3", 3, "d", tr')
    reader = SimpleFeatureCache(directory, KEY)
    assert reader.item_ids == _ids(3)
    with SimpleFeatureCache(directory, KEY, writable=True) as cache:
        assert cache.item_ids == _ids(3)
        assert os.path.getsize(directory / "image.f32") == 3 * 4 * 4
        cache.put("image", _ids(1, start=3), ["d"], _vectors(1, start=3), np.ones(1, bool))
    matrix, mask = SimpleFeatureCache(directory, KEY).load_all("image")
    np.testing.assert_array_equal(matrix, _vectors(4))
    assert mask.all()


def test_reader_refresh_sees_items_a_writer_adds(tmp_path):
    writer = SimpleFeatureCache(tmp_path / "c", KEY, writable=True)
    reader = SimpleFeatureCache(tmp_path / "c", KEY)
    assert reader.item_ids == []
    writer.put("image", _ids(2), ["a", "b"], _vectors(2), np.ones(2, bool))
    reader.refresh()
    assert reader.item_ids == _ids(2)
    writer.put("image", _ids(1, start=2), ["c"], _vectors(1, start=2), np.ones(1, bool))
    reader.refresh()
    np.testing.assert_array_equal(reader.load_all("image")[0], _vectors(3))
    writer.close()


def test_memory_only_cache_is_an_lru(tmp_path):
    cache = SimpleFeatureCache(tmp_path / "c", KEY, use_disk=False, max_memory_items=2)
    cache.put("image", _ids(2), ["a", "b"], _vectors(2), np.ones(2, bool))
    assert cache.get("image", "item0") is not None  # item0 now most recent
    cache.put("image", _ids(1, start=2), ["c"], _vectors(1, start=2), np.ones(1, bool))
    assert cache.item_ids == ["item0", "item2"]  # item1 evicted
    assert not (tmp_path / "c").exists()
    matrix, mask = cache.load_all("image", ["item0", "item1", "item2"])
    assert mask.tolist() == [True, False, True]
    np.testing.assert_array_equal(matrix[2], _vectors(1, start=2)[0])


def test_store_lookup_is_by_id_and_superseded_rows_are_counted(tmp_path):
    store = ModalityStore(tmp_path, "text", 4, writable=True)
    store.append(_ids(2), ["a", "b"], _vectors(2), np.ones(2, bool))
    store.append(["item0"], ["a2"], _vectors(1, start=5), np.array([False]))
    assert store.entries["item0"].row == 2 and store.entries["item0"].hash == "a2"
    assert store.stale_rows == 1
    vectors, ok = store.vectors(["item0", "item1"])
    np.testing.assert_array_equal(vectors, np.stack([_vectors(1, start=5)[0], _vectors(2)[1]]))
    assert ok.tolist() == [False, True]


def _reader(directory, rounds, queue):
    """Another process reading while the writer appends: every visible item must be complete."""
    cache = SimpleFeatureCache(directory, KEY)
    bad = seen = 0
    for _ in range(rounds):
        cache.refresh()
        ids = cache.item_ids
        if ids:
            matrix, mask = cache.load_all("image", ids)
            expected = np.stack([_vectors(1, start=int(i[4:]))[0] for i in ids])
            bad += int((matrix != expected).any(axis=1).sum() + (~mask).sum())
            seen = max(seen, len(ids))
    queue.put((bad, seen))


def test_concurrent_reader_processes_see_only_complete_items(tmp_path):
    import multiprocessing as mp

    directory = tmp_path / "c"
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    with SimpleFeatureCache(directory, KEY, writable=True) as cache:
        cache.put("image", _ids(1), ["h"], _vectors(1), np.ones(1, bool))
        readers = [ctx.Process(target=_reader, args=(directory, 300, queue)) for _ in range(2)]
        for proc in readers:
            proc.start()
        for start in range(1, 400, 3):
            cache.put("image", _ids(3, start), ["h"] * 3, _vectors(3, start=start),
                      np.ones(3, bool))
        for proc in readers:
            proc.join(60)
    results = [queue.get(timeout=10) for _ in readers]
    assert all(bad == 0 for bad, _ in results)
    assert all(seen >= 1 for _, seen in results)


def test_caches_from_before_views_moved_out_of_the_key_still_open(tmp_path):
    directory = tmp_path / "c"
    with SimpleFeatureCache(directory, KEY, writable=True) as cache:
        cache.put("image", _ids(2), ["a", "b"], _vectors(2), np.ones(2, bool))
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["key"]["augmentation_views"] = 0  # how older versions wrote a clean-only cache
    (directory / "manifest.json").write_text(json.dumps(manifest))
    assert SimpleFeatureCache(directory, KEY).item_ids == _ids(2)
    SimpleFeatureCache(directory, KEY, writable=True).close()  # a writer upgrades the manifest
    assert "augmentation_views" not in json.loads((directory / "manifest.json").read_text())["key"]
    manifest["key"]["augmentation_views"] = 2  # never meant "clean only": refused
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PixelRecError, match="augmentation_views: cached 2 != current null"):
        SimpleFeatureCache(directory, KEY)
