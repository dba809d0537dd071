"""Batched encoding: image decoding in worker processes overlapping the model forward.

Workers decode a few batches ahead (bounded, so memory stays flat on any catalogue size) while the
main process runs the encoder; texts are encoded in length-sorted batches to minimise padding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from pixelrec.features.imaging import decode_batch
from pixelrec.workers import worker_pool

Sink = Callable[[list[int], np.ndarray, np.ndarray], None]


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def decoded_batches(paths: list[str | None], pre: dict[str, Any], batch_size: int,
                    workers: int, augment: dict[str, Any] | None = None,
                    seeds: list[list[int]] | None = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (uint8 [b, crop, crop, 3], ok [b]) per batch of `paths`, in order; with `augment`,
    augmented views seeded by `seeds` (one per path)."""
    seed_chunks = _chunks(seeds, batch_size) if augment is not None else None
    chunks = [(chunk, pre, augment, seed_chunks[k] if seed_chunks else None)
              for k, chunk in enumerate(_chunks(paths, batch_size))]
    if workers == 0 or len(chunks) <= 1:
        for args in chunks:
            yield decode_batch(*args)
        return
    ahead = 4 * workers
    # Decoders run at lower priority: the forward keeps the cores and decoding fills idle gaps.
    with worker_pool(workers, nice=10) as pool:
        pending: deque = deque()
        todo = iter(chunks)
        for args in todo:
            pending.append(pool.apply_async(decode_batch, args))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().get()
            args = next(todo, None)
            if args is not None:
                pending.append(pool.apply_async(decode_batch, args))
            yield result


def encode_images(encoder, paths: list[str | None], batch_size: int, workers: int,
                  sink: Sink, progress=None, augment: dict[str, Any] | None = None,
                  seeds: list[list[int]] | None = None) -> None:
    """Encode images batch by batch; `sink(positions, vectors, ok)` receives each batch. With
    `augment`, every image is an augmented view seeded by its entry of `seeds`."""
    start = 0
    for pixels, ok in decoded_batches(paths, encoder.spec.preprocessing, batch_size, workers,
                                      augment, seeds):
        vectors = np.zeros((len(ok), encoder.dim), dtype=np.float32)
        if ok.any():
            vectors[ok] = encoder.encode(pixels[ok])
        sink(list(range(start, start + len(ok))), vectors, ok)
        start += len(ok)
        if progress is not None:
            progress.update(len(ok))


def encode_texts(encoder, texts: list[str], batch_size: int, sink: Sink, progress=None) -> None:
    """Encode texts in length-sorted batches; empty texts get zero vectors and ok False."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for positions in _chunks(order, batch_size):
        ok = np.array([bool(texts[i]) for i in positions], dtype=bool)
        vectors = np.zeros((len(positions), encoder.dim), dtype=np.float32)
        if ok.any():
            vectors[ok] = encoder.encode([texts[i] for i, o in zip(positions, ok, strict=True) if o])
        sink(positions, vectors, ok)
        if progress is not None:
            progress.update(len(positions))
