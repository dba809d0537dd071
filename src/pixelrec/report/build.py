"""`write_report`: collect results, curves and galleries into one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

from pixelrec.io import write_text_atomic


def write_report(config, sample_users: int = 4, baseline: str | None = None) -> Path:
    """Write `<results_dir>/report/index.html` and return its path.

    Metrics with CIs of every evaluation result under `results_dir`, the training curves,
    beyond-accuracy metrics, a gallery of `sample_users` test users (history, then the top-K of
    the multimodal model and of `baseline`, by default the best evaluated baseline) and the
    cold items the multimodal model recommends. Pictures are embedded, so the file stands alone.
    """
    from pixelrec.errors import PixelRecError
    from pixelrec.report.gallery import build_gallery
    from pixelrec.report.render import render
    from pixelrec.report.sources import Pictures, evaluation_results, training_run

    if sample_users < 1:
        raise PixelRecError(f"--sample_users must be at least 1, got {sample_users}.")
    results = evaluation_results(config.results_dir)
    k = 10 if 10 in config.evaluation.k_values else config.evaluation.k_values[0]
    gallery = build_gallery(config, results, n_users=sample_users, baseline=baseline)
    html = render("PixelRec report", results, k, training_run(config.results_dir), gallery,
                  Pictures(config), evaluation_results(config.results_dir, task="ranking"))
    path = Path(config.results_dir) / "report" / "index.html"
    write_text_atomic(path, html)
    return path
