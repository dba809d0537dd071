"""`pixelrec report`: content of the HTML page, and the page rendered in headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from pixelrec.cli.main import main
from pixelrec.evaluation import evaluate_recommender
from pixelrec.inference import load_recommender
from pixelrec.report import write_report
from tests.inference.helpers import copy_work

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if Path(p).exists()), None)
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def reported(trained, tmp_path_factory):
    """A work folder with three evaluated models and the report written by the CLI."""
    path, config = copy_work(trained, tmp_path_factory.mktemp("report") / "work")
    for kind in ("popularity", "ease"):
        evaluate_recommender(config, kind, output=f"eval_{kind}.json")
    evaluate_recommender(config, "multimodal", recommender=load_recommender(config),
                         output="eval_multimodal.json")
    # top 60 of 120: the tiny model ranks its few cold items (val/test only) below warm ones
    assert main(["report", "--config", str(path), "--sample_users", "3",
                 "--set", "recommendation.top_k=60"]) == 0
    return config, Path(config.results_dir) / "report" / "index.html"


def test_report_holds_every_section(reported):
    _, page = reported
    html = page.read_text()
    for model in ("popularity", "ease", "multimodal"):
        assert f"<td>{model}</td>" in html
    assert html.count('class="best"') >= 7  # one per metric@10 column
    assert re.search(r'<span class="ci">\[\d\.\d{4}, \d\.\d{4}\]</span>', html)
    for metric in ("coverage", "novelty", "intra_list_diversity"):
        assert f"<th>{metric}</th>" in html
    assert 'alt="training curves"' in html
    assert html.count('<div class="user">') == 3
    assert '<div class="label">multimodal' in html and '<div class="label">ease' in html
    assert "Unseen items (no train interactions) recommended by multimodal" in html
    assert "src=\"file:" not in html and "src=\"/" not in html  # self-contained


def test_report_without_results_or_model_still_renders(trained, tmp_path):
    _, config = copy_work(trained, tmp_path / "work")
    shutil.rmtree(config.checkpoint_dir)
    page = write_report(config, sample_users=2, baseline="popularity")
    html = page.read_text()
    assert "No evaluation results yet" in html and "multimodal: not shown" in html
    assert html.count('<div class="user">') == 2


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="Chromium is not installed (Debian: apt-get install chromium "
                           "chromium-driver; .ci/run installs them)")
def test_report_renders_with_every_picture_in_chromium(reported, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium (dev extra) is not installed")
    from PIL import Image
    from selenium.webdriver.chrome.service import Service

    _, page = reported
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--window-size=1280,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(page.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
    finally:
        driver.quit()
    assert len(images) > 20
    broken = [alt for complete, width, alt in images if not complete or width == 0]
    assert not broken, f"images that did not load: {broken[:5]}"
    low, high = shot.getextrema()
    assert high - low > 100 and sum(1 for n in shot.histogram() if n) > 20  # not blank


def test_rows_are_labelled_by_the_recommender_inside_each_result(tmp_path):
    import json

    from pixelrec.report.render import metrics_table, ranking_table
    from pixelrec.report.sources import evaluation_results

    def write(name, recommender, task, created, ndcg):
        meta = {"recommender": recommender, "task": task, "created": created}
        (tmp_path / name).write_text(json.dumps({"metrics": {"ndcg@10": ndcg, "auc": ndcg},
                                                 "per_user": {}, "metadata": meta}))

    write("ease.json", "ease", "retrieval", "2026-01-01T00:00:00+00:00", 0.1)
    write("eval_ease_retrieval.json", "ease", "retrieval", "2026-02-01T00:00:00+00:00", 0.2)
    write("x.json", "multimodal", "retrieval", "2026-01-05T00:00:00+00:00", 0.3)
    write("rank.json", "multimodal", "ranking", "2026-01-05T00:00:00+00:00", 0.9)
    (tmp_path / "y.json").write_text('{"not": "a result"}')
    results = evaluation_results(tmp_path)
    assert list(results) == ["ease", "multimodal"]
    assert results["ease"]["metrics"]["ndcg@10"] == 0.2  # the latest of the two ease files
    assert results["ease"]["metadata"]["file"] == "eval_ease_retrieval.json"
    ranking = evaluation_results(tmp_path, task="ranking")
    assert list(ranking) == ["multimodal"] and ranking["multimodal"]["metrics"]["auc"] == 0.9
    table = metrics_table(results, 10)
    assert "<td>ease</td>" in table and "<td>x</td>" not in table and "x.json" in table
    assert "<td>rank</td>" not in table and "rank.json" in ranking_table(ranking)


def test_an_unfinished_training_run_is_warned_about(tmp_path):
    import json

    from pixelrec.report.render import training_html
    from pixelrec.report.sources import training_run

    (tmp_path / "training_metadata.json").write_text(json.dumps(
        {"status": "incomplete", "epochs": 1, "best_epoch": 1, "run_id": "r1"}))
    with pytest.warns(UserWarning, match="training did not finish"):
        run = training_run(tmp_path)
    assert "training did not finish" in training_html(run) and "1 epochs" in training_html(run)
