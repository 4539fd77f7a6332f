"""Invisible watermarks: embed a keyed content id, detect it with a stated false-alarm rate.

``embed`` and ``detect`` choose the scheme; each scheme lives in its own module with
``embed(rgb, content_id, key)`` and ``read(rgb, keys) -> [Reading]`` on uint8 RGB arrays.
``detect`` tries every key and scheme and reports the most significant reading with its p-value
multiplied by the number of readings tried, so the search itself cannot manufacture a detection.
"""

from __future__ import annotations

import importlib
from typing import Sequence

import numpy as np

from ..errors import WatermarkError
from ..evidence import WatermarkEvidence
from .payload import FALSE_ALARM, PUBLIC_KEY, new_content_id, parse_content_id, read_key_file

__all__ = [
    "DEFAULT_SCHEME", "FALSE_ALARM", "MIN_SIDE", "PUBLIC_KEY", "SCHEMES",
    "detect", "embed", "new_content_id", "read_key_file",
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
    """(uint8 RGB array, mode to return, alpha band or None)."""
    mode = image.mode
    if mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = mode in ("PA", "RGBa", "La") or "transparency" in image.info
        mode = "RGBA" if has_alpha else "RGB"
        image = image.convert(mode)
    alpha = image.getchannel("A") if mode in ("RGBA", "LA") else None
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return rgb, mode, alpha


def embed(image, content_id: str, *, key: bytes | None = None, scheme: str = DEFAULT_SCHEME):
    """The image with ``content_id`` (12 hex digits) embedded; same size and mode.

    ``key=None`` uses the documented public key ``PUBLIC_KEY``: anyone can read that mark.
    """
    from PIL import Image

    module = _scheme(scheme)
    cid = parse_content_id(content_id)
    if min(image.size) < MIN_SIDE:
        raise WatermarkError(
            f"image is {image.width}x{image.height}; watermarking needs at least "
            f"{MIN_SIDE} pixels on each side"
        )
    rgb, mode, alpha = _split(image)
    if mode in ("L", "LA") and not module.GREYSCALE:
        raise WatermarkError(f"scheme {scheme} marks colour only and cannot mark a greyscale image")
    marked = Image.fromarray(module.embed(rgb, cid, _check_key(key or PUBLIC_KEY)), "RGB")
    if mode in ("L", "LA"):
        marked = marked.convert("L")
    if alpha is not None:
        marked.putalpha(alpha)
    return marked


def detect(image, *, keys: Sequence[bytes] = (), schemes: Sequence[str] | None = None
           ) -> WatermarkEvidence:
    """The most significant watermark found under any of ``keys`` (plus the public key).

    ``detected`` is true when the p-value, already multiplied by the number of (scheme, key)
    readings tried, is at most ``FALSE_ALARM``.
    """
    names = DETECT_SCHEMES if schemes is None else tuple(schemes)
    modules = [_scheme(name) for name in names]
    all_keys = list(dict.fromkeys([_check_key(k) for k in keys] + [PUBLIC_KEY]))
    rgb = _split(image)[0]
    readings = []
    for name, module in zip(names, modules):
        readings.extend((name, r) for r in module.read(rgb, all_keys))
    if not readings:
        return WatermarkEvidence(detected=False, p_value=1.0)
    name, best = min(readings, key=lambda nr: nr[1].p_value)
    p_value = min(1.0, best.p_value * len(readings))
    if p_value > FALSE_ALARM:
        return WatermarkEvidence(detected=False, p_value=p_value)
    return WatermarkEvidence(detected=True, scheme=name, content_id=best.content_id,
                             p_value=p_value, bit_errors=best.bit_errors)


def _check_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise WatermarkError("a watermark key must be at least 16 bytes")
    return bytes(key)
