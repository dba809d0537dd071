"""The HTTP API over a `RecommendationEngine` (FastAPI): recommendations for known, unknown and
history-only users, similar items, and new items embedded from their content.

Bad input never gives a 500: it is answered 4xx with `{"error": message}`, and every status a
route can answer is declared in its OpenAPI `responses`. Ids in paths may hold any character,
`/` included, percent-encoded. (No `from __future__ import annotations` here: FastAPI reads the
annotations at run time.)
"""

import hmac
import io
import json
import math
import os
import reprlib
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException

from pixelrec import __version__
from pixelrec.config.serving import API_KEY_ENV
from pixelrec.errors import DataError, PixelRecError
from pixelrec.inference.engine import (
    DuplicateItemError,
    RecommendationEngine,
    UnknownItemError,
    UnsupportedError,
)
from pixelrec.serving.docs import mount_offline_docs

IMAGE_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
UNPARSABLE = "the body cannot be parsed (e.g. nested too deeply, or an integer of more than " \
             "4300 digits)"
INVALID = "invalid request: a parameter is missing, of the wrong type or out of range"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _unicode(value: str) -> str:
    """`value`, if it is encodable text (a JSON `\\ud800` escape gives a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text; it holds a lone surrogate such as "
                         "\\ud800") from None
    return value


Text = Annotated[str, AfterValidator(_unicode)]


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


class Issue(BaseModel):
    loc: list[str | int] = Field(..., description='where, e.g. ["body", "k"]')
    msg: str
    type: str


class ErrorResponse(BaseModel):
    error: str = Field(..., description="what is wrong and what to do")
    detail: list[Issue] | None = Field(None, description="one entry per invalid field "
                                                         "(invalid requests only)")


def errors(described: dict[int, str]) -> dict[int | str, dict]:
    """OpenAPI `responses=` for error statuses, each answered with an `ErrorResponse`."""
    return {code: {"model": ErrorResponse, "description": text}
            for code, text in sorted(described.items())}


def error_response(status: int, message: str, headers=None, detail=None) -> JSONResponse:
    body = ErrorResponse(error=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def history_request(serving) -> type[BaseModel]:
    """The body of `POST /recommendations`, bounded by `serving.max_history` and `max_k`."""

    class HistoryRequest(BaseModel):
        history: list[str | int] = Field(..., max_length=serving.max_history,
                                         description="item ids the user interacted with, "
                                                     "oldest first (serving.max_history)")
        k: int = Field(10, ge=1, le=serving.max_k, strict=True,
                       description="list length (serving.max_k); an integer, not a boolean")
        user_id: Text | None = Field(None, description="optional label echoed back")

    return HistoryRequest


def api_key(config) -> str | None:
    """`serving.api_key`, else the environment variable PIXELREC_API_KEY (None: no key)."""
    return config.serving.api_key or os.environ.get(API_KEY_ENV) or None


def create_app(engine: RecommendationEngine, config) -> FastAPI:
    """The app; mutating endpoints require the `X-API-Key` header when a key is configured."""
    serving = config.serving
    key = api_key(config)
    app = FastAPI(title="PixelRec Multimodal", version=__version__,
                  description="Top-K recommendations from a trained PixelRec model.",
                  docs_url=None, redoc_url=None)
    mount_offline_docs(app)
    header = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description=f"required when serving.api_key or ${API_KEY_ENV} is set")

    def require_key(given: Annotated[str | None, Depends(header)]) -> None:
        if given is None or not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(401, "missing or wrong API key: send it in the X-API-Key header.")

    mutating = [Depends(require_key)] if key else []
    keyed = {401: "missing or wrong X-API-Key header"} if key else {}

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        """Framework errors (no such path 404, wrong method 405, unparsable body 400)."""
        message = str(exc.detail)
        if exc.status_code == 400 and exc.__cause__ is not None:
            message = (f"the request body cannot be parsed ({exc.__cause__}); send valid "
                       f"JSON or form data, nested less deeply, with integers of at most "
                       f"4300 digits.")
        return error_response(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field; never echoes the input (it may not be valid JSON)."""
        issues = [Issue(loc=list(e["loc"]), msg=_with_limit_key(e), type=e["type"])
                  for e in exc.errors()]
        parts = [f"{'.'.join(str(p) for p in i.loc if p != 'body')}: {i.msg}" for i in issues]
        return error_response(422, "invalid request: " + "; ".join(parts), detail=issues)

    K = Annotated[int, Query(ge=1, le=serving.max_k,
                             description=f"list length, at most {serving.max_k} "
                                         f"(serving.max_k)")]
    Id = Annotated[str, Path(min_length=1, description="percent-encode it: any character, "
                                                       "/ included (%2F), is allowed")]
    HistoryRequest = history_request(serving)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", version=__version__, recommender=engine.model.name,
                      n_items=len(engine.item_ids), n_users=len(engine.known_users),
                      added_items=engine.n_added)

    @app.get("/recommendations/{user_id:path}", response_model=RecommendationResponse,
             responses=errors({422: INVALID}))
    async def recommend_user(user_id: Id, k: K = 10):
        return {"user_id": user_id, **engine.recommend([user_id], k)[0].to_dict()}

    @app.post("/recommendations", response_model=RecommendationResponse,
              responses=errors({400: UNPARSABLE, 422: f"{INVALID}, or an unknown item in the "
                                                        f"history"}))
    async def recommend_history(body: HistoryRequest):
        try:
            recs = engine.recommend_for_history(body.history, body.k)
        except UnknownItemError as exc:
            raise ApiError(422, str(exc)) from None
        return {"user_id": body.user_id, **recs.to_dict()}

    @app.get("/items/{item_id:path}/similar", response_model=SimilarResponse,
             responses=errors({404: "unknown item", 422: INVALID}))
    async def similar(item_id: Id, k: K = 10):
        try:
            recs = engine.similar_items(item_id, k)
        except UnknownItemError as exc:
            raise ApiError(404, str(exc)) from None
        return {"item_id": item_id, "similar": recs.to_dict()["recommendations"]}

    @app.post("/items", response_model=AddedItemResponse, status_code=201,
              dependencies=mutating,
              responses=errors({400: f"{UNPARSABLE}, or the item cannot be added", **keyed,
                                409: "the item_id exists, or the recommender cannot embed "
                                     "content",
                                413: "image larger than serving.max_upload_bytes",
                                415: "the upload is not a JPEG, PNG, WebP, GIF or BMP image",
                                422: f"{INVALID}, nothing to embed, or a numeric field that "
                                     f"is unknown or not a finite number"}))
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
        except (DuplicateItemError, UnsupportedError) as exc:
            raise ApiError(409, str(exc)) from None
        except DataError as exc:
            raise ApiError(422, str(exc)) from None
        except PixelRecError as exc:
            raise ApiError(400, str(exc)) from None

    return app


LIMIT_KEYS = {"k": "serving.max_k", "history": "serving.max_history"}


def _with_limit_key(error: dict) -> str:
    """The validation message, naming the config key when a served limit was exceeded."""
    field = error["loc"][-1] if error["loc"] else None
    if error["type"] in {"less_than_equal", "too_long"} and field in LIMIT_KEYS:
        return f"{error['msg']} ({LIMIT_KEYS[field]})"
    return error["msg"]


def _numeric(raw: str | None) -> dict[str, float]:
    """The `numeric` form field: a JSON object of column -> finite number (else 422)."""
    if raw is None or not raw.strip():
        return {}
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(422, 'numeric must be a JSON object such as {"view_number": 12}; it is '
                            'not valid JSON or is nested too deeply.') from None
    if not isinstance(values, dict):
        raise ApiError(422, "numeric must be a JSON object of column -> number.")
    return {name: _finite(name, value) for name, value in values.items()}


def _finite(name: str, value) -> float:
    """`value` as a float; 422 for booleans, non-numbers, NaN and infinities."""
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            pass
    if not math.isfinite(number):
        raise ApiError(422, f"numeric field {name!r} must be a finite number, got "
                            f"{reprlib.repr(value)}.")
    return number


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
