"""The shipped detector on any decodable image: one probability in [0, 1], never an exception."""

from __future__ import annotations

import numpy as np
from fuzz.strategies import FUZZ, mutated
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from trustgen.errors import InputError
from trustgen.media import decode_image


def _probability(image) -> float:
    from detectors import SyntheticImageDetector

    (p,) = SyntheticImageDetector.load().predict_proba([image.convert("RGB")])[:, 1]
    assert 0.0 <= p <= 1.0
    return p


@settings(FUZZ, max_examples=10)
@given(size=st.tuples(st.integers(1, 300), st.integers(1, 300))
       | st.tuples(st.integers(1, 3), st.integers(1000, 4000)) | st.tuples(st.integers(1000, 4000), st.integers(1, 3)),
       flat=st.booleans(), seed=st.integers(0, 2**16))
def test_the_detector_scores_any_size_and_aspect_ratio(size, flat, seed):
    shape = (size[1], size[0], 3)
    rng = np.random.default_rng(seed)
    rgb = np.full(shape, rng.integers(0, 256), np.uint8) if flat else rng.integers(0, 256, shape, dtype=np.uint8)
    _probability(Image.fromarray(rgb))


@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_the_detector_scores_any_decodable_mutated_file(seeds, data):
    try:
        image = decode_image(data.draw(mutated(seeds)))
    except InputError:
        return
    _probability(image)
