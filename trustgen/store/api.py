"""The C2PA Soft Binding Resolution API over a manifest store, as a FastAPI ``APIRouter``.

Reading needs no key: ``GET``/``POST /matches/byBinding``, ``POST /matches/byContent`` (the
image itself; the server reads its watermark under the public key and its fingerprint),
``GET /manifests/{manifestId}`` (``application/c2pa``) and ``GET /services/supportedAlgorithms``.
Registering (``POST /manifests``: a signed file or a bare manifest store as the body) needs an API
key of the store (``Authorization: Bearer tgs_...``; ``trustgen store key create``).

A fingerprint value given to ``byBinding`` matches within ``fingerprint.MAX_DISTANCE`` (PDQ is
a near-duplicate hash); ``similarityScore`` is then ``100 * (1 - distance / 256)``.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations at runtime,
and their types (``Request``, the body model) are local to ``router()``.
"""

from .. import fingerprint as fp
from ..errors import InputError, TrustgenError
from ..softbinding import SUPPORTED, WATERMARK_ALG, decode_value, watermark_value
from .base import ManifestStore, RegistrationConflict, StoreError

#: Largest request body (an image for byContent, a file to register).
MAX_BODY = 64 * 1024 * 1024
#: Most results a query returns, whatever maxResults asks.
MAX_RESULTS = 100


def score(distance: int) -> int:
    return round(100 * (1 - distance / fp.BITS))


def distance_for(score_: int) -> int:
    """The largest distance a ``similarityScore`` stands for (a remote client's estimate)."""
    return int(fp.BITS * (100 - score_) / 100)


def router(store: ManifestStore):
    """The API's routes, reading and registering through ``store`` (shared by every request)."""
    from fastapi import APIRouter, Header, HTTPException, Query, Request
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel
    from starlette.concurrency import run_in_threadpool

    api = APIRouter()

    class BindingQuery(BaseModel):
        alg: str
        value: str

    def lookup(alg: str, value: str, limit: int) -> dict:
        limit = max(1, min(int(limit), MAX_RESULTS))
        try:
            raw = decode_value(value)
        except InputError as err:
            raise HTTPException(400, str(err)) from None
        if alg == fp.ALG:
            if len(raw) * 8 != fp.BITS:
                raise HTTPException(400, f"a {fp.ALG} value holds {fp.BITS // 8} bytes")
            found = store.by_fingerprint(raw, fp.MAX_DISTANCE, limit)
            return {"matches": [{"manifestId": m.manifest_id, "similarityScore": score(m.distance)}
                                for m in found]}
        if alg not in SUPPORTED["watermarks"]:
            raise HTTPException(400, f"unsupported algorithm {alg!r}; see /services/supportedAlgorithms")
        return {"matches": [{"manifestId": mid} for mid in store.by_binding(alg, value, limit)]}

    def guarded(fn, *args):
        try:
            return fn(*args)
        except StoreError as err:
            raise HTTPException(503, f"manifest store unavailable: {err}") from None

    @api.get("/matches/byBinding")
    def get_by_binding(alg: str, value: str, maxResults: int = Query(10, ge=1)):  # noqa: N803
        return guarded(lookup, alg, value, maxResults)

    @api.post("/matches/byBinding")
    def post_by_binding(query: BindingQuery, maxResults: int = Query(10, ge=1)):  # noqa: N803
        return guarded(lookup, query.alg, query.value, maxResults)

    @api.post("/matches/byContent")
    async def by_content(request: Request, alg: str | None = None, maxResults: int = Query(10, ge=1),  # noqa: N803
                         hintAlg: str | None = None, hintValue: str | None = None):  # noqa: N803
        body = await _body(request)
        if alg is not None and alg not in (fp.ALG, WATERMARK_ALG):
            raise HTTPException(400, f"unsupported algorithm {alg!r}; see /services/supportedAlgorithms")
        return await run_in_threadpool(guarded, _by_content, store, body, alg, maxResults, hintAlg, hintValue)

    @api.get("/manifests/{manifestId}")
    def get_manifest(manifestId: str, returnActiveManifest: bool = False):  # noqa: N803
        data = guarded(store.get, manifestId)
        if data is None:
            return JSONResponse({"detail": "manifest not found"}, status_code=404)
        return Response(data, media_type="application/c2pa")

    @api.get("/services/supportedAlgorithms")
    def supported_algorithms():
        return {kind: [{"alg": a} for a in algs] for kind, algs in SUPPORTED.items()}

    @api.post("/manifests", status_code=201)
    async def register(request: Request, authorization: str | None = Header(None)):
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or await run_in_threadpool(guarded, store.verify_key, key.strip()) is None:
            return JSONResponse({"detail": "registering needs a valid API key (Authorization: Bearer ...)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body = await _body(request)
        return await run_in_threadpool(_register, store, body)

    async def _body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise HTTPException(413, f"request body over {MAX_BODY >> 20} MiB")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(413, f"request body over {MAX_BODY >> 20} MiB")
        if not body:
            raise HTTPException(400, "empty request body")
        return body

    def _register(store_: ManifestStore, body: bytes):
        from .ingest import registration

        try:
            reg = registration(body, path="request body")
            created = store_.add(reg)
        except StoreError as err:
            status = 409 if isinstance(err, RegistrationConflict) else 503
            return JSONResponse({"detail": str(err)}, status_code=status)
        except TrustgenError as err:
            return JSONResponse({"detail": str(err)}, status_code=400)
        return JSONResponse({"manifestId": reg.manifest_id, "created": created},
                            status_code=201 if created else 200)

    return api


def _by_content(store: ManifestStore, body: bytes, alg, limit, hint_alg, hint_value) -> dict:
    """The body's watermark (public key) and fingerprint looked up; a hint is looked up first."""
    from fastapi import HTTPException

    from ..media import decode_image

    try:
        image = decode_image(body, path="request body")
    except TrustgenError as err:
        raise HTTPException(415, str(err)) from None
    limit = max(1, min(int(limit), MAX_RESULTS))
    matches: dict[str, dict] = {}
    if hint_alg and hint_value and hint_alg in SUPPORTED["watermarks"]:
        for mid in store.by_binding(hint_alg, hint_value, limit):
            matches.setdefault(mid, {"manifestId": mid})
    if alg in (None, WATERMARK_ALG):
        from .. import watermark

        try:
            found = watermark.detect(image)
        except TrustgenError:
            found = None
        if found is not None and found.detected and found.content_id:
            for mid in store.by_binding(WATERMARK_ALG, watermark_value(found.content_id), limit):
                matches.setdefault(mid, {"manifestId": mid})
    if alg in (None, fp.ALG):
        prints = [p for p in fp.dihedral(image) if p.usable]
        if prints:
            for m in store.by_fingerprint([p.hash for p in prints], fp.MAX_DISTANCE, limit):
                entry = matches.setdefault(m.manifest_id, {"manifestId": m.manifest_id})
                entry["similarityScore"] = score(m.distance)
    return {"matches": list(matches.values())[:limit]}
