"""invisible-watermark's rivaGan (a small ONNX encoder/decoder shipped inside imwatermark).

Its capacity is 32 bits, too few for a 48-bit content id *and* a presence test, so here it
carries a keyed 32-bit presence word only (no content id). About 1 s per image and a torch import (``trustgen[generate]``),
so ``detect`` tries it only when asked by name, and ``embed`` does not read it back.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _imwatermark, payload
from .registry import register_scheme

NAME = "rivaGan"
N_BITS = 32
#: Fewest pixels read: the library's own decoder refuses smaller images (ours calls its network).
MIN_PIXELS = 256 * 256
_LOCK = threading.Lock()


def _word(key: bytes) -> np.ndarray:
    return np.array(payload.keyed_bits(key, "presence/rivaGan", N_BITS), dtype=np.uint8)


def _decoder():
    try:
        from imwatermark.rivaGan import RivaWatermark
    except ImportError as err:  # the library imports torch: not in the base install
        from ..errors import missing_extra

        raise missing_extra(err, "the rivaGan watermark scheme") from None

    with _LOCK:
        RivaWatermark.loadModel()
    return RivaWatermark(watermarks=[], wmLen=N_BITS)


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    _decoder()
    return _imwatermark.encode(rgb, _word(key), NAME)


@register_scheme(NAME, embed=embed, carries_id=False, read_by_default=False, read_back=False)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    if rgb.shape[0] * rgb.shape[1] < MIN_PIXELS:
        return []
    bits = _decoder().decode(np.ascontiguousarray(rgb[:, :, ::-1]))
    out = []
    for key in keys:
        errors = int(np.count_nonzero(bits != _word(key)))
        out.append(payload.Reading(payload.binomial_tail(errors, N_BITS), None, errors))
    return out
