"""The verification service (``trustgen serve``): an HTTP API, API keys and limits, metrics,
and a page for people. FastAPI and uvicorn are imported only here, never by the library."""

from .config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]


def create_app(config: ServiceConfig | None = None):
    """The FastAPI app for ``config`` (what each uvicorn worker runs)."""
    from .app import create_app as build

    return build(config)
