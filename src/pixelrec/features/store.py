"""On-disk vectors for one modality: an append-only float32 file plus an append-only index log.

`<modality>.f32` holds rows of `dim` float32 values. `<modality>.index.jsonl` holds one line
`[item_id, row, input_hash, ok]` per stored vector; the last line for an item wins. The vectors of a
batch are written before its index lines, and a reader trusts only complete index lines whose row
is inside the file, so a process killed at any moment leaves a store that opens with every
committed item. The single writer trims an unfinished tail when it opens. Readers (e.g. DataLoader
workers) never block and can `refresh()` to see newer items.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Entry:
    row: int
    hash: str
    ok: bool


class ModalityStore:
    """Vectors of one modality under `directory`, looked up by item id in O(1)."""

    def __init__(self, directory: Path, modality: str, dim: int, writable: bool = False):
        self.vectors_path = directory / f"{modality}.f32"
        self.index_path = directory / f"{modality}.index.jsonl"
        self.dim = dim
        self.writable = writable
        self.entries: dict[str, Entry] = {}
        self.records = 0  # index lines read (superseded ones included)
        self._offset = 0
        self._rows = 0  # rows referenced by committed index lines
        if writable:
            self._repair()
        self.refresh()

    def refresh(self) -> None:
        """Read index lines appended since the last call."""
        if not self.index_path.exists():
            return
        file_rows = self._file_rows()
        with open(self.index_path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            try:
                item_id, row, digest, ok = json.loads(line)
            except ValueError:
                continue
            if row < file_rows:
                self.entries[item_id] = Entry(int(row), digest, bool(ok))
                self._rows = max(self._rows, int(row) + 1)
                self.records += 1
        self._offset += end

    def _file_rows(self) -> int:
        if not self.vectors_path.exists():
            return 0
        return self.vectors_path.stat().st_size // (4 * self.dim)

    def _repair(self) -> None:
        """Drop a torn last index line and vector rows that no index line commits."""
        if self.index_path.exists():
            data = self.index_path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end != len(data):
                os.truncate(self.index_path, end)
        self.refresh()
        expected = self._rows * 4 * self.dim
        if self.vectors_path.exists() and self.vectors_path.stat().st_size != expected:
            os.truncate(self.vectors_path, expected)

    def append(self, ids: list[str], hashes: list[str], vectors: np.ndarray, ok: np.ndarray) -> None:
        """Commit a batch: vectors first, then the index lines that make them visible."""
        if not self.writable:
            raise RuntimeError("store opened read-only")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        self.vectors_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.vectors_path, "ab") as fh:
            fh.write(vectors.tobytes())
        start = self._rows
        lines = [json.dumps([i, start + k, h, bool(o)], ensure_ascii=False)
                 for k, (i, h, o) in enumerate(zip(ids, hashes, ok, strict=True))]
        with open(self.index_path, "ab") as fh:
            fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        self.refresh()

    def sync(self) -> None:
        for path in (self.vectors_path, self.index_path):
            if path.exists():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def matrix(self) -> np.ndarray:
        """All committed rows as a read-only memory map [rows, dim] (superseded rows included)."""
        if self._rows == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=(self._rows, self.dim))

    def vectors(self, item_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [n, dim], ok mask [n]) for `item_ids`; absent items give zeros and False.

        When the ids are exactly the stored rows in order, the memory map itself is returned.
        """
        rows = np.fromiter((self.entries[i].row if i in self.entries else -1 for i in item_ids),
                           dtype=np.int64, count=len(item_ids))
        ok = np.fromiter((i in self.entries and self.entries[i].ok for i in item_ids),
                         dtype=bool, count=len(item_ids))
        mat = self.matrix()
        if len(rows) == self._rows and np.array_equal(rows, np.arange(self._rows)):
            return mat, ok
        out = np.zeros((len(item_ids), self.dim), dtype=np.float32)
        present = rows >= 0
        out[present] = mat[rows[present]]
        return out, ok

    @property
    def stale_rows(self) -> int:
        return self._rows - len(self.entries)
