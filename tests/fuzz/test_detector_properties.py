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


@settings(FUZZ, max_examples=10)
@given(size=st.tuples(st.integers(1, 400), st.integers(1, 400))
       | st.tuples(st.integers(1, 3), st.integers(1000, 3000)), seed=st.integers(0, 2**16))
def test_the_most_synthetic_region_and_the_map_lie_inside_any_image(size, seed):
    from detectors.inference import OnnxDetector

    det = OnnxDetector.load()
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    (whole, region, (x, y, w, h)), = det.score_regions([image])
    assert 0.0 <= whole <= 1.0 and 0.0 <= region <= 1.0
    assert 0 <= x and 0 <= y and 0 < w <= 64 and 0 < h <= 64
    assert x + w <= image.width and y + h <= image.height
    # the most synthetic crop is at least as synthetic as the average of all of them
    assert region >= whole - 1e-6  # float32 logits: the mean of equal crops may round up
    covered = np.zeros((image.height, image.width), bool)
    for (cx, cy, cw, ch), p in det.score_map(image):
        assert 0.0 <= p <= 1.0
        covered[cy:cy + ch, cx:cx + cw] = True
    assert covered.all()
