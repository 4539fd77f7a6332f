"""The HTTP app of ``trustgen serve``: verification, policies, health, metrics, the page.

Built by ``create_app`` in every uvicorn worker. The worker itself never parses an upload's
pixels or manifest: it checks the key, the rate, the size and the media type, then hands the
bytes to its ``VerifierPool``. Every refusal is JSON ``{"error": {"status", "code",
"message"}, "request_id"}``; a bug is logged with its traceback and answered with a bare 500.

The C2PA Soft Binding Resolution API (``trustgen.store.api``) is served at the root over the
local manifest store, the one the verifiers look stripped files up in: reading it needs no key,
registering (``POST /manifests``) a key of that store (``trustgen store key create``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .._version import __version__
from ..errors import ConfigError
from ..evidence import SCHEMA_VERSION, Evidence
from ..media import format_for_path, formats, lookup, sniff_format
from ..policy import Policy
from .config import ServiceConfig
from .keys import KeyStore, keys_path
from .limits import BodyLimit, RateLimiter, ServiceError
from .metrics import metrics
from .pool import Crashed, Timeout, VerifierPool, render

log = logging.getLogger("trustgen.service")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_GENERIC_TYPES = {"", "application/octet-stream", "multipart/form-data"}
CRASHED = ("verification crashed its process (a reader aborted or the file went over the "
           "memory limit)")

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}
_BATCH_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
        "required": ["files"]}}},
}


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The app for ``config`` (default: from ``TRUSTGEN_SERVICE_CONFIG``, as uvicorn workers
    get it)."""
    config = config or ServiceConfig.from_env()
    m = metrics()
    policies = load_policies(config)
    keys = None if config.open else KeyStore(config.keys_file or keys_path())
    limiter = RateLimiter(config.rate, config.burst)
    pool = VerifierPool(config, m)
    store = _manifest_store(config.store)

    @asynccontextmanager
    async def lifespan(app):
        try:
            await pool.start()
            log.info("ready", extra={"fields": {
                "verifiers": config.verifiers, "policies": list(config.policies), "open": config.open}})
        except Exception as err:  # noqa: BLE001 - /readyz reports it; the process stays up
            log.error("verifiers failed to load", extra={"fields": {"error": str(err)}})
        yield
        pool.close()  # uvicorn has stopped taking requests and finished the ones in flight
        if store is not None:
            store.close()

    app = FastAPI(title="trustgen verification service", version=__version__,
                  description="Verify content credentials, watermarks and the synthetic-image "
                  "detector under a policy. Send `Authorization: Bearer KEY` unless the server "
                  "runs with `--open`.", lifespan=lifespan, docs_url=None, redoc_url=None)

    # -- request pipeline: id, log, metrics, no stack trace out ---------------------------------

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, err: ServiceError):
        m.errors.labels(_KINDS.get(err.code, err.code)).inc()
        return _error_response(err, getattr(request.state, "request_id", None))

    def authorize(request: Request) -> None:
        """The key check and the rate limit, for every /v1 route."""
        if keys is None:
            who = f"addr:{request.client.host if request.client else '-'}"
        else:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ServiceError(401, "unauthorized", "send an API key: 'Authorization: "
                                   "Bearer KEY' (trustgen serve keys add NAME)",
                                   headers={"WWW-Authenticate": "Bearer"})
            record = keys.check(token.strip())
            if record is None:
                raise ServiceError(403, "forbidden", "unknown or revoked API key")
            who = request.state.key_name = record.name
        limiter.check(who)

    def chosen_policy(name: str | None) -> str:
        name = name or next(iter(policies))
        if name not in policies:
            raise ServiceError(400, "bad_policy", f"policy {name!r} is not offered here; choose "
                               f"one of: {', '.join(policies)}")
        return name

    # -- routes --------------------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"], summary="The process answers")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"],
             summary="Policies, trust anchors and models are loaded (503 until then)")
    async def readyz():
        if pool.ready:
            return {"status": "ready", **pool.info}
        status = "failed" if pool.failure else "loading"
        return JSONResponse({"status": status, "error": pool.failure}, status_code=503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics_route():
        body, content_type = m.exposition()
        return Response(body, media_type=content_type)

    @app.get("/v1/policies", tags=["verification"], summary="The policies this server offers")
    async def list_policies(request: Request):
        authorize(request)
        return {"default": next(iter(policies)), "policies": [
            {"name": name, "description": p.description} for name, p in policies.items()]}

    @app.post("/v1/verify", tags=["verification"], openapi_extra={"requestBody": _UPLOAD_BODY},
              summary="Verify one file: its verdict JSON (schema_version "
              f"{SCHEMA_VERSION})")
    async def verify(request: Request, policy: str | None = None, filename: str = ""):
        """The body is the file (its name in the `filename` query or an `X-Filename` header),
        or multipart with one `file` part. 415 for a media type trustgen does not know, 413 over
        the size limit, 504 past the time limit."""
        authorize(request)
        name = chosen_policy(policy)
        uploads = await _uploads(request, config, filename=filename)
        data, fname = uploads[0]
        try:
            verdict = await pool.run(("verify", (data, fname, name)))
        except Timeout:
            raise ServiceError(504, "timeout", over_time()) from None
        except Crashed:
            verdict = failed(request, fname, name, "crash", CRASHED)
        m.verdicts.labels(verdict["verdict"]).inc()
        return verdict

    def over_time() -> str:
        return f"verification took longer than the {config.time_limit:g} s limit"

    def failed(request: Request, fname: str, name: str, kind: str, why: str) -> dict:
        """The policy's ``error`` verdict for a file whose verification process gave no answer."""
        m.errors.labels(kind).inc()
        log.warning("verification failed", extra={"fields": {
            "request_id": request.state.request_id, "kind": kind, "file": fname}})
        return policies[name].decide(Evidence(path=fname, error=f"{fname}: {why}")).to_dict()

    async def verify_many(request: Request, uploads, name) -> list[dict]:
        """One verdict per upload, at most ``config.verifiers`` at a time: a batch never takes
        more than its share of the queue."""
        import asyncio

        share = asyncio.Semaphore(config.verifiers)

        async def one(data, fname):
            try:
                async with share:
                    verdict = await pool.run(("verify", (data, fname, name)))
            except Timeout:
                verdict = failed(request, fname, name, "timeout", over_time())
            except Crashed:
                verdict = failed(request, fname, name, "crash", CRASHED)
            m.verdicts.labels(verdict["verdict"]).inc()
            return verdict

        return list(await asyncio.gather(*(one(d, f) for d, f in uploads)))

    @app.post("/v1/verify:batch", tags=["verification"], openapi_extra={"requestBody": _BATCH_BODY},
              summary="Verify several files (multipart `files` parts): one verdict each, in order")
    async def verify_batch(request: Request, policy: str | None = None):
        """A file past the time limit or crashing its process gets an `error` verdict in its
        place; the others are verified as usual."""
        authorize(request)
        name = chosen_policy(policy)
        uploads = await _uploads(request, config)
        verdicts = await verify_many(request, uploads, name)
        return {"schema_version": SCHEMA_VERSION, "policy": name, "verdicts": verdicts}

    @app.post("/v1/report", tags=["page"], openapi_extra={"requestBody": _BATCH_BODY},
              response_class=HTMLResponse,
              summary="The HTML report (as `trustgen verify --report` writes) for uploaded files")
    async def report(request: Request, policy: str | None = None):
        authorize(request)
        name = chosen_policy(policy)
        uploads = await _uploads(request, config)
        verdicts = await verify_many(request, uploads, name)
        try:
            html = await pool.run(("render", (verdicts, uploads, name)))
        except (Timeout, Crashed):  # the previews are what failed: the page without them
            html = render(verdicts, None, policies[name])
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        from .page import page_html

        return HTMLResponse(page_html(config, policies), headers={"Content-Security-Policy": PAGE_CSP})

    if store is not None:
        from ..store.api import router

        app.include_router(router(store), tags=["soft binding resolution"])
    _declare_keys(app)
    _mount_docs(app)
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes)
    app.add_middleware(Frame, metrics=m)  # outermost: sees every answer, the 413s too
    return app


