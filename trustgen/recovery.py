"""Recovering stripped content credentials: find a file's manifest in manifest stores by its
watermark and its fingerprint, and validate it with c2pa as a detached manifest of this file.

``recover`` works on evidence already gathered (the watermark search, the fingerprint) and on
stores given to it (``store.ManifestStore`` or ``store.remote.RemoteResolver``: anything with
``by_binding``, ``by_fingerprint``, ``get`` and ``location``). It never raises for a store it
cannot reach: that store is listed in ``Recovery.unavailable`` and the others are still asked.

A re-encoded copy never matches the manifest's hard binding (the signed file's bytes); that is
``pixels_match=False`` ("the pixels are not the signed ones"), and ``state`` judges the signature
and trust as if the hard binding were not there. ``copied_mark`` flags the copy attack: a
watermark whose manifest's fingerprint is far from this image (``fingerprint.UNRELATED_DISTANCE``)
and whose manifest's thumbnail does not show the same picture either (``fingerprint.same_picture``:
PDQ alone cannot tell a crop or rotation from another picture) was lifted from another picture;
such a manifest is never the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import fingerprint as fp
from .credentials.read import HARD_BINDING_CODES
from .errors import TrustgenError
from .softbinding import WATERMARK_ALG, watermark_value

__all__ = ["HARD_BINDING_CODES", "MAX_CANDIDATES", "Recovery", "recover"]
_UNTRUSTED = "signingCredential.untrusted"
#: Candidates validated at most (each validation is a c2pa read).
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class Recovery:
    """What a lookup found. ``matched_by`` is None when no store had the file's manifest.

    ``state`` is the recovered manifest judged without its hard binding (``trusted``, ``valid``,
    ``invalid``, ``error``); ``codes`` its failure codes, hard binding ones left out;
    ``manifest`` c2pa's own reading (state ``invalid`` with the hard-binding code for a copy).
    """

    matched_by: str | None = None  # "watermark", "fingerprint" or "both"
    manifest_id: str | None = None
    source: str | None = None  # the store or resolver it came from
    content_id: str | None = None
    watermark_p_value: float | None = None
    fingerprint_distance: int | None = None
    fingerprint_variant: int | None = None  # 0 as is; 1-7 a rotation or mirror (fingerprint.dihedral)
    bindings_agree: bool = False  # watermark and fingerprint both name this manifest
    copied_mark: bool = False  # a mark whose manifest's fingerprint is far from this image
    copied_from: str | None = None  # the manifest that copied mark names (never the result)
    pixels_match: bool | None = None  # the hard binding matched this very file
    state: str | None = None
    codes: tuple[str, ...] = ()
    manifest: object | None = None  # credentials.read's ManifestEvidence of the detached manifest
    unavailable: tuple[str, ...] = ()  # one line per store that could not be consulted
    manifest_store: bytes | None = field(default=None, repr=False)  # application/c2pa


@dataclass
class _Candidate:
    manifest_id: str
    source: object
    by_watermark: bool = False
    distance: int | None = None
    variant: int | None = None


def recover(
    data: bytes,
    image=None,
    watermark=None,
    fingerprint: "fp.Fingerprint | Sequence[fp.Fingerprint] | None" = None,
    stores: Sequence = (),
    *,
    trust,
    max_p_value: float,
    max_distance: int = fp.MAX_DISTANCE,
    fmt: str | None = None,
    path=None,
) -> Recovery:
    """Look ``data`` up in ``stores`` and validate what is found as its detached manifest.

    ``watermark`` is the file's ``WatermarkEvidence``: only a reading whose p-value passes
    ``max_p_value`` (the policy's bound) is looked up. ``fingerprint`` is a ``Fingerprint`` or
    ``fingerprint.dihedral``'s eight (mirrored and rotated copies are then found too); None
    computes the eight from ``image`` (a PIL image) when given. ``trust`` is the
    ``TrustConfig`` the manifest is judged under.
    """
    from .credentials.read import read_credentials

    reading = None if watermark is None else watermark.judged(max_p_value)
    cid = reading.content_id if reading is not None and reading.detected else None
    prints = _prints(fingerprint, image)
    usable = [p for p in prints if p.usable]
    unavailable: list[str] = []
    candidates: dict[str, _Candidate] = {}
    for source in stores:
        try:
            if cid:
                for mid in source.by_binding(WATERMARK_ALG, watermark_value(cid)):
                    candidates.setdefault(mid, _Candidate(mid, source)).by_watermark = True
            if usable:
                # the image as it is first; its rotations and mirrors only when that finds nothing
                # (eight hashes cost eight times the candidates)
                found = source.by_fingerprint([usable[0].hash], max_distance) if len(usable) > 1 else []
                if not found:
                    found = source.by_fingerprint([p.hash for p in usable], max_distance)
                for m in found:
                    c = candidates.setdefault(m.manifest_id, _Candidate(m.manifest_id, source))
                    if c.distance is None or m.distance < c.distance:
                        c.distance, c.variant = m.distance, m.variant
        except TrustgenError as err:
            unavailable.append(f"{source.location}: {err}")
    order = sorted(candidates.values(), key=lambda c: (
        not (c.by_watermark and c.distance is not None), not c.by_watermark,
        c.distance if c.distance is not None else fp.BITS))
    copied_from = None
    for cand in order[:MAX_CANDIDATES]:
        try:
            store_bytes = cand.source.get(cand.manifest_id)
        except TrustgenError as err:
            unavailable.append(f"{cand.source.location}: {err}")
            continue
        if store_bytes is None:
            continue
        declared = _declared(store_bytes)
        agree_wm = cand.by_watermark and _names_mark(declared, cid, reading.key if reading else None)
        distance, variant = cand.distance, cand.variant
        if declared.fingerprint is not None and prints:
            distance, variant = min((fp.hamming(declared.fingerprint.hash, p.hash), i)
                                    for i, p in enumerate(prints))
        if cand.by_watermark and not agree_wm and cand.distance is None:
            continue  # an index entry its own manifest does not back: not evidence
        if agree_wm and (distance is None or distance >= fp.UNRELATED_DISTANCE) \
                and not _resembles(data, image, store_bytes):
            copied_from = copied_from or cand.manifest_id
            continue  # the mark names another picture's manifest: never recovered provenance
        evidence = read_credentials(data, fmt=fmt, trust=trust, path=path, detached=store_bytes)
        hard = [c for c in evidence.codes if c in HARD_BINDING_CODES]
        codes = tuple(c for c in evidence.codes if c not in HARD_BINDING_CODES)
        by_print = distance is not None and distance <= max_distance
        return Recovery(
            matched_by="both" if agree_wm and by_print else "watermark" if agree_wm else "fingerprint",
            manifest_id=cand.manifest_id, source=cand.source.location, content_id=cid if agree_wm else None,
            watermark_p_value=reading.p_value if agree_wm else None,
            fingerprint_distance=distance, fingerprint_variant=variant,
            bindings_agree=bool(agree_wm and by_print),
            copied_mark=copied_from is not None, copied_from=copied_from,
            pixels_match=None if evidence.state in ("error", "absent") else not hard,
            state=_state(evidence.state, hard, codes), codes=codes, manifest=evidence,
            unavailable=tuple(unavailable), manifest_store=store_bytes,
        )
    return Recovery(unavailable=tuple(unavailable), copied_mark=copied_from is not None,
                    copied_from=copied_from)


def _resembles(data: bytes, image, store_bytes: bytes) -> bool:
    """Whether the file looks like (a crop, border or mirror of) the manifest's thumbnail; no
    thumbnail or no image to compare: False, so the far fingerprint decides."""

    from .media import decode_image
    from .store.ingest import thumbnail

    thumb = thumbnail(store_bytes)
    if thumb is None:
        return False
    try:
        image = image if image is not None else decode_image(data)
        return fp.same_picture(image, decode_image(thumb))
    except TrustgenError:
        return False


def _prints(fingerprint, image) -> tuple[fp.Fingerprint, ...]:
    if fingerprint is None:
        return () if image is None else fp.dihedral(image)
    if isinstance(fingerprint, fp.Fingerprint):
        return (fingerprint,)
    return tuple(fingerprint)


def _declared(store_bytes: bytes):
    """The soft bindings and fingerprint the stored manifest itself names (an index hit is not
    proof: the manifest's own, signed assertions must name the mark)."""
    from .store.ingest import registration
    from .store.base import Registration

    try:
        return registration(store_bytes)
    except TrustgenError:
        return Registration(manifest_id="", store_bytes=store_bytes)


def _names_mark(reg, content_id: str | None, key: str | None) -> bool:
    if not content_id:
        return False
    value = watermark_value(content_id)
    return any(b.alg == WATERMARK_ALG and b.value == value and (key is None or b.params.get("key") == key)
               for b in reg.soft_bindings)


def _state(state: str, hard: list[str], codes: tuple[str, ...]) -> str:
    """c2pa's state with a hard-binding mismatch set aside: a copy's signature and trust still
    count, anything else wrong keeps it ``invalid``."""
    if state != "invalid" or not hard:
        return state
    if not codes:
        return "trusted"
    return "valid" if set(codes) == {_UNTRUSTED} else "invalid"
