"""Reader for the mark diffusers' Stable Diffusion XL pipelines embed by default.

``StableDiffusionXLWatermarker`` writes the fixed 48-bit message 0xB3EC907BB19E, most
significant bit first, with invisible-watermark's dwtDct on the BGR image. The message is
public and unkeyed, so this says "made by an SDXL pipeline with its watermarker on" and no more;
the p-value is the binomial chance that random bits agree with it as well as the read did.
"""

from __future__ import annotations

import numpy as np

from . import _imwatermark, payload
from .registry import register_scheme

MESSAGE = 0xB3EC907BB19E
BITS = np.array(payload.int_to_bits(MESSAGE, 48), dtype=np.uint8)


# a reader only: SDXL pipelines write the mark themselves; one fixed message, so not per key
@register_scheme("sdxl", keyed=False, carries_id=False)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    bits = _imwatermark.decode_dwtdct(rgb, BITS.size)
    if bits is None:
        return []
    errors = int(np.count_nonzero(bits != BITS))
    return [payload.Reading(payload.binomial_tail(errors, BITS.size), None, errors)]
