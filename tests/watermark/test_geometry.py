"""trustgen's mark after geometric changes (rotation, mirror, perspective, screenshot), and its
public layer read without the key."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from trustgen import watermark as wm

KEY = bytes(range(100, 132))
CID = "5eed0f1e2d3c"


def _perspective(img, corners):
    """The image warped so its corners move by ``corners`` (4 x 2, fractions of the side)."""
    import cv2

    w, h = img.size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + np.float32(corners) * min(w, h)
    out = cv2.warpPerspective(np.asarray(img), cv2.getPerspectiveTransform(src, dst), (w, h),
                              flags=cv2.INTER_CUBIC)
    return Image.fromarray(out)


def _screenshot(img):
    """Shown at 80% on a page: rescaled, inside a 40 px white border."""
    small = img.resize((round(img.width * 0.8), round(img.height * 0.8)), Image.BICUBIC)
    page = Image.new("RGB", (small.width + 80, small.height + 80), "white")
    page.paste(small, (40, 40))
    return page


def _rotated_and_cropped(img, angle):
    """Rotated, then cut to the square inside the rotated frame (a straightened photo)."""
    turned = img.rotate(angle, Image.BICUBIC, expand=True)
    a = np.deg2rad(abs(angle))
    side = int(img.width / (np.cos(a) + np.sin(a))) - 2
    x, y = (turned.width - side) // 2, (turned.height - side) // 2
    return turned.crop((x, y, x + side, y + side))


COPIES = {
    "rotated 10 degrees, black border": lambda im: im.rotate(10, Image.BICUBIC, expand=True),
    "rotated 30 degrees, cropped": lambda im: _rotated_and_cropped(im, 30),
    "turned a quarter and mirrored": lambda im: ImageOps.mirror(im.rotate(90, expand=True)),
    "mirrored": ImageOps.mirror,
    "perspective, corners moved 2%": lambda im: _perspective(
        im, [[0.02, 0.0], [0.0, 0.02], [-0.02, -0.01], [0.01, -0.02]]),
    "screenshot": _screenshot,
    "squashed to 80% height": lambda im: im.resize((im.width, round(im.height * 0.8)),
                                                   Image.BICUBIC),
}


@pytest.fixture(scope="module")
def marked(astronaut):
    return wm.embed(astronaut, CID, key=KEY)


@pytest.mark.parametrize("copy", list(COPIES))
def test_geometric_copies_keep_the_content_id(marked, copy):
    ev = wm.detect(COPIES[copy](marked), keys=[KEY], schemes=["trustgen"])
    assert ev.detected and ev.content_id == CID and ev.p_value <= wm.FALSE_ALARM


def test_the_public_layer_names_the_issuer_without_the_key(marked):
    reading = wm.detect_public(marked)
    assert reading.present and reading.issuer == wm.issuer_id(KEY)
    assert reading.p_value <= wm.FALSE_ALARM
    turned = wm.detect_public(COPIES["rotated 10 degrees, black border"](marked))
    assert turned.present and turned.issuer == wm.issuer_id(KEY)
    # the key-less reader learns the issuer, never the content id: that needs the key
    assert not wm.detect(marked, keys=[bytes(32)], schemes=["trustgen"]).detected


def test_the_public_payload_checks_itself():
    from trustgen.watermark import payload

    bits = payload.pack_public(wm.issuer_id(KEY))
    assert payload.unpack_public(bits) == (wm.issuer_id(KEY), 0)
    flipped = bits[:-1] + [1 - bits[-1]]
    assert payload.unpack_public(flipped) == (wm.issuer_id(KEY), 1)


def test_issuer_ids_differ_per_key_and_the_public_key_has_its_own():
    assert wm.issuer_id(KEY) != wm.issuer_id(bytes(32))
    assert len(wm.issuer_id(KEY)) == 6 and int(wm.issuer_id(KEY), 16) >= 0
    assert wm.issuer_id(wm.PUBLIC_KEY) != wm.issuer_id(KEY)


def test_unmarked_rotated_and_warped_images_are_not_detected(photo):
    """A small false-alarm sample over the new hypotheses; the benchmark runs >= 10,000."""
    ps = []
    for name in ("astronaut", "brick", "coffee"):
        base = photo(name, 384)
        for view in (base.rotate(7, Image.BICUBIC, expand=True), _rotated_and_cropped(base, 25),
                     ImageOps.mirror(base), _screenshot(base),
                     _perspective(base, [[0.03, 0.0], [0.0, 0.03], [-0.03, 0.0], [0.0, -0.03]])):
            ev = wm.detect(view, keys=[KEY])
            public = wm.detect_public(view)
            assert not ev.detected and not public.present and public.issuer is None
            ps += [ev.p_value, public.p_value]
    assert min(ps) > 1e-4
