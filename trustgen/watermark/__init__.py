"""Invisible watermarks: embed a keyed content id, detect it with a stated false-alarm rate.

``embed`` and ``detect`` choose the scheme; each scheme lives in its own module with
``embed(rgb, content_id, key)`` and ``read(rgb, keys) -> [Reading]`` on uint8 RGB arrays.
``detect`` tries every key and scheme and reports the most significant reading with its p-value
multiplied by the number of readings tried, so the search itself cannot manufacture a detection.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Sequence

import numpy as np

from ..errors import WatermarkError
from ..evidence import WatermarkEvidence
from .payload import FALSE_ALARM, PUBLIC_KEY, new_content_id, parse_content_id, read_key_file

__all__ = [
    "DEFAULT_SCHEME", "FALSE_ALARM", "MIN_SIDE", "PUBLIC_KEY", "SCHEMES",
    "detect", "embed", "key_label", "new_content_id", "read_key_file",
]

#: Smallest side an image may have to be marked; smaller ones are refused, never left unmarked.
MIN_SIDE = 256

_MODULES = {
    "trustgen": "tiled",
    "dwtDct": "dwtdct",
    "dwtDctSvd": "dwtdctsvd",
    "rivaGan": "rivagan",
    "sdxl": "sdxl",
}
#: Registered scheme names.
SCHEMES = tuple(_MODULES)
DEFAULT_SCHEME = "trustgen"
#: What ``detect`` reads when no schemes are named: all but rivaGan (1 s and torch per image).
DETECT_SCHEMES = tuple(s for s in SCHEMES if s != "rivaGan")


def _scheme(name: str):
    if name not in _MODULES:
        raise WatermarkError(f"unknown watermark scheme {name!r}; known: {', '.join(SCHEMES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")


def _split(image) -> tuple[np.ndarray, str, object]:
    """(upright uint8 RGB array, mode to return, alpha band or None).

    EXIF orientation is applied first (``ImageOps.exif_transpose``): a phone photo stored
    rotated with orientation 6 is marked and read the way every viewer shows it.
    """
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = mode in ("PA", "RGBa", "La") or "transparency" in image.info
        mode = "RGBA" if has_alpha else "RGB"
        image = image.convert(mode)
    alpha = image.getchannel("A") if mode in ("RGBA", "LA") else None
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return rgb, mode, alpha


def embed(image, content_id: str, *, key: bytes | None = None, scheme: str = DEFAULT_SCHEME):
    """The image with ``content_id`` (12 hex digits) embedded, read back before it is returned.

    The result has the same size as the image *after* its EXIF orientation is applied: it is
    returned upright, with no EXIF (the orientation is baked into the pixels). Modes: RGB, L
    (greyscale) and RGBA/LA (alpha kept unchanged) come back in the same mode; any other mode is
    converted first and comes back as RGB, or RGBA when it had transparency (P, PA, CMYK, I;16,
    I, F, 1 ...): a mark lives in 8-bit pixel values, so palette, 16-bit and bilevel pixels
    cannot hold it as they are.

    ``key=None`` uses the documented public key ``PUBLIC_KEY``: anyone can read that mark.
    The mark is then detected under that key; if it does not come back with this content id
    (a dithered bilevel image, saturated and all texture, usually cannot carry it; flat white or
    black images can), ``WatermarkError`` is raised rather
    than an image returned unmarked (rivaGan, which carries no id, is not read back). Also
    raises ``WatermarkError`` for images under ``MIN_SIDE`` pixels a side and for greyscale
    images under a colour-only scheme.
    """
    marked = _embed_unchecked(image, content_id, key=key, scheme=scheme)
    if scheme != "rivaGan":  # rivaGan carries no id, and reading it back costs seconds
        found = detect(marked, key=key or PUBLIC_KEY, schemes=[scheme])
        if not found.detected or found.content_id != content_id.strip().lower():
            raise WatermarkError(
                f"the watermark for content id {content_id} did not read back from the image "
                "(too saturated or noisy to carry it, e.g. a dithered black-and-white image); "
                "nothing was written"
            )
    return marked


def _embed_unchecked(image, content_id: str, *, key: bytes | None = None,
                     scheme: str = DEFAULT_SCHEME):
    """``embed`` without the read-back (the benchmark times the bare comparison schemes)."""
    from PIL import Image

    module = _scheme(scheme)
    cid = parse_content_id(content_id)
    key = _check_key(key or PUBLIC_KEY)
    rgb, mode, alpha = _split(image)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise WatermarkError(
            f"image is {w}x{h}; watermarking needs at least {MIN_SIDE} pixels on each side"
        )
    if mode in ("L", "LA") and not module.GREYSCALE:
        raise WatermarkError(f"scheme {scheme} marks colour only and cannot mark a greyscale image")
    marked = Image.fromarray(module.embed(rgb, cid, key), "RGB")
    if mode in ("L", "LA"):
        marked = marked.convert("L")
    if alpha is not None:
        marked.putalpha(alpha)
    return marked


def key_label(key: bytes) -> str:
    """How evidence names a key: ``"public"`` or ``"sha256:"`` + 16 hex digits of its hash."""
    if key == PUBLIC_KEY:
        return "public"
    return "sha256:" + hashlib.sha256(key).hexdigest()[:16]


def detect(image, *, key: bytes | None = None, keys: Sequence[bytes] = (),
           schemes: Sequence[str] | None = None) -> WatermarkEvidence:
    """The most significant watermark found under ``key`` and ``keys`` (plus the public key).

    ``detected`` is true when the p-value, already multiplied by the number of (scheme, key)
    readings tried, is at most ``FALSE_ALARM``. ``schemes=None`` reads ``DETECT_SCHEMES``;
    the evidence lists them in ``schemes_checked`` and names the matching key in ``key``.
    EXIF orientation is applied before reading.
    """
    names = DETECT_SCHEMES if schemes is None else tuple(schemes)
    modules = [_scheme(name) for name in names]
    given = ([key] if key is not None else []) + list(keys)
    all_keys = list(dict.fromkeys([_check_key(k) for k in given] + [PUBLIC_KEY]))
    rgb = _split(image)[0]
    readings = []
    for name, module in zip(names, modules):
        found = module.read(rgb, all_keys)
        # keyed readers answer one reading per key, in order; sdxl one for its fixed message
        keyed = getattr(module, "KEYED", True)
        readings.extend((name, all_keys[i] if keyed else None, r) for i, r in enumerate(found))
    if not readings:
        return WatermarkEvidence(detected=False, p_value=1.0, schemes_checked=names)
    name, best_key, best = min(readings, key=lambda nkr: nkr[2].p_value)
    p_value = min(1.0, best.p_value * len(readings))
    if p_value > FALSE_ALARM:
        return WatermarkEvidence(detected=False, p_value=p_value, schemes_checked=names)
    return WatermarkEvidence(detected=True, scheme=name, content_id=best.content_id,
                             p_value=p_value, bit_errors=best.bit_errors,
                             key=None if best_key is None else key_label(best_key),
                             schemes_checked=names)


def _check_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise WatermarkError("a watermark key must be at least 16 bytes")
    return bytes(key)
