"""invisible-watermark's rivaGan (a small ONNX encoder/decoder shipped inside imwatermark).

Its capacity is 32 bits, too few for a 48-bit content id *and* a presence test, so here it
carries a keyed 32-bit presence word only (no content id). About 1 s per image and a torch import,
so ``detect`` tries it only when asked by name.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _imwatermark, payload

NAME = "rivaGan"
GREYSCALE = False
N_BITS = 32
_LOCK = threading.Lock()


def _word(key: bytes) -> np.ndarray:
    return np.array(payload.keyed_bits(key, "presence/rivaGan", N_BITS), dtype=np.uint8)


def _decoder():
    from imwatermark.rivaGan import RivaWatermark

    with _LOCK:
        RivaWatermark.loadModel()
    return RivaWatermark(watermarks=[], wmLen=N_BITS)


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    _decoder()
    return _imwatermark.encode(rgb, _word(key), NAME)


def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    bits = _decoder().decode(np.ascontiguousarray(rgb[:, :, ::-1]))
    out = []
    for key in keys:
        errors = int(np.count_nonzero(bits != _word(key)))
        out.append(payload.Reading(payload.binomial_tail(errors, N_BITS), None, errors))
    return out
