"""The HTTP API through fastapi.testclient on the tiny trained model."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixelrec.serving import build_app
from tests.inference.helpers import clone_embedder, clone_fields, copy_work, user_with_history

KEY = "s3cret"


def make_client(config, **serving):
    config.serving = config.serving.model_copy(update=serving)
    from tests.inference.helpers import features_for

    app = build_app(config, embedder=clone_embedder(features_for(config), config))
    return TestClient(app)


@pytest.fixture
def work(trained, tmp_path):
    return copy_work(trained, tmp_path / "work")


@pytest.fixture
def client(work):
    return make_client(work[1])


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["recommender"] == "multimodal"
    assert health["n_items"] > 0 and health["added_items"] == 0
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/recommendations/{user_id}", "/recommendations",
            "/items/{item_id}/similar", "/items"} <= set(paths)


def test_docs_page_works_offline(client):
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert {"/openapi.json", "/docs-assets/swagger-ui-bundle.js",
            "/docs-assets/swagger-ui.css"} <= set(urls)
    assert not [u for u in urls if not u.startswith("/")], urls  # nothing from a CDN
    assert "http" not in page.text.replace("http-equiv", "")
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get("/redoc").status_code == 404  # redoc has no offline assets


def test_known_and_unknown_users(work, client):
    user, history = user_with_history(work[1])
    body = client.get(f"/recommendations/{user}", params={"k": 4}).json()
    assert body["user_id"] == user and body["fallback"] is None
    assert len(body["recommendations"]) == 4 and not set(history) & {
        r["item_id"] for r in body["recommendations"]}
    ghost = client.get("/recommendations/ghost-user").json()
    assert ghost["fallback"] == "popularity" and len(ghost["recommendations"]) == 10


@pytest.mark.parametrize("k", ["0", "-3", "abc", "101"])
def test_bad_k_is_a_422_with_a_message(client, k):
    for url in ("/recommendations/ghost", "/items/x/similar"):
        response = client.get(url, params={"k": k})
        assert response.status_code == 422
        assert "k" in response.json()["error"]


def test_history_user_and_similar_items(work, client):
    _, history = user_with_history(work[1])
    body = client.post("/recommendations", json={"history": history, "k": 5}).json()
    assert body["fallback"] is None and len(body["recommendations"]) == 5
    numeric_ids = client.post("/recommendations", json={"history": [int(h) for h in history]})
    assert numeric_ids.json()["recommendations"][:5] == body["recommendations"]
    bad = client.post("/recommendations", json={"history": [history[0], "nope"], "k": 5})
    assert bad.status_code == 422 and "'nope'" in bad.json()["error"]
    assert client.post("/recommendations", json={"k": 5}).status_code == 422
    assert client.post("/recommendations", content=b"not json",
                       headers={"content-type": "application/json"}).status_code == 422
    similar = client.get(f"/items/{history[0]}/similar", params={"k": 3}).json()
    assert similar["item_id"] == history[0] and len(similar["similar"]) == 3
    missing = client.get("/items/nope/similar")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_history_length_is_bounded_and_threads_are_set(work):
    import torch

    _, history = user_with_history(work[1])
    client = make_client(work[1], max_history=2, torch_threads=2)
    assert torch.get_num_threads() == 2
    response = client.post("/recommendations", json={"history": history[:3], "k": 5})
    assert response.status_code == 422 and "serving.max_history" in response.json()["error"]


def test_new_item_is_recommended_at_once_and_after_a_restart(work):
    _, config = work
    client = make_client(config)
    _, history = user_with_history(config)
    top = client.post("/recommendations", json={"history": history, "k": 5}).json()
    original = top["recommendations"][0]["item_id"]
    fields = clone_fields(config, original)
    numeric = {c: fields.pop(c) for c in config.data.numerical_features_cols}
    import json

    response = client.post("/items", data={"item_id": "fresh", **fields,
                                           "numeric": json.dumps(numeric)},
                           files={"image": ("fresh.png", png_bytes(), "image/png")})
    assert response.status_code == 201, response.text
    assert response.json()["item_id"] == "fresh"
    after = client.post("/recommendations", json={"history": history, "k": 6}).json()
    assert "fresh" in [r["item_id"] for r in after["recommendations"]]
    assert client.get("/items/fresh/similar").status_code == 200
    assert client.post("/items", data={"item_id": "fresh", "title": "x"}).status_code == 409
    restarted = make_client(config)
    assert restarted.get("/health").json()["added_items"] == 1
    again = restarted.post("/recommendations", json={"history": history, "k": 6}).json()
    assert again["recommendations"] == after["recommendations"]
    stored = list(Path(config.serving.added_items_dir).glob("images/*"))
    assert len(stored) == 1 and stored[0].suffix == ".png"
    assert stored[0].read_bytes() == png_bytes()


def test_bad_uploads_are_4xx(work):
    client = make_client(work[1], max_upload_bytes=2048)
    text = client.post("/items", data={"item_id": "a", "title": "t"},
                       files={"image": ("a.jpg", b"definitely not an image", "image/jpeg")})
    assert text.status_code == 415 and "not a readable image" in text.json()["error"]
    big = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
                    ).save(big, "PNG")
    large = client.post("/items", data={"item_id": "b"},
                        files={"image": ("b.png", big.getvalue(), "image/png")})
    assert large.status_code == 413 and "serving.max_upload_bytes" in large.json()["error"]
    assert client.post("/items", data={"item_id": "c"}).status_code == 422  # nothing to embed
    bad_numeric = client.post("/items", data={"item_id": "d", "title": "t", "numeric": "[1]"})
    assert bad_numeric.status_code == 422
    unknown_col = client.post("/items", data={"item_id": "e", "title": "t",
                                              "numeric": '{"colour": 3}'})
    assert unknown_col.status_code == 422 and "colour" in unknown_col.json()["error"]
    assert client.post("/items", data={"title": "no id"}).status_code == 422
    odd = client.post("/items", data={"item_id": "../../escape", "title": "odd id"},
                      files={"image": ("e.png", png_bytes(), "image/png")})
    assert odd.status_code == 201
    stored = list(Path(work[1].serving.added_items_dir).rglob("*.png"))
    assert len(stored) == 1 and stored[0].parent.name == "images"
    assert not list(Path(work[1].serving.added_items_dir).parent.glob("escape*"))
    assert client.get("/health").json()["added_items"] == 1
    reached = client.get("/items/..%2F..%2Fescape/similar", params={"k": 2})
    assert reached.status_code == 200 and reached.json()["item_id"] == "../../escape"


@pytest.mark.parametrize("body, status, names", [
    (b'{"history": ["H"], "k": NaN}', 422, "k"),
    (b'{"history": ["H"], "k": Infinity}', 422, "k"),
    (b'{"history": ["H"], "k": 1e400}', 422, "k"),
    (b'{"history": ["H"], "k": true}', 422, "k"),
    (b'{"history": [NaN], "k": 3}', 422, "history"),
    (b'{"history": ["H"], "user_id": NaN}', 422, "user_id"),
    (b'{"history": ["H"], "user_id": "\\ud800"}', 422, "surrogate"),
    (b'{"history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "recursion"),
    (b'{"history": ["H"], "k": ' + b"9" * 5000 + b"}", 400, "digits"),
])
def test_hostile_json_is_a_4xx_naming_the_problem(work, client, body, status, names):
    _, history = user_with_history(work[1])
    response = client.post("/recommendations", content=body.replace(b"H", history[0].encode()),
                           headers={"content-type": "application/json"})
    assert response.status_code == status and names in response.json()["error"]
    assert status == 422 or "cannot be parsed" in response.json()["error"]


@pytest.mark.parametrize("numeric", ["Infinity", "-Infinity", "1e999", "NaN", "9" * 400,
                                     "true", '"3"'])
def test_numeric_fields_must_be_finite_numbers(work, client, numeric):
    column = work[1].data.numerical_features_cols[0]
    response = client.post("/items", data={"item_id": "n", "title": "t",
                                           "numeric": f'{{"{column}": {numeric}}}'})
    assert response.status_code == 422 and "finite number" in response.json()["error"]
    nested = client.post("/items", data={"item_id": "n", "title": "t",
                                         "numeric": "[" * 100_000 + "]" * 100_000})
    assert nested.status_code == 422 and "nested too deeply" in nested.json()["error"]


def test_api_key_guards_mutations_and_is_in_the_schema(work, monkeypatch):
    client = make_client(work[1], api_key=KEY)
    form = {"item_id": "k1", "title": "keyed item"}
    assert client.post("/items", data=form).status_code == 401
    assert client.post("/items", data=form, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/items", data=form, headers={"X-API-Key": KEY}).status_code == 201
    assert client.get("/recommendations/ghost").status_code == 200  # reads stay open
    schema = client.get("/openapi.json").json()
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/items"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert "security" not in schema["paths"]["/recommendations"]["post"]
    monkeypatch.setenv("PIXELREC_API_KEY", "from-env")
    env_client = make_client(work[1], api_key=None)
    assert env_client.post("/items", data={"item_id": "k2", "title": "x"}).status_code == 401
    assert env_client.post("/items", data={"item_id": "k2", "title": "x"},
                           headers={"X-API-Key": "from-env"}).status_code == 201


def test_baseline_server_answers_and_refuses_new_items(work):
    _, config = work
    config.recommendation = config.recommendation.model_copy(
        update={"recommender_type": "popularity"})
    client = TestClient(build_app(config))
    _, history = user_with_history(config)
    body = client.post("/recommendations", json={"history": history, "k": 3}).json()
    assert body["fallback"] == "popularity"
    refused = client.post("/items", data={"item_id": "z", "title": "t"})
    assert refused.status_code == 409 and "multimodal" in refused.json()["error"]
