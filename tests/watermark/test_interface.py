"""embed/detect contract: modes, sizes, ids, keys, p-values."""

import math
import re

import numpy as np
import pytest
from PIL import Image

from trustgen import watermark as wm
from trustgen.errors import WatermarkError
from trustgen.watermark import payload


def test_new_content_id_is_48_bit_hex_and_fresh():
    ids = {wm.new_content_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)


@pytest.mark.parametrize("bad", ["", "xyz", "0123456789abc", "0123456789a"])
def test_bad_content_id_is_refused(astronaut, bad):
    with pytest.raises(WatermarkError, match="content id"):
        wm.embed(astronaut, bad)


@pytest.mark.parametrize("size", [(255, 512), (512, 100)])
def test_small_image_is_refused_not_left_unmarked(size):
    img = Image.new("RGB", size, (120, 80, 40))
    with pytest.raises(WatermarkError, match="at least 256"):
        wm.embed(img, wm.new_content_id())


def test_unknown_scheme_is_refused(astronaut):
    with pytest.raises(WatermarkError, match="unknown watermark scheme"):
        wm.embed(astronaut, wm.new_content_id(), scheme="nope")


def test_rgba_keeps_alpha_and_mark(astronaut):
    rgba = astronaut.copy()
    alpha = Image.fromarray(np.tile(np.arange(512, dtype=np.uint8)[None] // 2, (512, 1)))
    rgba.putalpha(alpha)
    cid = wm.new_content_id()
    marked = wm.embed(rgba, cid)
    assert marked.mode == "RGBA" and marked.size == rgba.size
    assert np.array_equal(np.asarray(marked.getchannel("A")), np.asarray(alpha))
    ev = wm.detect(marked)
    assert ev.detected and ev.content_id == cid


def test_input_image_is_not_modified(astronaut):
    before = np.asarray(astronaut).copy()
    wm.embed(astronaut, wm.new_content_id())
    assert np.array_equal(np.asarray(astronaut), before)


def test_binomial_tail_is_a_p_value():
    assert payload.binomial_tail(0, 32) == 2.0**-32
    assert payload.binomial_tail(32, 32) == 1.0
    for n in (32, 48):
        for k in range(n + 1):
            exact = sum(math.comb(n, j) for j in range(k + 1)) / 2**n
            assert payload.binomial_tail(k, n) == pytest.approx(exact, rel=1e-12)
    rng = np.random.default_rng(0)
    errors = rng.binomial(32, 0.5, size=20000)
    p = np.array([payload.binomial_tail(int(e), 32) for e in errors])
    for a in (0.01, 0.05, 0.2, 0.5):
        assert (p <= a).mean() <= a + 0.01


def test_bad_key_is_refused(astronaut):
    with pytest.raises(WatermarkError, match="key"):
        wm.embed(astronaut, wm.new_content_id(), key=b"short")


@pytest.mark.parametrize("size, mode, checked", [
    ((300, 300), "RGB", wm.DETECT_SCHEMES), ((1000, 100), "RGB", wm.DETECT_SCHEMES),
    ((64, 64), "L", ("trustgen", "sdxl")), ((40, 40), "RGB", ())])
def test_flat_tiny_and_strip_images_read_as_unmarked(size, mode, checked):
    """Schemes that cannot read an image this small are not checked, rather than an error."""
    ev = wm.detect(Image.new(mode, size, 200))
    assert not ev.detected and ev.schemes_checked == checked
    assert ev.p_value > 0.01 if checked else ev.p_value is None


@pytest.mark.parametrize("mode", ["1", "L", "La", "P", "I;16", "F", "CMYK", "LAB", "YCbCr"])
def test_any_mode_is_read(photo, mode):
    rgb = photo("coffee", 128)
    src = {"La": lambda: rgb.convert("LA").convert("La"),
           "I;16": lambda: rgb.convert("L").convert("I;16")}.get(mode, lambda: rgb.convert(mode))()
    ev = wm.detect(src, schemes=wm.SCHEMES)
    assert not ev.detected and "trustgen" in ev.schemes_checked


def test_extreme_aspect_and_flat_black_images_carry_the_mark():
    for img in (Image.new("RGB", (256, 2048), (128, 128, 128)), Image.new("RGB", (300, 300))):
        cid = wm.new_content_id()
        ev = wm.detect(wm.embed(img, cid))
        assert ev.detected and ev.content_id == cid


def test_detect_is_thread_safe(photo):
    from concurrent.futures import ThreadPoolExecutor

    images, ids = [], []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        ids.append(wm.new_content_id())
        images.append(wm.embed(photo(name, 320), ids[-1]))
    images += [photo("brick", 320), photo("camera", 320)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda im: wm.detect(im), images * 2))
    assert [r.content_id for r in results] == (ids + [None, None]) * 2


def test_a_palette_pillow_cannot_convert_is_a_watermark_error():
    """Found by the 1,000,000-input fuzz run: a tRNS chunk longer than the palette made
    ``detect`` raise Pillow's ValueError instead of trustgen's one-line error."""
    import io
    import zlib

    buf = io.BytesIO()
    Image.new("P", (300, 300), 1).save(buf, "PNG")
    png = buf.getvalue()
    at = png.index(b"IDAT") - 4
    body = b"\x00" * 300
    chunk = len(body).to_bytes(4, "big") + b"tRNS" + body + zlib.crc32(b"tRNS" + body).to_bytes(4, "big")
    image = Image.open(io.BytesIO(png[:at] + chunk + png[at:]))
    image.load()
    with pytest.raises(WatermarkError, match="cannot be converted"):
        wm.detect(image)
