"""invisible-watermark's dwtDct and dwtDctSvd, carrying trustgen's keyed 48-bit id and a 32-bit
presence tag (``payload.framed_bits``).

For comparison and compatibility: they are fast, but lose their payload to JPEG 50, downscaling
or cropping (see benchmarks/watermark.py). They mark the U (chroma) channel, so not greyscale
images. dwtDctSvd was the spine's first scheme.
"""

from __future__ import annotations

import numpy as np

from . import _imwatermark, payload
from .registry import register_scheme

TAG_BITS = 32
N_BITS = payload.ID_BITS + TAG_BITS


def _register(name: str, decode) -> None:
    def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
        return _imwatermark.encode(rgb, payload.framed_bits(key, name, content_id, TAG_BITS), name)

    @register_scheme(name, embed=embed)
    def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
        bits = decode(rgb, N_BITS)
        return [] if bits is None else payload.framed_readings(bits, keys, name, TAG_BITS)


_register("dwtDct", _imwatermark.decode_dwtdct)
_register("dwtDctSvd", _imwatermark.decode_dwtdctsvd)
