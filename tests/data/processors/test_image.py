from __future__ import annotations

import os

from PIL import Image

from pixelrec.config.data import ImageCompressionConfig, ImageValidationConfig
from pixelrec.data.processors import ImageProcessor
from pixelrec.data.processors.image import MANIFEST


def make_images(src):
    src.mkdir()
    Image.new("RGB", (64, 48), "red").save(src / "ok.jpg")
    Image.new("RGB", (900, 300), "blue").save(src / "big.png")
    Image.new("RGB", (10, 10), "green").save(src / "small.jpg")
    Image.new("RGB", (64, 64), "white").save(src / "bmp.bmp")
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    full = src / "ok.jpg"
    (src / "trunc.jpg").write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    return {"ok": str(src / "ok.jpg"), "big": str(src / "big.png"),
            "small": str(src / "small.jpg"), "bmp": str(src / "bmp.bmp"),
            "corrupt": str(src / "corrupt.jpg"), "trunc": str(src / "trunc.jpg"),
            "gone": str(src / "gone.jpg"), "weird/id": str(src / "ok.jpg")}


def test_statuses_reasons_and_outputs(tmp_path):
    sources = make_images(tmp_path / "src")
    proc = ImageProcessor(tmp_path / "out", ImageValidationConfig(min_width=32, min_height=32),
                          ImageCompressionConfig(max_size=256, quality=80), num_workers=1)
    results, reused = proc.process(sources, progress=False)
    assert reused == 0
    status = {k: r.status for k, r in results.items()}
    assert status == {"ok": "ok", "big": "ok", "small": "too_small", "bmp": "ok",
                      "corrupt": "corrupt", "trunc": "corrupt", "gone": "missing",
                      "weird/id": "ok"}
    assert results["ok"].action == "copied" and results["ok"].output == "ok.jpg"
    assert results["big"].action == "resized"
    with Image.open(tmp_path / "out" / results["big"].output) as img:
        assert img.size == (256, 85) and img.format == "JPEG"
    assert results["bmp"].action == "converted" and results["bmp"].output == "bmp.jpg"
    assert "10x10" in results["small"].reason
    assert results["weird/id"].output != "weird/id.jpg"  # unsafe ids are hashed
    assert (tmp_path / "out" / results["weird/id"].output).exists()


def test_rerun_skips_unchanged_and_redoes_changed(tmp_path):
    sources = make_images(tmp_path / "src")
    proc = ImageProcessor(tmp_path / "out", num_workers=1)
    proc.process(sources, progress=False)
    assert (tmp_path / "out" / MANIFEST).exists()
    _, reused = proc.process(sources, progress=False)
    assert reused == len(sources)
    Image.new("RGB", (40, 40), "black").save(sources["ok"])  # changed content and size
    os.utime(sources["ok"], ns=(1, 1))
    results, reused = proc.process(sources, progress=False)
    assert reused == len(sources) - 2  # "ok" and "weird/id" share the changed file
    with Image.open(tmp_path / "out" / "ok.jpg") as img:
        assert img.size == (40, 40)
    # different processing parameters invalidate everything
    other = ImageProcessor(tmp_path / "out", compression=ImageCompressionConfig(max_size=64),
                           num_workers=1)
    assert other.process(sources, progress=False)[1] == 0


def test_parallel_matches_serial(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    sources = {}
    for i in range(70):
        Image.new("RGB", (40 + i, 40), (i, 0, 0)).save(src / f"{i}.jpg")
        sources[str(i)] = str(src / f"{i}.jpg")
    serial, _ = ImageProcessor(tmp_path / "a", num_workers=1).process(sources, progress=False)
    parallel, _ = ImageProcessor(tmp_path / "b", num_workers=2).process(sources, progress=False)
    assert serial == parallel


def test_images_above_max_pixels_are_rejected_without_pillow_warnings(tmp_path, recwarn):
    src = tmp_path / "src"
    src.mkdir()
    # 10000x10000 is above Pillow's default limit (it would warn); a 1-bit PNG is ~12 KB
    Image.new("1", (10_000, 10_000)).save(src / "huge.jpg", format="PNG")
    Image.new("RGB", (64, 64), "red").save(src / "fine.jpg")
    sources = {"huge": str(src / "huge.jpg"), "fine": str(src / "fine.jpg")}
    results, _ = ImageProcessor(tmp_path / "out", num_workers=1).process(sources, progress=False)
    assert results["huge"].status == "too_large"
    assert results["huge"].reason == ("10000x10000 = 100,000,000 pixels is above the maximum "
                                      "89,478,485 (data.image_validation.max_pixels)")
    assert results["fine"].status == "ok"
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's own check is back afterwards
    strict = ImageProcessor(tmp_path / "strict", ImageValidationConfig(max_pixels=4095),
                            num_workers=1)
    assert strict.process({"fine": sources["fine"]}, progress=False)[0]["fine"].status == \
        "too_large"
