"""invisible-watermark schemes behind trustgen's interface, and the SDXL reader.

What every scheme must do is in test_contract.py; here, what is particular to these."""

import numpy as np
import pytest

from trustgen import watermark as wm
from trustgen.watermark import _imwatermark

KEY = bytes(range(32))


def test_default_search_names_a_comparison_scheme(astronaut):
    cid = wm.new_content_id()
    marked = wm.embed(astronaut, cid, key=KEY, scheme="dwtDctSvd")
    ev = wm.detect(marked, keys=[KEY])
    assert ev.detected and ev.content_id == cid and ev.scheme == "dwtDctSvd"
    assert ev.p_value <= wm.FALSE_ALARM


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera", "rocket"])
def test_unmarked_photos_are_not_detected(photo, name):
    ev = wm.detect(photo(name, 512), keys=[KEY])
    assert not ev.detected and 0 < ev.p_value <= 1


@pytest.mark.parametrize("method, decode", [
    ("dwtDct", _imwatermark.decode_dwtdct), ("dwtDctSvd", _imwatermark.decode_dwtdctsvd)])
def test_vectorised_decoders_match_the_library(photo, method, decode):
    from imwatermark import WatermarkDecoder

    rgb = np.asarray(photo("chelsea", 384))
    marked = _imwatermark.encode(rgb, [1, 0, 1, 1] * 12, method)
    for img in (rgb, marked):
        bgr = np.ascontiguousarray(img[:, :, ::-1], dtype=np.float32)
        lib = np.asarray(WatermarkDecoder("bits", 48).decode(bgr, method), dtype=np.uint8)
        assert np.array_equal(lib, decode(img, 48))


def test_sdxl_pipeline_mark_is_read(photo):
    """diffusers' own SDXL watermarker, applied as its pipelines do, is recognised."""
    import torch
    from diffusers.pipelines.stable_diffusion_xl.watermark import StableDiffusionXLWatermarker

    rgb = np.asarray(photo("astronaut", 512))
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    y = StableDiffusionXLWatermarker().apply_watermark(x)
    out = ((y / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    from PIL import Image

    ev = wm.detect(Image.fromarray(out))
    assert ev.detected and ev.scheme == "sdxl" and ev.content_id is None
    assert not wm.detect(Image.fromarray(rgb)).detected
