"""watermark.detect on any decodable image: evidence, never an exception."""

from __future__ import annotations

import numpy as np
from fuzz.strategies import FUZZ, mutated
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from trustgen import watermark
from trustgen.errors import InputError
from trustgen.evidence import WatermarkEvidence
from trustgen.media import decode_image

MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB",
         "HSV", "I", "I;16", "F")


def _check(found) -> None:
    assert isinstance(found, WatermarkEvidence)
    assert found.p_value is None or 0.0 <= found.p_value <= 1.0


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_watermark_detect_reads_any_decodable_mutated_file(seeds, data):
    try:
        image = decode_image(data.draw(mutated(seeds)))
    except InputError:
        return
    _check(watermark.detect(image))


@settings(FUZZ, max_examples=60)
@given(mode=st.sampled_from(MODES), size=st.tuples(st.integers(1, 320), st.integers(1, 320))
       | st.tuples(st.integers(1, 4), st.integers(300, 3000)) | st.tuples(st.integers(300, 3000), st.integers(1, 4)),
       orientation=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_watermark_detect_reads_any_mode_size_and_orientation(mode, size, orientation, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    if orientation:
        image.getexif()[0x0112] = orientation
    _check(watermark.detect(image))
