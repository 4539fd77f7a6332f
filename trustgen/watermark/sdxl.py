"""Reader for the mark diffusers' Stable Diffusion XL pipelines embed by default.

``StableDiffusionXLWatermarker`` writes the fixed 48-bit message 0xB3EC907BB19E, most
significant bit first, with invisible-watermark's dwtDct on the BGR image. The message is
public and unkeyed, so this says "made by an SDXL pipeline with its watermarker on" and no more;
the p-value is the binomial chance that random bits agree with it as well as the read did.
"""

from __future__ import annotations

import numpy as np

from ..errors import WatermarkError
from . import _imwatermark, payload

NAME = "sdxl"
GREYSCALE = False
#: One fixed public message: readings are not per key.
KEYED = False
MESSAGE = 0xB3EC907BB19E
BITS = np.array(payload.int_to_bits(MESSAGE, 48), dtype=np.uint8)


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    raise WatermarkError("the sdxl scheme is a reader only; SDXL pipelines write it themselves")


def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    errors = int(np.count_nonzero(_imwatermark.decode_dwtdct(rgb, 48) != BITS))
    return [payload.Reading(payload.binomial_tail(errors, 48), None, errors)]
