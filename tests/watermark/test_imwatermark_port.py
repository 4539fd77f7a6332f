"""trustgen's port of invisible-watermark's dwtDct and dwtDctSvd encoders (the library imports
torch, so the base install cannot use it) writes exactly the library's marks."""

import numpy as np
import pytest

from trustgen.watermark import _imwatermark


@pytest.mark.parametrize("method", ["dwtDct", "dwtDctSvd"])
@pytest.mark.parametrize("name, size", [("chelsea", 384), ("astronaut", 301)])
def test_port_writes_the_library_marks_bit_for_bit(photo, method, name, size):
    imwatermark = pytest.importorskip("imwatermark")
    rgb = np.asarray(photo(name, size))[:, :size - 5]  # sides that are not multiples of 4 or 8
    bits = [1, 0, 1, 1, 0, 0, 1, 0] * 6
    encoder = imwatermark.WatermarkEncoder()
    encoder.set_watermark("bits", bits)
    lib = encoder.encode(np.ascontiguousarray(rgb[:, :, ::-1], dtype=np.float32), method)
    expected = np.clip(np.rint(lib[:, :, ::-1]), 0, 255).astype(np.uint8)
    ours = _imwatermark.encode(rgb, bits, method)
    assert not np.array_equal(ours, rgb)  # it marked something
    np.testing.assert_array_equal(ours, expected)