class Frame:
    """ASGI middleware around every request: its id (``X-Request-ID`` in and out), one JSON
    log line, the request metrics, and a bare 500 for a bug (its traceback goes to the log)."""

    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state.update(request_id=rid, key_name=None)
        status = [None]
        start = time.perf_counter()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()),
                                                   (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as err:
            if isinstance(err, ServiceError):
                self.metrics.errors.labels(_KINDS.get(err.code, err.code)).inc()
            else:
                log.exception("internal error", extra={"fields": {"request_id": rid}})
                self.metrics.errors.labels("internal").inc()
                err = ServiceError(500, "internal", "internal error")
            if status[0] is None:  # nothing sent yet: answer with the error
                await _error_response(err, rid)(scope, receive, send_with_id)
        elapsed = time.perf_counter() - start
        route = getattr(scope.get("route"), "path", "unmatched")
        code = status[0] or 500
        self.metrics.requests.labels(route, scope["method"], str(code)).inc()
        self.metrics.latency.labels(route).observe(elapsed)
        client = scope.get("client")
        log.info("request", extra={"fields": {
            "request_id": rid, "method": scope["method"], "path": scope["path"], "status": code,
            "ms": round(elapsed * 1000, 1), "key": state.get("key_name"),
            "client": client[0] if client else None}})


#: The page and reports load nothing from anywhere: inline style and script, data: images.
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src data: blob:; connect-src 'self'; frame-src 'self' about:; base-uri 'none'; "
            "form-action 'none'")

