"""Schema-driven fuzzing of the HTTP API: seeded hypothesis requests built from the app's own
OpenAPI document (valid values, hostile JSON such as NaN/Infinity/1e400, deep nesting, odd
ids). No answer is a 5xx, every status is declared for its route, and every body matches the
schema declared for that status."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from PIL import Image

from tests.inference.helpers import copy_work, user_with_history
from tests.serving.test_api import make_client

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
ATOMS = (st.none() | st.booleans() | st.integers() | TEXT
         | st.floats(allow_nan=True, allow_infinity=True)
         | st.sampled_from([10 ** 400, -(10 ** 30)]))
JSON = st.recursive(ATOMS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
HOSTILE_BODIES = [b'{"history": ["1"], "k": NaN}', b'{"history": ["1"], "k": Infinity}',
                  b'{"history": ["1"], "k": 1e400}', b'{"history": [NaN]}',
                  b'{"history": ["1"], "user_id": "\\ud800"}', b'{"history": ["1"], "k": true}',
                  b'{"history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                  b'{"history": ["1"], "k": ' + b"9" * 5000 + b"}", b"\xff\xfe", b"",
                  b"[]", b"null"]


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    _, config = copy_work(trained, tmp_path_factory.mktemp("fuzz") / "work")
    client = make_client(config)
    client.raise_server_exceptions = False
    _, history = user_with_history(config)
    return client, client.get("/openapi.json").json(), history


def resolve(schema: dict, document: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def valid_value(schema: dict, document: dict, ids: list[str]):
    """Values the schema allows (ids drawn from the catalogue where a string is wanted)."""
    schema = resolve(schema, document)
    if "anyOf" in schema:
        return st.one_of([valid_value(s, document, ids) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(schema.get("minimum", -5), schema.get("maximum", 500))
    if kind == "string":
        return st.sampled_from(ids) | TEXT
    if kind == "array":
        return st.lists(valid_value(schema["items"], document, ids),
                        max_size=min(schema.get("maxItems", 6), 6))
    if kind == "null":
        return st.none()
    return JSON


def value(schema: dict, document: dict, ids: list[str]):
    return valid_value(schema, document, ids) | JSON


def encoded(text: str) -> str:
    """A path segment: everything percent-encoded, dots too (no `..` normalisation)."""
    return quote(text, safe="").replace(".", "%2E")


@st.composite
def requests(draw, document: dict, path: str, method: str, ids: list[str]):
    operation = document["paths"][path][method]
    url = path
    query = {}
    for param in operation.get("parameters", []):
        raw = draw(value(param["schema"], document, ids))
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", encoded(str(raw)))
        elif draw(st.booleans()):
            query[param["name"]] = json.dumps(raw) if not isinstance(raw, str) else raw
    request = {"method": method.upper(), "url": url, "params": query}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body_schema = resolve(content["application/json"]["schema"], document)
        props = body_schema["properties"].items()
        valid = {name: valid_value(prop, document, ids) for name, prop in props}
        required = {name: valid.pop(name) for name in body_schema.get("required", [])}
        mixed = {name: value(prop, document, ids) for name, prop in props}
        body = draw(st.fixed_dictionaries(required, optional=valid)
                    | st.fixed_dictionaries({}, optional=mixed) | JSON)
        raw = draw(st.sampled_from([json.dumps(body).encode()] * 3 + HOSTILE_BODIES[:1])
                   | st.sampled_from(HOSTILE_BODIES))
        request.update(content=raw, headers={"content-type": "application/json"})
    elif "multipart/form-data" in content:
        form_schema = resolve(content["multipart/form-data"]["schema"], document)
        data = {}
        for name in form_schema["properties"]:
            if name == "image" or (name not in form_schema.get("required", [])
                                   and not draw(st.booleans())):
                continue
            data[name] = json.dumps(draw(JSON)) if name == "numeric" else draw(TEXT)
        image = draw(st.sampled_from([None, png(), b"not an image", b""]))
        request.update(data=data, files={"image": ("x.png", image)} if image is not None
                       else None)
    return request


def png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def check_response(response, document: dict, path: str, method: str) -> None:
    assert response.status_code < 500, response.text
    declared = document["paths"][path][method]["responses"]
    assert str(response.status_code) in declared, \
        f"{method.upper()} {path} answered an undeclared {response.status_code}: {response.text}"
    content = declared[str(response.status_code)].get("content", {}).get("application/json")
    if content is not None:
        schema = {**content["schema"], "components": document["components"]}
        Draft202012Validator(schema).validate(response.json())


@pytest.mark.parametrize("path, method", [
    ("/health", "get"), ("/recommendations/{user_id}", "get"), ("/recommendations", "post"),
    ("/items/{item_id}/similar", "get"), ("/items", "post")])
def test_no_5xx_and_every_answer_matches_the_schema(served, path, method):
    client, document, history = served
    assert method in document["paths"][path]

    @SETTINGS
    @given(requests(document, path, method, history))
    def fuzz(request):
        check_response(client.request(**request), document, path, method)

    fuzz()


def test_openapi_states_the_limits_and_the_error_statuses(served):
    _, document, _ = served
    paths = document["paths"]
    k = next(p for p in paths["/recommendations/{user_id}"]["get"]["parameters"]
             if p["name"] == "k")
    assert k["schema"]["maximum"] == 100 and k["schema"]["minimum"] == 1
    body = resolve(paths["/recommendations"]["post"]["requestBody"]["content"]
                   ["application/json"]["schema"], document)
    assert body["properties"]["k"]["maximum"] == 100
    assert body["properties"]["history"]["maxItems"] > 0
    assert {"400", "422"} <= set(paths["/recommendations"]["post"]["responses"])
    assert {"404", "422"} <= set(paths["/items/{item_id}/similar"]["get"]["responses"])
    assert {"201", "400", "409", "413", "415", "422"} <= set(paths["/items"]["post"]["responses"])
