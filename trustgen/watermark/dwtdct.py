"""invisible-watermark's dwtDct, carrying trustgen's keyed 48-bit id and a 32-bit presence tag.

For comparison and compatibility: it is fast, but loses its payload to JPEG 50, downscaling or
cropping (see benchmarks/watermark.py). It marks the U (chroma) channel, so not greyscale images.
"""

from __future__ import annotations

import numpy as np

from . import _imwatermark, payload
from .registry import register_scheme

NAME = "dwtDct"
TAG_BITS = 32
N_BITS = payload.ID_BITS + TAG_BITS


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    return _imwatermark.encode(rgb, payload.framed_bits(key, NAME, content_id, TAG_BITS), NAME)


@register_scheme(NAME, embed=embed)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    bits = _imwatermark.decode_dwtdct(rgb, N_BITS)
    return [] if bits is None else payload.framed_readings(bits, keys, NAME, TAG_BITS)

