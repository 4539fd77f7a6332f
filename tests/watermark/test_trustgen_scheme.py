"""trustgen's own scheme: robustness to the web's handling, keys, greyscale, false alarms."""

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from trustgen import watermark as wm

KEY = bytes(range(1, 33))


def _jpeg(img, quality):
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def _crop(img, keep):
    w, h = round(img.width * keep), round(img.height * keep)
    x, y = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((x, y, x + w, y + h))


ATTACKS = {
    "jpeg50": lambda im: _jpeg(im, 50),
    "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.BICUBIC),
    "crop 80%": lambda im: _crop(im, 0.8),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(1)),
    "crop, shrink, jpeg": lambda im: _jpeg(
        _crop(im, 0.9).resize((round(im.width * 0.675),) * 2, Image.BICUBIC), 75),
}


@pytest.fixture(scope="module")
def marked(astronaut):
    cid = wm.new_content_id()
    return cid, wm.embed(astronaut, cid, key=KEY)


def test_default_scheme_is_trustgen_and_psnr_is_about_40db(astronaut, marked):
    assert wm.DEFAULT_SCHEME == "trustgen"
    a = np.asarray(astronaut, dtype=float)
    b = np.asarray(marked[1], dtype=float)
    psnr = 10 * np.log10(255**2 / np.mean((a - b) ** 2))
    assert 39.9 < psnr < 41


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_payload_survives(marked, attack):
    cid, img = marked
    ev = wm.detect(ATTACKS[attack](img), keys=[KEY], schemes=["trustgen"])
    assert ev.detected and ev.content_id == cid and ev.scheme == "trustgen"
    assert ev.p_value <= wm.FALSE_ALARM


def test_without_the_key_the_id_is_not_read(marked):
    ev = wm.detect(marked[1], keys=[bytes(32)], schemes=["trustgen"])
    assert not ev.detected and ev.content_id is None


def test_greyscale_and_non_square(photo):
    img = photo("camera", 512).convert("L").crop((0, 0, 512, 300))
    cid = wm.new_content_id()
    marked = wm.embed(img, cid)
    assert marked.mode == "L" and marked.size == (512, 300)
    ev = wm.detect(marked)
    assert ev.detected and ev.content_id == cid


def test_unmarked_crops_and_rescales_are_not_detected(photo):
    """A small false-alarm sample; the benchmark runs >= 10,000."""
    ps = []
    for name in ("astronaut", "brick", "grass", "coffee", "retina"):
        base = photo(name, 512)
        for view in (base, _crop(base, 0.8), base.resize((300, 300)), _jpeg(base, 60)):
            ev = wm.detect(view, keys=[KEY])
            assert not ev.detected
            ps.append(ev.p_value)
    assert min(ps) > 1e-4
