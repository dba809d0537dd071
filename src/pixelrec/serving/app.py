"""The HTTP API over a `RecommendationEngine` (FastAPI): recommendations for known, unknown and
history-only users, similar items, and new items embedded from their content.

Bad input never gives a 500: it is answered 4xx with `{"error": message}`. (No
`from __future__ import annotations` here: FastAPI reads the annotations at run time.)
"""

import hmac
import io
import json
import os
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from pixelrec import __version__
from pixelrec.config.serving import API_KEY_ENV
from pixelrec.errors import DataError, PixelRecError
from pixelrec.inference.engine import (
    DuplicateItemError,
    RecommendationEngine,
    UnknownItemError,
    UnsupportedError,
)

IMAGE_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ScoredItem(BaseModel):
    item_id: str
    score: float


class RecommendationResponse(BaseModel):
    user_id: str | None = None
    recommendations: list[ScoredItem]
    fallback: str | None = Field(None, description='"popularity" when the model could not '
                                                   'personalise (unknown user)')


class SimilarResponse(BaseModel):
    item_id: str
    similar: list[ScoredItem]


class HistoryRequest(BaseModel):
    history: list[str | int] = Field(..., description="item ids the user interacted with, "
                                                       "oldest first")
    k: int = Field(10, ge=1)
    user_id: str | None = Field(None, description="optional label echoed back")


class AddedItemResponse(BaseModel):
    item_id: str
    modalities: dict[str, bool]
    n_items: int


class Health(BaseModel):
    status: str
    version: str
    recommender: str
    n_items: int
    n_users: int
    added_items: int


def api_key(config) -> str | None:
    """`serving.api_key`, else the environment variable PIXELREC_API_KEY (None: no key)."""
    return config.serving.api_key or os.environ.get(API_KEY_ENV) or None


def create_app(engine: RecommendationEngine, config) -> FastAPI:
    """The app; mutating endpoints require the `X-API-Key` header when a key is configured."""
    serving = config.serving
    key = api_key(config)
    app = FastAPI(title="PixelRec Multimodal", version=__version__,
                  description="Top-K recommendations from a trained PixelRec model.")
    header = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description=f"required when serving.api_key or ${API_KEY_ENV} is set")

    def require_key(given: Annotated[str | None, Depends(header)]) -> None:
        if given is None or not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(401, "missing or wrong API key: send it in the X-API-Key header.")

    mutating = [Depends(require_key)] if key else []

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}"
                 for e in exc.errors()]
        return JSONResponse({"error": "invalid request: " + "; ".join(parts),
                             "detail": json.loads(json.dumps(exc.errors(), default=str))},
                            status_code=422)

    def check_k(k: int) -> int:
        if k > serving.max_k:
            raise ApiError(422, f"k must be at most {serving.max_k} (serving.max_k), got {k}.")
        return k

    K = Annotated[int, Query(ge=1, description=f"list length, at most {serving.max_k}")]

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", version=__version__, recommender=engine.model.name,
                      n_items=len(engine.item_ids), n_users=len(engine.known_users),
                      added_items=engine.n_added)

    @app.get("/recommendations/{user_id}", response_model=RecommendationResponse)
    async def recommend_user(user_id: Annotated[str, Path()], k: K = 10):
        recs = engine.recommend([user_id], check_k(k))[0]
        return {"user_id": user_id, **recs.to_dict()}

    @app.post("/recommendations", response_model=RecommendationResponse)
    async def recommend_history(body: HistoryRequest):
        if len(body.history) > serving.max_history:
            raise ApiError(422, f"history has {len(body.history)} items; at most "
                                f"{serving.max_history} (serving.max_history).")
        try:
            recs = engine.recommend_for_history(body.history, check_k(body.k))
        except UnknownItemError as exc:
            raise ApiError(422, str(exc)) from None
        return {"user_id": body.user_id, **recs.to_dict()}

    @app.get("/items/{item_id}/similar", response_model=SimilarResponse)
    async def similar(item_id: Annotated[str, Path()], k: K = 10):
        try:
            recs = engine.similar_items(item_id, check_k(k))
        except UnknownItemError as exc:
            raise ApiError(404, str(exc)) from None
        return {"item_id": item_id, "similar": recs.to_dict()["recommendations"]}

    @app.post("/items", response_model=AddedItemResponse, status_code=201,
              dependencies=mutating)
    def add_item(item_id: Annotated[str, Form(min_length=1, max_length=200)],
                 title: Annotated[str | None, Form()] = None,
                 tag: Annotated[str | None, Form()] = None,
                 description: Annotated[str | None, Form()] = None,
                 numeric: Annotated[str | None, Form(description="JSON object of numeric "
                                                                 "fields, e.g. "
                                                                 '{"view_number": 12}')] = None,
                 image: Annotated[UploadFile | None, File()] = None):
        fields = {k: v for k, v in (("title", title), ("tag", tag),
                                    ("description", description)) if v is not None}
        fields.update(_numeric(numeric))
        data, suffix = _image(image, serving.max_upload_bytes) if image is not None \
            else (None, ".jpg")
        try:
            return engine.add_item(item_id, fields, data, suffix)
        except DuplicateItemError as exc:
            raise ApiError(409, str(exc)) from None
        except UnsupportedError as exc:
            raise ApiError(409, str(exc)) from None
        except DataError as exc:
            raise ApiError(422, str(exc)) from None
        except PixelRecError as exc:
            raise ApiError(400, str(exc)) from None

    return app


def _numeric(raw: str | None) -> dict[str, float]:
    if raw is None or not raw.strip():
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        raise ApiError(422, "numeric must be a JSON object such as {\"view_number\": 12}.") \
            from None
    if not isinstance(values, dict):
        raise ApiError(422, "numeric must be a JSON object of column -> number.")
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ApiError(422, f"numeric field {name!r} must be a number, got {value!r}.")
        out[str(name)] = float(value)
    return out


def _image(upload: UploadFile, limit: int) -> tuple[bytes, str]:
    """The uploaded bytes and a file suffix; 413 when too large, 415 when not an image."""
    from PIL import Image

    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"image is larger than {limit} bytes (serving.max_upload_bytes).")
    if not data:
        raise ApiError(422, "the uploaded image is empty.")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            im.verify()
    except Exception:  # Pillow raises many types for non-images; all mean "not an image"
        raise ApiError(415, f"{upload.filename or 'the upload'} is not a readable image "
                            f"(JPEG, PNG, WebP, GIF or BMP).") from None
    if fmt not in IMAGE_SUFFIX:
        raise ApiError(415, f"image format {fmt} is not accepted; send JPEG, PNG, WebP, GIF "
                            f"or BMP.")
    return data, IMAGE_SUFFIX[fmt]
