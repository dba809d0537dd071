"""Top-k search at a 1M-item catalogue: exact batched ranking vs the FAISS indexes that
`recommend` and `serve` build above `recommendation.ann.approximate_above`, same run.

Item vectors are synthetic but shaped like trained ranking vectors: a mixture of `--clusters`
Gaussian clusters (64-d, unit length) plus a bias column; users are noisy cluster centres with
a 1 in the bias column. For each index (`pixelrec.inference.ann.AnnIndex` with the shipped
`recommendation.ann` defaults): build seconds, recall@k against exact search and milliseconds
per user; for exact search (chunked matmul + top-k, as the engine ranks without an index):
milliseconds per user and the peak bytes of one chunk's score buffer.

    .venv/bin/python bench/ann_scale.py                # 1M items, writes bench/results/ann_scale.json
    .venv/bin/python bench/ann_scale.py --config bench/work/scale/runs/1000000x100000-e2/config.yaml
        # a trained multimodal model's own item and user vectors instead (its checkpoint)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def synthetic(n_items: int, n_users: int, dim: int, clusters: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    items = centres[rng.integers(clusters, size=n_items)]
    items = items + 0.6 * rng.normal(size=items.shape).astype(np.float32) / np.sqrt(dim)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    bias = (0.1 * rng.normal(size=(n_items, 1))).astype(np.float32)
    users = centres[rng.integers(clusters, size=n_users)]
    users = users + 0.8 * rng.normal(size=users.shape).astype(np.float32) / np.sqrt(dim)
    users = 5.0 * users / np.linalg.norm(users, axis=1, keepdims=True)
    return (np.hstack([items, bias]).astype(np.float32),
            np.hstack([users, np.ones((n_users, 1), np.float32)]).astype(np.float32))


def trained_vectors(config_path: Path, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranking vectors of the run's multimodal checkpoint: every item, a seeded user sample."""
    from pixelrec.config import load_config
    from pixelrec.inference.loading import load_recommender

    recommender = load_recommender(load_config(config_path), "multimodal")
    ids = np.asarray(recommender.user_index_)
    pick = np.random.default_rng(0).choice(len(ids), min(n_users, len(ids)), replace=False)
    return recommender.item_vectors(), recommender.user_vectors(ids[pick])


def exact_topk(users: np.ndarray, items: np.ndarray, k: int, chunk: int) -> np.ndarray:
    import torch

    item_t = torch.as_tensor(items)
    out = []
    for start in range(0, len(users), chunk):
        scores = torch.as_tensor(users[start:start + chunk]) @ item_t.T
        out.append(torch.topk(scores, k, dim=1).indices.numpy())
    return np.concatenate(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000, help="query users")
    parser.add_argument("--clusters", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=256, help="users per exact-search chunk")
    parser.add_argument("--config", type=Path, default=None,
                        help="take the item and user vectors of this run's trained multimodal "
                             "model instead of synthetic ones")
    parser.add_argument("--indexes", nargs="+", default=["ivf", "hnsw"])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ann_scale.json")
    args = parser.parse_args()
    import torch

    from pixelrec.config.serving import AnnConfig
    from pixelrec.inference.ann import AnnIndex
    from pixelrec.io import write_json_atomic

    if args.config is not None:
        items, users = trained_vectors(args.config, args.users)
    else:
        items, users = synthetic(args.items, args.users, 64, args.clusters)
    start = time.perf_counter()
    exact = exact_topk(users, items, args.k, args.chunk)
    exact_s = time.perf_counter() - start
    rows = {"exact": {"build_seconds": 0.0, f"recall@{args.k}": 1.0,
                      "ms_per_user": round(1000 * exact_s / len(users), 3),
                      "score_buffer_mb": round(args.chunk * len(items) * 4 / 2**20, 1)}}
    print(f"exact: {rows['exact']['ms_per_user']} ms/user", flush=True)
    for kind in args.indexes:
        cfg = AnnConfig(index_type=kind, approximate_above=1)
        start = time.perf_counter()
        index = AnnIndex(items, np.arange(len(items)), cfg)
        build = time.perf_counter() - start
        start = time.perf_counter()
        _, found = index.raw_search(users, args.k)
        search = time.perf_counter() - start
        recall = float(np.mean([len(set(a) & set(b)) / args.k
                                for a, b in zip(exact, found, strict=True)]))
        rows[kind] = {"index": index.kind, "build_seconds": round(build, 1),
                      f"recall@{args.k}": round(recall, 4),
                      "ms_per_user": round(1000 * search / len(users), 3)}
        print(f"{kind}: {rows[kind]}", flush=True)
        del index
    print(f"\n{'search':<8}{'build s':>9}{f'recall@{args.k}':>11}{'ms/user':>9}")
    for name, r in rows.items():
        print(f"{name:<8}{r['build_seconds']:>9.1f}{r[f'recall@{args.k}']:>11.4f}"
              f"{r['ms_per_user']:>9.3f}")
    write_json_atomic(args.out, {
        "vectors": str(args.config) if args.config else "synthetic", "items": len(items),
        "users": len(users), "dim": items.shape[1],
        "clusters": None if args.config else args.clusters,
        "k": args.k, "torch_threads": torch.get_num_threads(), "search": rows,
        "command": "python bench/ann_scale.py " + " ".join(sys.argv[1:])})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
