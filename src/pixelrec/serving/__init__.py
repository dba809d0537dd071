"""The HTTP API (FastAPI + uvicorn) over a trained recommender: `create_app`, `serve`."""

from pixelrec.serving.app import create_app
from pixelrec.serving.server import build_app, serve

__all__ = ["build_app", "create_app", "serve"]
