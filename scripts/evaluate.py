"""Seed-compatible wrapper: same as `pixelrec evaluate` (e.g. --recommender_type popularity
--test_data data/splits/test.parquet --eval_task retrieval)."""

from _bootstrap import run

if __name__ == "__main__":
    run("evaluate")
