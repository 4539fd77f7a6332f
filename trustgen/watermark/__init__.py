"""Invisible watermarks: embed a keyed content id, detect it with a stated false-alarm rate.

Each scheme lives in its own module and registers its ``read`` and ``embed`` with what sets it
apart (``registry.py``); ``embed`` and ``detect`` treat them all alike. ``detect`` tries every
key and scheme and reports the most significant reading with its p-value multiplied by the
number of readings tried, so the search itself cannot manufacture a detection.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import numpy as np

from ..errors import WatermarkError
from ..evidence import LatentWatermark, PublicWatermark, WatermarkEvidence, WatermarkReading
from .payload import (FALSE_ALARM, PUBLIC_KEY, check_keys, format_content_id, issuer_id,
                      new_content_id, parse_content_id, read_key_file)
from .latent import can_invert, marked_noise
from .public import PublicReading
from .registry import (WatermarkScheme, check_schemes, get_scheme, list_schemes,
                       register_scheme)

# Importing a scheme's module registers it; this order is SCHEMES' (it breaks ties in detect).
from . import tiled, dwtdct, rivagan, sdxl  # noqa: F401, I001

__all__ = [
    "DEFAULT_SCHEME", "DETECT_SCHEMES", "FALSE_ALARM", "MARK_SIDE", "MIN_SIDE", "PUBLIC_KEY",
    "SCHEMES", "PublicReading", "WatermarkScheme", "can_invert", "check_keys", "check_schemes",
    "detect", "detect_latent", "detect_public", "marked_noise", "embed", "get_scheme", "issuer_id", "key_label", "list_schemes",
    "marking_size", "new_content_id", "read_key_file", "register_scheme",
]

#: Smallest side an image may have to be marked; smaller ones are refused, never left unmarked.
MIN_SIDE = 256
#: Shortest side from which trustgen's mark survives JPEG 50, a 50% downscale and the
#: crop/downscale/JPEG chain (>= 99%); at 256 px its one-pixel cells do not (``tiled.py``).
MARK_SIDE = 512


def marking_size(width: int, height: int) -> tuple[int, int]:
    """The size to enlarge an image to before marking it so that its mark is robust: (width,
    height) times the smallest whole factor that brings the shorter side to ``MARK_SIDE`` (1
    when it is there already). Whole, so a copy scaled back down by that factor has the
    original size."""
    factor = max(1, -(-MARK_SIDE // min(width, height)))
    return width * factor, height * factor

#: Registered scheme names.
SCHEMES = list_schemes()
DEFAULT_SCHEME = "trustgen"
#: What ``detect`` reads when no schemes are named.
DETECT_SCHEMES = tuple(name for name in SCHEMES if get_scheme(name).read_by_default)


def _split(image) -> tuple[np.ndarray, str, object]:
    """(upright uint8 RGB array, mode to return, alpha band or None).

    EXIF orientation is applied first (``media.upright``): a phone photo stored rotated with
    orientation 6 is marked and read the way every viewer shows it. An RGB image is not copied
    on the way to the array, which is built a band at a time (``media.rgb_array``).
    """
    from ..media import rgb_array, upright

    image = upright(image)
    mode = image.mode
    if mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = mode in ("PA", "RGBa") or "transparency" in image.info
        mode = "LA" if mode == "La" else "RGBA" if has_alpha else "RGB"  # La converts to LA only
        try:
            image = image.convert(mode)
        except (ValueError, AssertionError) as err:  # e.g. more transparency entries than colours
            raise WatermarkError(f"the image's {image.mode} pixels cannot be converted to {mode}: "
                                 f"{err}") from None
    alpha = image.getchannel("A") if mode in ("RGBA", "LA") else None
    return rgb_array(image), mode, alpha


def embed(image, content_id: str, *, key: bytes | None = None, scheme: str = DEFAULT_SCHEME):
    """The image with ``content_id`` (12 hex digits) embedded, read back before it is returned.

    The result has the same size as the image *after* its EXIF orientation is applied: it is
    returned upright, with no EXIF (the orientation is baked into the pixels). Modes: RGB, L
    (greyscale) and RGBA/LA (alpha kept unchanged) come back in the same mode; any other mode is
    converted first and comes back as RGB, or RGBA when it had transparency (P, PA, CMYK, I;16,
    I, F, 1 ...; La as LA): a mark lives in 8-bit pixel values, so palette, 16-bit and bilevel
    pixels cannot hold it as they are.

    ``key=None`` uses the documented public key ``PUBLIC_KEY``: anyone can read that mark.
    The mark is then detected under that key; if it does not come back with this content id
    (a dithered bilevel image, saturated and all texture, usually cannot carry it; flat white or
    black images can), ``WatermarkError`` is raised rather than an image returned unmarked
    (schemes registered with ``read_back=False`` are not read back). Also raises
    ``WatermarkError`` for images under ``MIN_SIDE`` pixels a side, for greyscale images under a
    colour-only scheme and for reader-only schemes.
    """
    marked = _embed_unchecked(image, content_id, key=key, scheme=scheme)
    spec = get_scheme(scheme)
    if spec.read_back:
        expected = format_content_id(parse_content_id(content_id)) if spec.carries_id else None
        found = detect(marked, key=PUBLIC_KEY if key is None else key, schemes=[scheme])
        if not found.detected or found.content_id != expected:
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

    spec = get_scheme(scheme)
    if not spec.can_embed:
        raise WatermarkError(f"the {scheme} scheme is a reader only: trustgen reads its marks "
                             "but cannot write them")
    cid = parse_content_id(content_id)
    (key,) = check_keys([PUBLIC_KEY if key is None else key])
    rgb, mode, alpha = _split(image)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise WatermarkError(
            f"image is {w}x{h}; watermarking needs at least {MIN_SIDE} pixels on each side"
        )
    if mode in ("L", "LA") and not spec.greyscale:
        raise WatermarkError(f"scheme {scheme} marks colour only and cannot mark a greyscale image")
    marked = Image.fromarray(spec.embed(rgb, cid, key), "RGB")
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
           schemes: Sequence[str] | None = None,
           max_p_value: float = FALSE_ALARM, public: bool = False) -> WatermarkEvidence:
    """The most significant watermark reading under ``key`` and ``keys`` (plus the public key).

    Its p-value, multiplied by the number of (scheme, key) readings tried, and the reading
    itself (``candidate``) are always reported, so a policy can judge them at its own bound
    (``WatermarkEvidence.judged``); ``detected`` and the scheme, id and key it names are this
    search judged at ``max_p_value``. ``schemes=None`` reads ``DETECT_SCHEMES``. A scheme that
    cannot read this image (too small for it) is left out of ``schemes_checked``: the image's
    content never raises, only a bad key or scheme name does (or, as ``WatermarkError``, pixels
    Pillow cannot convert at all). EXIF orientation is applied
    before reading. ``public=True`` also reads the public layer of trustgen's scheme from the same
    registrations (``public``: who a mark names as issuer; see ``detect_public``), reported when no
    trustgen reading passes ``max_p_value``.
    """
    names = DETECT_SCHEMES if schemes is None else check_schemes(schemes)
    own = () if key is None else check_keys([key])
    all_keys = tuple(dict.fromkeys(own + check_keys(keys) + (PUBLIC_KEY,)))
    rgb = _split(image)[0]
    checked, readings, layer = [], [], None
    for name in names:
        spec = get_scheme(name)
        if public and name == DEFAULT_SCHEME:  # one registration pass for both layers
            found, layer = tiled.read_both(rgb, all_keys)
        else:
            found = spec.read(rgb, all_keys)
        if found:
            checked.append(name)
            readings += [(name, all_keys[i] if spec.keyed else None, r) for i, r in enumerate(found)]
    if not readings:
        return WatermarkEvidence(detected=False).judged(max_p_value)
    name, best_key, best = min(readings, key=lambda nkr: nkr[2].p_value)
    candidate = WatermarkReading(name, best.content_id,
                                 None if best_key is None else key_label(best_key))
    evidence = WatermarkEvidence(
        detected=False, p_value=min(1.0, best.p_value * len(readings)),
        bit_errors=best.bit_errors, schemes_checked=tuple(checked), candidate=candidate,
    ).judged(max_p_value)
    if layer is None or (evidence.detected and evidence.scheme == DEFAULT_SCHEME):
        return evidence
    present = layer.p_value <= max_p_value
    issuer = layer.content_id if present else None
    held = issuer is not None and issuer in {issuer_id(k) for k in all_keys}
    return dataclasses.replace(evidence, public=PublicWatermark(present, layer.p_value, issuer, held))


def detect_latent(image, model, key: bytes | None = None, *, keys: Sequence[bytes] = (),
                  max_p_value: float = FALSE_ALARM) -> LatentWatermark:
    """The latent watermark (``latent.py``: keyed initial noise) of ``image`` under ``key`` and
    ``keys`` (plus the public key), read by inverting ``model``: a diffusers folder, a loaded
    pipeline (``can_invert``), or a list of them. Its p-value is multiplied by every key,
    registration and model tried (``latent.read_image``). Costs seconds per image on a CPU,
    plus a calibration once per model and process (``inversion.calibration``)."""
    from . import latent

    own = () if key is None else check_keys([key])
    all_keys = tuple(dict.fromkeys(own + check_keys(keys) + (PUBLIC_KEY,)))
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    p, cid, errors, best_key, name, tries = latent.read_image(
        _split(image)[0], models, all_keys, marking_size, max_p_value)
    return LatentWatermark(False, name, min(1.0, p * tries), bit_errors=errors, candidate_id=cid,
                           candidate_key=key_label(best_key)).judged(max_p_value)


def detect_public(image, *, max_p_value: float = FALSE_ALARM) -> PublicReading:
    """Is there a trustgen mark, and which issuer does it name? Needs no key (``public.py``).

    Reads the public layer every trustgen mark carries, after the same geometric registration as
    ``detect``: ``PublicReading(present, p_value, issuer)``, ``issuer`` being ``issuer_id`` of the
    key the image was marked with (6 hex digits; ``issuer_id(PUBLIC_KEY)`` for an install without
    a key). Anyone can write a public layer, so it names who the mark claims as issuer; the
    content id stays readable only under the issuer's key (``detect``). EXIF orientation is
    applied first. Costs about one ``detect`` of the trustgen scheme.
    """
    from .public import read

    return read(_split(image)[0], max_p_value)
