"""Build the app for a config and run it with uvicorn (127.0.0.1 unless told otherwise)."""

from __future__ import annotations


def build_app(config, embedder=None, features=None):
    """The FastAPI app over `load_engine(config)`, with `serving.torch_threads` torch threads."""
    import torch

    from pixelrec.inference import load_engine
    from pixelrec.serving.app import create_app

    torch.set_num_threads(config.serving.torch_threads)
    return create_app(load_engine(config, embedder=embedder, features=features), config)


def serve(config, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted; `host`/`port` override `serving.host`/`serving.port`."""
    import uvicorn

    app = build_app(config)
    host = host or config.serving.host
    port = port or config.serving.port
    print(f"serving {config.recommendation.recommender_type} on http://{host}:{port} "
          f"(docs at /docs, schema at /openapi.json)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
