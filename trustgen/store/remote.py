"""A client of a remote Soft Binding Resolution API (``verify``'s ``[store] resolvers``), with
the same lookup methods as a local store so ``recovery.recover`` asks both alike.

Every request has a timeout; a resolver that fails or answers nonsense is a ``StoreError`` (one
line), which ``recover`` records as "not consulted" and goes on. Only the soft-binding values
leave the machine (never the image): a fingerprint goes as a ``byBinding`` query.
"""

from __future__ import annotations

from typing import Sequence

from .. import fingerprint as fp
from ..softbinding import encode_value
from .base import Match, StoreError

#: Seconds for connecting and for each read.
TIMEOUT = 5.0
#: Largest manifest store accepted from a resolver.
MAX_MANIFEST = 16 * 1024 * 1024


class RemoteResolver:
    def __init__(self, url: str, *, timeout: float = TIMEOUT, client=None):
        import httpx

        self.location = url.rstrip("/")
        self._httpx = httpx
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw):
        try:
            response = self._client.request(method, self.location + path, **kw)
        except self._httpx.HTTPError as err:
            raise StoreError(f"resolver {self.location} did not answer: "
                             f"{type(err).__name__}: {err}".rstrip(": ")) from None
        return response

    def _matches(self, response) -> list[dict]:
        if response.status_code != 200:
            raise StoreError(f"resolver {self.location} answered HTTP {response.status_code}")
        try:
            found = response.json()["matches"]
            return [m for m in found if isinstance(m, dict) and isinstance(m.get("manifestId"), str)]
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"resolver {self.location} answered something that is not a match list") from None

    def by_binding(self, alg: str, value: str, limit: int = 10) -> list[str]:
        response = self._request("POST", "/matches/byBinding", params={"maxResults": limit},
                                 json={"alg": alg, "value": value})
        return [m["manifestId"] for m in self._matches(response)]

    def by_fingerprint(self, hashes: bytes | Sequence[bytes], max_distance: int = fp.MAX_DISTANCE,
                       limit: int = 10) -> list[Match]:
        from .api import distance_for

        hashes = [bytes(hashes)] if isinstance(hashes, (bytes, bytearray)) else list(hashes)
        best: dict[str, Match] = {}
        for variant, h in enumerate(hashes):
            response = self._request("POST", "/matches/byBinding", params={"maxResults": limit},
                                     json={"alg": fp.ALG, "value": encode_value(h)})
            for m in self._matches(response):
                score = m.get("similarityScore")
                d = distance_for(score) if isinstance(score, int) else max_distance
                if d <= max_distance and (m["manifestId"] not in best or d < best[m["manifestId"]].distance):
                    best[m["manifestId"]] = Match(m["manifestId"], d, variant)
        return sorted(best.values(), key=lambda m: (m.distance, m.manifest_id))[:limit]

    def get(self, manifest_id: str) -> bytes | None:
        from urllib.parse import quote

        response = self._request("GET", "/manifests/" + quote(manifest_id, safe=""))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StoreError(f"resolver {self.location} answered HTTP {response.status_code}")
        if len(response.content) > MAX_MANIFEST:
            raise StoreError(f"resolver {self.location} sent a manifest over {MAX_MANIFEST >> 20} MiB")
        return response.content
