"""The report as one self-contained HTML page (pictures embedded as data URIs)."""

from __future__ import annotations

import datetime as dt
import math
from html import escape

from pixelrec.report.gallery import Gallery
from pixelrec.report.sources import Pictures

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{margin-top:0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:right;font-variant-numeric:tabular-nums}th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}td.best{background:#d7f5d7;font-weight:bold}.ci{color:#777;font-size:.8em}
.row{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start;margin:4px 0 12px}
.card{width:118px;font-size:.75em;text-align:center}.card img,.noimg{width:112px;height:112px;
object-fit:cover;border:1px solid #ccc;border-radius:4px}.noimg{display:flex;align-items:center;
justify-content:center;background:#eee;color:#666}.user{border:1px solid #e3e3e3;padding:8px 12px;
margin:12px 0;border-radius:6px}.models{display:flex;gap:24px;flex-wrap:wrap}.label{font-weight:
bold;margin:6px 0 2px}.note{color:#8a5a00}.fallback{color:#b00}
"""


def _num(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else escape(str(value))


def metrics_table(results: dict[str, dict], k: int) -> str:
    """Models x metrics@k with 95% CIs; the best value per column is highlighted."""
    names = [m for m in dict.fromkeys(m for r in results.values() for m in r["metrics"])
             if m.endswith(f"@{k}")]
    best = {m: max((r["metrics"].get(m) for r in results.values()
                    if isinstance(r["metrics"].get(m), int | float)), default=None)
            for m in names}
    head = "".join(f"<th>{escape(m)}</th>" for m in names)
    rows = []
    for model, result in results.items():
        cells = []
        for m in names:
            value, ci = result["metrics"].get(m), (result.get("ci95") or {}).get(m)
            klass = ' class="best"' if value is not None and value == best[m] else ""
            interval = f'<br><span class="ci">[{ci[0]:.4f}, {ci[1]:.4f}]</span>' if ci else ""
            cells.append(f"<td{klass}>{_num(value)}{interval}</td>")
        users = result["metadata"].get("counts", {}).get("evaluated_users", "")
        rows.append(f"<tr><td>{escape(model)}</td>{''.join(cells)}<td>{users}</td>"
                    f"<td>{escape(str(result['metadata'].get('file', '')))}</td></tr>")
    return (f"<table><tr><th>model</th>{head}<th>users</th><th>file</th></tr>"
            f"{''.join(rows)}</table>"
            f'<p class="ci">95% bootstrap confidence intervals in brackets; best per column '
            f"highlighted; the latest result of each recommender.</p>")


def ranking_table(results: dict[str, dict]) -> str:
    """Models x metrics of the sampled `ranking` task (AUC-style, no cut-off k)."""
    if not results:
        return "<p>No ranking-task results (<code>pixelrec evaluate --eval_task ranking</code>).</p>"
    names = list(dict.fromkeys(m for r in results.values() for m in r["metrics"]))
    head = "".join(f"<th>{escape(m)}</th>" for m in names)
    rows = "".join(f"<tr><td>{escape(model)}</td>"
                   + "".join(f"<td>{_num(r['metrics'].get(m))}</td>" for m in names)
                   + f"<td>{escape(str(r['metadata'].get('file', '')))}</td></tr>"
                   for model, r in results.items())
    return (f"<p>Sampled candidates: not comparable with the full-ranking table above.</p>"
            f"<table><tr><th>model</th>{head}<th>file</th></tr>{rows}</table>")


def beyond_table(results: dict[str, dict]) -> str:
    with_extra = {m: r["beyond_accuracy"] for m, r in results.items() if r.get("beyond_accuracy")}
    if not with_extra:
        return "<p>No beyond-accuracy metrics (sampled evaluation only).</p>"
    keys = [k for k in dict.fromkeys(k for e in with_extra.values() for k in e) if k != "k"]
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = "".join(f"<tr><td>{escape(m)}</td>"
                   + "".join(f"<td>{_num(e.get(k))}</td>" for k in keys) + "</tr>"
                   for m, e in with_extra.items())
    k = next(iter(with_extra.values())).get("k")
    return (f"<p>Lists of length {k}: coverage, novelty and diversity "
            f"(intra_list_diversity) per model.</p><table><tr><th>model</th>{head}</tr>"
            f"{rows}</table>")


def card(pictures: Pictures, item_id: str, caption: str = "") -> str:
    title = pictures.title(item_id)
    thumb = pictures.thumbnail(item_id)
    alt = escape(title or item_id, quote=True)
    pic = f'<img src="{thumb}" alt="{alt}">' if thumb else f'<div class="noimg">{alt}</div>'
    extra = f"<br>{escape(caption)}" if caption else ""
    return (f'<div class="card" title="{alt}">{pic}<br><b>{escape(item_id)}</b> '
            f"{escape(title[:40])}{extra}</div>")


def gallery_html(gallery: Gallery, pictures: Pictures) -> str:
    if not gallery.users:
        return "<p>No gallery: no model could be loaded.</p>"
    parts = []
    for user in gallery.users:
        history = "".join(card(pictures, i) for i in user["history"]) or "<p>(no history)</p>"
        models = []
        for name, recs in user["lists"].items():
            mark = (f' <span class="fallback">fallback: {escape(recs.fallback)}</span>'
                    if recs.fallback else "")
            row = "".join(card(pictures, i, f"score {s:.3f}")
                          for i, s in zip(recs.items, recs.scores, strict=True))
            models.append(f'<div><div class="label">{escape(name)}{mark}</div>'
                          f'<div class="row">{row}</div></div>')
        parts.append(f'<div class="user"><h3>user {escape(user["user_id"])}</h3>'
                     f'<div class="label">history (most recent last)</div>'
                     f'<div class="row">{history}</div><div class="models">{"".join(models)}'
                     f"</div></div>")
    return "".join(parts)


def cold_html(gallery: Gallery, pictures: Pictures) -> str:
    if not gallery.cold:
        return (f"<p>No item without train interactions reaches a top-K list of "
                f"{escape(gallery.cold_model or 'the model')}.</p>")
    rows = "".join(f"<tr><td>{card(pictures, c['item_id'])}</td><td>{c['n_users']}</td>"
                   f"<td>{escape(', '.join(c['users']))}</td></tr>" for c in gallery.cold)
    return (f"<p>Unseen items (no train interactions) recommended by "
            f"{escape(gallery.cold_model)}, and users they are recommended to.</p>"
            f"<table><tr><th>item</th><th>users reached</th><th>e.g.</th></tr>{rows}</table>")


def training_html(training: dict | None) -> str:
    if training is None:
        return "<p>No training run found (results_dir/training_metadata.json).</p>"
    best = training.get("best_value")
    info = (f"<p>{training.get('epochs')} epochs, best epoch {training.get('best_epoch')} "
            f"({escape(str(training.get('validation_metric')))} = {_num(best)}), "
            f"{training.get('seconds', 0):.1f} s on {escape(str(training.get('device')))}.</p>")
    if training.get("warning"):
        info += f'<p class="note">{escape(training["warning"])}</p>'
    figure = training.get("figure_uri")
    return info + (f'<img src="{figure}" alt="training curves" style="max-width:100%">'
                   if figure else "<p>No curves figure.</p>")


def render(title: str, results: dict[str, dict], k: int, training: dict | None,
           gallery: Gallery, pictures: Pictures, ranking: dict[str, dict] | None = None) -> str:
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    metrics = metrics_table(results, k) if results else \
        "<p>No evaluation results yet: run <code>pixelrec evaluate</code>.</p>"
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in gallery.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{escape(title)}</h1><p class="ci">generated {created}</p>
<h2>Accuracy at k = {k}</h2>{metrics}
<h2>Ranking task</h2>{ranking_table(ranking or {})}
<h2>Beyond accuracy</h2>{beyond_table(results) if results else ""}
<h2>Training curves</h2>{training_html(training)}
<h2>Sample users</h2>{notes}{gallery_html(gallery, pictures)}
<h2>Cold items</h2>{cold_html(gallery, pictures)}
</body></html>
"""
