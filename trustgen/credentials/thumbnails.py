"""The thumbnails a file's C2PA manifests carry: what the signer says the content looked like.

A report shows them where trustgen cannot render the file itself (PDF, audio, video) and beside
its own rendering where it can. They are read without validating the manifest (the verdict
already says whether the credentials hold) and are the signer's claim, not the file's pixels.
"""

from __future__ import annotations

import io
import json
from functools import cache

#: A thumbnail bigger than this is not a thumbnail; its resource is skipped, not read whole.
MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024


class Thumbnails(dict):
    """``{key: (mime, bytes)}`` with ``active``, the active manifest's label (None if unknown).

    Keys: a manifest's label for its claim thumbnail; ``ingredient_key`` for an ingredient's:
    ``"<manifest label>/<ingredient title>"``, the ingredient's index instead of its title when
    the title is missing or repeated in that manifest."""

    active: str | None = None


def manifest_thumbnails(data: bytes, mime: str) -> Thumbnails:
    """The claim thumbnail of each manifest in ``data`` and the thumbnails of their ingredients.

    Empty when there is no manifest, it is remote or c2pa cannot parse it: thumbnails are an
    illustration, never a finding, so nothing here raises for a bad file."""
    import c2pa

    found = Thumbnails()
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=_context()) as reader:
            report = json.loads(reader.json())
            found.active = report.get("active_manifest")
            for key, ref in _references(report):
                image = _resource(reader, ref)
                if image is not None:
                    found[key] = image
    except (c2pa.C2paError, ValueError, TypeError, AttributeError):
        pass
    return found


def ingredient_key(manifest: str, titles: list, index: int) -> str:
    """The key of the ``index``-th ingredient of ``manifest`` (its ingredients' ``titles``)."""
    title = titles[index]
    return f"{manifest}/{title if title and titles.count(title) == 1 else index}"


def _references(report: dict):
    """``(key, thumbnail reference)`` pairs, the active manifest's first."""
    manifests = report.get("manifests") or {}
    active = report.get("active_manifest")
    for label in sorted(manifests, key=lambda label: label != active):
        manifest = manifests[label] or {}
        if manifest.get("thumbnail"):
            yield label, manifest["thumbnail"]
        ingredients = manifest.get("ingredients") or []
        titles = [i.get("title") for i in ingredients]
        for index, ingredient in enumerate(ingredients):
            if ingredient.get("thumbnail"):
                yield ingredient_key(label, titles, index), ingredient["thumbnail"]


def _resource(reader, ref) -> tuple[str, bytes] | None:
    import c2pa

    if not isinstance(ref, dict) or not isinstance(ref.get("identifier"), str):
        return None
    out = _Capped()
    try:
        reader.resource_to_stream(ref["identifier"], out)
    except (c2pa.C2paError, _TooBig, OSError):
        return None
    return str(ref.get("format") or "application/octet-stream"), out.getvalue()


class _TooBig(Exception):
    pass


class _Capped(io.BytesIO):
    """A stream that refuses to grow past ``MAX_THUMBNAIL_BYTES``."""

    def write(self, b) -> int:
        if self.tell() + len(b) > MAX_THUMBNAIL_BYTES:
            raise _TooBig
        return super().write(b)


@cache
def _context():
    """Reading only: no validation, no trust, nothing fetched."""
    import c2pa

    return c2pa.Context.from_dict({"verify": {
        "verify_after_reading": False, "verify_trust": False,
        "remote_manifest_fetch": False, "ocsp_fetch": False,
    }})
