"""Image decoding for encoders: resize + centre crop, and failures as missing, never errors."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pixelrec.features.imaging import decode, decode_batch, file_hash


def test_decode_handles_files_streams_and_bad_input(tmp_path):
    pre = {"resize_shorter": 40, "crop": 32, "resample": "bicubic", "jpeg_draft": True}
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (120, 60), (200, 10, 10)).save(path)
    arr = decode(str(path), pre)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8 and abs(int(arr[16, 16, 0]) - 200) < 8
    np.testing.assert_array_equal(decode(io.BytesIO(path.read_bytes()), pre), arr)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    pixels, ok = decode_batch([str(path), None, str(tmp_path / "bad.jpg"),
                               str(tmp_path / "absent.jpg")], pre)
    assert ok.tolist() == [True, False, False, False] and not pixels[1:].any()
    assert file_hash(None) == "none" and file_hash(str(tmp_path / "absent.jpg")) == "unreadable"
    assert file_hash(str(path)) != file_hash(str(tmp_path / "bad.jpg"))