_KINDS = {"unauthorized": "auth", "forbidden": "auth", "rate_limited": "rate", "too_large": "size",
          "unsupported_media": "media", "timeout": "timeout", "busy": "busy", "not_ready": "busy"}


def _manifest_store(url: str | None):
    """The manifest store (``url``, else the local one), or None (logged) when it cannot be
    opened: verification is still served, and each verdict says the store was not consulted."""
    from ..store import StoreError, open_store

    try:
        return open_store(url)
    except StoreError as err:
        log.error("manifest store not served", extra={"fields": {"error": str(err)}})
        return None


def load_policies(config: ServiceConfig) -> dict[str, Policy]:
    """The allowed policies by name (a policy file is offered under the name it declares)."""
    loaded: dict[str, Policy] = {}
    for source in config.policies:
        policy = Policy.load(source)
        if policy.name in loaded:
            raise ConfigError(f"two policies are named {policy.name!r}; rename one")
        loaded[policy.name] = policy
    return loaded


def _error_response(err: ServiceError, rid: str | None) -> JSONResponse:
    return JSONResponse({"error": {"status": err.status, "code": err.code, "message": err.message},
                         "request_id": rid}, status_code=err.status, headers=err.headers)


def supported_types() -> str:
    return ", ".join(f.mime for f in formats())


def check_media(data: bytes, filename: str, declared: str) -> None:
    """415 unless the bytes, the declared type or the name is a format trustgen knows."""
    declared = declared.split(";")[0].strip().lower()
    if not data:
        raise ServiceError(400, "empty", f"{filename}: empty upload (0 bytes)")
    if sniff_format(data) or (declared not in _GENERIC_TYPES and lookup(declared)) \
            or format_for_path(filename):
        return
    what = declared if declared not in _GENERIC_TYPES else "unrecognised content"
    raise ServiceError(415, "unsupported_media", f"{filename}: unsupported media type {what}; "
                       f"trustgen verifies {supported_types()}")


async def _uploads(request: Request, config: ServiceConfig, *, filename: str | None = None,
                   ) -> list[tuple[bytes, str]]:
    """(bytes, file name) of each upload, each checked by ``check_media``; names made unique.
    ``filename`` is given for ``/v1/verify``, which takes one file, raw or multipart."""
    single = filename is not None
    content_type = request.headers.get("content-type", "")
    found: list[tuple[bytes, str, str]] = []
    if content_type.lower().startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=config.max_batch_files, max_fields=16)
        except ServiceError:
            raise
        except Exception as err:  # noqa: BLE001 - python-multipart on a malformed body
            raise ServiceError(400, "bad_request", f"malformed multipart body: {err}") from None
        for field in ("file", "files"):
            for part in form.getlist(field):
                if hasattr(part, "read"):
                    found.append((await part.read(), part.filename or "upload",
                                  part.content_type or ""))
    else:
        if single:
            name = filename or request.headers.get("x-filename") or "upload"
            found.append((await request.body(), name, content_type))
    if not found:
        raise ServiceError(400, "no_file", "no file: send the file as the body, or multipart "
                           "with a 'file' part ('files' parts for a batch)")
    if single and len(found) > 1:
        raise ServiceError(400, "too_many_files", "one file per request here; use /v1/verify:batch")
    if len(found) > config.max_batch_files:
        raise ServiceError(400, "too_many_files", f"at most {config.max_batch_files} files a request")
    out, seen = [], set()
    for data, name, declared in found:
        check_media(data, name, declared)
        unique, n = name, 1
        while unique in seen:  # the report keys previews by name
            n += 1
            unique = f"{name} ({n})"
        seen.add(unique)
        out.append((data, unique))
    return out


def _declare_keys(app: FastAPI) -> None:
    """Bearer keys in the OpenAPI document, so /docs has an Authorize button and sends them."""
    from fastapi.openapi.utils import get_openapi

    def schema():
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
            spec.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer"}}
            for path, operations in spec["paths"].items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"apiKey": []}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the assets of the ``swagger-ui-py`` package: FastAPI's own
    /docs loads them from a CDN, and this service must work without a network."""
    import swagger_ui
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(swagger_ui.__file__).parent / "static"
    app.mount("/docs/assets", StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="trustgen API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
               "logger": record.name, "msg": record.getMessage(), **getattr(record, "fields", {})}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)
