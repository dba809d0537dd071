"""Full-ranking evaluation speed: users/s of `pixelrec.evaluation` next to the raw ceiling for the
same shape (bare matmul + torch.topk over the same chunks, same run, median of repeats) and,
when the `bench` extra (cornac) is installed, Cornac's ranking evaluation on the same scores.

    .venv/bin/python bench/eval_speed.py            # writes bench/results/eval_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
try:
    import pixelrec  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

from pixelrec.config.evaluation import EvaluationConfig  # noqa: E402
from pixelrec.evaluation.retrieval import RankedLists, evaluate_retrieval  # noqa: E402
from pixelrec.evaluation.targets import build_targets  # noqa: E402
from pixelrec.models.base import Recommender  # noqa: E402

K_VALUES = [5, 10, 20, 50]


class Factors(Recommender):
    """Fixed random factors: the shape of a trained two-tower model (scores every item)."""

    name = "factors"
    scores_cold_items = True

    def __init__(self, users: np.ndarray, items: np.ndarray):
        self.users = users
        self.items = items

    def _fit(self, matrix) -> None:
        pass

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.users[rows]

    def _item_vectors(self) -> np.ndarray:
        return self.items


def make_case(n_users: int, n_items: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    users = [f"u{i}" for i in range(n_users)]
    items = [f"i{j}" for j in range(n_items)]
    user_vecs = rng.standard_normal((n_users, dim), dtype=np.float32)
    item_vecs = rng.standard_normal((n_items, dim), dtype=np.float32)
    train_items = rng.integers(0, n_items, size=(n_users, 20))
    # test items: 3 of each user's 100 best-scored items, so the metrics are not all zero
    best = torch.topk(torch.from_numpy(user_vecs) @ torch.from_numpy(item_vecs).T, 100).indices
    test_items = np.take_along_axis(best.numpy(), rng.integers(0, 100, (n_users, 3)), axis=1)
    train = pd.DataFrame({"user_id": np.repeat(users, 20), "item_id": np.take(items, train_items.ravel())})
    test = pd.DataFrame({"user_id": np.repeat(users, 3), "item_id": np.take(items, test_items.ravel())})
    model = Factors(user_vecs, item_vecs)
    return model.fit(train, items=items), train, test


def interleaved_medians(fns, repeats: int) -> list[float]:
    """Median seconds of each function, run alternately so machine noise hits all alike."""
    for fn in fns:  # warm-up
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


def ceiling(model: Factors, chunk: int, k: int) -> None:
    users = torch.from_numpy(model.users)
    items = torch.from_numpy(model.items)
    buffer = torch.empty((chunk, items.shape[0]))
    for start in range(0, users.shape[0], chunk):
        block = users[start:start + chunk]
        out = buffer[: block.shape[0]]
        torch.matmul(block, items.T, out=out)
        torch.topk(out, k, dim=1)


def ours(model: Factors, train: pd.DataFrame, test: pd.DataFrame, chunk: int) -> RankedLists:
    targets = build_targets(model, test, [train])
    return evaluate_retrieval(model, targets, K_VALUES, chunk)


def cornac_users_per_s(model: Factors, train: pd.DataFrame, test: pd.DataFrame,
                       n_users: int) -> tuple[float | None, float | None]:
    """(users/s, ndcg@10) of cornac.eval_methods.ranking_eval on the same scores, or Nones."""
    try:
        import cornac
        from cornac.data import Dataset
        from cornac.eval_methods import ranking_eval
        from cornac.metrics import NDCG, Precision, Recall
    except ImportError:
        return None, None
    keep = set(model.user_index_[:n_users])
    sub_train = train[train.user_id.isin(keep)]
    sub_test = test[test.user_id.isin(keep)]
    # every catalogue item must be known to cornac: add one dummy user who saw them all
    all_items = pd.DataFrame({"user_id": "__all__", "item_id": model.item_ids_})
    triples = lambda f: list(zip(f.user_id, f.item_id, np.ones(len(f)), strict=True))  # noqa: E731
    train_set = Dataset.build(triples(pd.concat([sub_train, all_items])), fmt="UIR")
    test_set = Dataset.build(triples(sub_test), fmt="UIR", global_uid_map=train_set.uid_map,
                             global_iid_map=train_set.iid_map)
    user_of = np.full(len(train_set.uid_map) + 1, -1)
    for uid, idx in train_set.uid_map.items():
        user_of[idx] = model.user_index_.get_indexer([uid])[0]
    item_perm = model.item_index_.get_indexer(
        [iid for iid, _ in sorted(train_set.iid_map.items(), key=lambda kv: kv[1])])

    class Scores(cornac.models.Recommender):
        def __init__(self):
            super().__init__(name="pixelrec-scores", trainable=False)

        def score(self, user_idx, item_idx=None):
            row = model.users[user_of[user_idx]] @ model.items[item_perm].T
            return row if item_idx is None else row[item_idx]

    scorer = Scores()
    scorer.fit(train_set)
    metrics = [Precision(k=k) for k in K_VALUES] + [Recall(k=k) for k in K_VALUES] + \
        [NDCG(k=10)]
    start = time.perf_counter()
    averages, _ = ranking_eval(scorer, metrics, train_set, test_set)
    return len(keep) / (time.perf_counter() - start), float(averages[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--users", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=EvaluationConfig().chunk_size,
                        help="users per chunk (default: evaluation.chunk_size's default)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cornac_users", type=int, default=256)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "eval_speed.json"))
    args = parser.parse_args(argv)

    rows = []
    for n_items in args.items:
        model, train, test = make_case(args.users, n_items, args.dim)
        ceiling_s, ours_s = interleaved_medians(
            [lambda m=model: ceiling(m, args.chunk, max(K_VALUES)),
             lambda m=model, tr=train, te=test: ours(m, tr, te, args.chunk)], args.repeats)
        ndcg = float(ours(model, train, test, args.chunk).metrics["ndcg@10"][:args.cornac_users]
                     .mean())
        cornac_rate, cornac_ndcg = cornac_users_per_s(model, train, test, args.cornac_users)
        rows.append({
            "n_items": n_items, "n_users": args.users, "dim": args.dim,
            "users_per_s": round(args.users / ours_s, 1),
            "ceiling_users_per_s": round(args.users / ceiling_s, 1),
            "ratio": round(ceiling_s / ours_s, 3),
            "cornac_users_per_s": None if cornac_rate is None else round(cornac_rate, 1),
            "ndcg@10_first_users": {"pixelrec": round(ndcg, 6),
                                    "cornac": None if cornac_ndcg is None else round(cornac_ndcg, 6)},
        })
        print(f"{n_items:>7} items: pixelrec {rows[-1]['users_per_s']:>8} users/s | ceiling "
              f"{rows[-1]['ceiling_users_per_s']:>8} | ratio {rows[-1]['ratio']:.3f} | cornac "
              f"{rows[-1]['cornac_users_per_s']}", flush=True)
    result = {"sizes": rows, "settings": {
        "chunk_size": args.chunk, "k_values": K_VALUES, "repeats": args.repeats,
        "timed": "build_targets + evaluate_retrieval (masking, topk, hits, all metrics) vs "
                 "matmul + topk(max k) over the same chunks; runs interleaved, median of repeats",
        "cornac_users": args.cornac_users, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "python": platform.python_version()}}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
