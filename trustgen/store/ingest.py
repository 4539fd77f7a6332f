"""What to register for a signed file: its active manifest's id, the manifest store bytes,
signer, soft bindings and fingerprint, read with c2pa (never validated here: a stored manifest is
validated when it is used, against the file it is used for).

A bare manifest store (``.c2pa``, ``application/c2pa``) registers too, without an asset hash
and with only the fingerprint its manifest declares.
"""

from __future__ import annotations

import functools
import io
import json
import os

from .. import fingerprint as fp
from ..errors import InputError, one_line
from ..media import decode_image, decodes, identify, lookup, read_file, sha256_hex
from ..softbinding import from_assertions
from .base import Registration


@functools.lru_cache(maxsize=1)
def _context():
    import c2pa

    return c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})


def registration(data: bytes, *, path: str | os.PathLike | None = None) -> Registration:
    """The registration of a signed file's (or bare manifest store's) active manifest;
    ``InputError`` naming ``path`` when there is nothing to register."""
    import c2pa

    fmt = identify(data, path)
    known = lookup(fmt)
    if known is None or not known.carries_c2pa:
        raise InputError("not a file that can carry content credentials", path=path)
    try:
        reader = c2pa.Reader(known.mime, io.BytesIO(data), context=_context())
    except c2pa.C2paError.ManifestNotFound:
        raise InputError("has no content credentials to register", path=path) from None
    except c2pa.C2paError as err:
        raise InputError(f"content credentials cannot be read: {one_line(err)}", path=path) from None
    try:
        with reader:
            report = json.loads(reader.json())
            active = report.get("active_manifest")
            if not active:
                raise InputError("its manifest store has no active manifest", path=path)
            store = io.BytesIO()
            reader.resource_to_stream(f"self#jumbf=/c2pa/{active}", store)
    except c2pa.C2paError as err:
        raise InputError(f"content credentials cannot be read: {one_line(err)}", path=path) from None
    manifest = report["manifests"][active]
    bindings = from_assertions(manifest.get("assertions") or ())
    info = manifest.get("signature_info") or {}
    signer = info.get("common_name") or info.get("issuer")
    bare = known.kind == "manifest"
    return Registration(
        manifest_id=active, store_bytes=store.getvalue(),
        asset_sha256=None if bare else sha256_hex(data), signer=signer, signed_at=info.get("time"),
        soft_bindings=bindings,
        fingerprint=_declared(bindings) or (None if bare or not decodes(fmt) else
                                            fp.compute(decode_image(data, path=path))),
    )


def thumbnail(store_bytes: bytes) -> bytes | None:
    """The claim thumbnail of a manifest store's active manifest (None if it has none or it
    cannot be read): the picture the manifest was made for, to compare a file with."""
    import c2pa

    try:
        with c2pa.Reader("application/c2pa", io.BytesIO(store_bytes), context=_context()) as reader:
            report = json.loads(reader.json())
            thumb = (report["manifests"][report["active_manifest"]].get("thumbnail") or {})
            if not thumb.get("identifier"):
                return None
            out = io.BytesIO()
            reader.resource_to_stream(thumb["identifier"], out)
            return out.getvalue() or None
    except (c2pa.C2paError, KeyError, TypeError, ValueError):
        return None


def registration_file(path: str | os.PathLike) -> Registration:
    return registration(read_file(path), path=path)


def _declared(bindings) -> fp.Fingerprint | None:
    """The fingerprint the manifest itself names (computed on the signed pixels)."""
    for b in bindings:
        if b.alg == fp.ALG:
            try:
                raw = b.raw
                quality = int(b.params.get("quality", fp.MIN_QUALITY))
            except (InputError, ValueError):
                continue
            if len(raw) * 8 == fp.BITS:
                return fp.Fingerprint(raw, quality)
    return None
