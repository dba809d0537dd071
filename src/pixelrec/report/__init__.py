"""The HTML report: `write_report(config)` -> `results_dir/report/index.html`."""

from pixelrec.report.build import write_report

__all__ = ["write_report"]
