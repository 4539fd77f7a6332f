"""invisible-watermark's dwtDctSvd, carrying trustgen's keyed 48-bit id and a 32-bit tag.

The spine's first scheme; kept for comparison. Chroma only, so not greyscale images.
"""

from __future__ import annotations

import numpy as np

from . import _imwatermark, payload
from .dwtdct import N_BITS, TAG_BITS
from .registry import register_scheme

NAME = "dwtDctSvd"


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    return _imwatermark.encode(rgb, payload.framed_bits(key, NAME, content_id, TAG_BITS), NAME)


@register_scheme(NAME, embed=embed)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    bits = _imwatermark.decode_dwtdctsvd(rgb, N_BITS)
    return [] if bits is None else payload.framed_readings(bits, keys, NAME, TAG_BITS)
