"""detect(key=...), evidence.key and schemes_checked, judging at a bound, configuration errors,
EXIF orientation, embed's read-back."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from trustgen import watermark as wm
from trustgen.errors import WatermarkError
from trustgen.evidence import WatermarkReading
from trustgen.watermark import payload, tiled

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def keyed(astronaut):
    cid = wm.new_content_id()
    return cid, wm.embed(astronaut, cid, key=KEY)


def test_detect_accepts_one_key(keyed):
    cid, marked = keyed
    ev = wm.detect(marked, key=KEY)
    assert ev.detected and ev.content_id == cid
    assert ev.p_value == wm.detect(marked, keys=[KEY]).p_value
    assert not wm.detect(marked).detected  # the public key alone does not read it


def test_detect_key_and_keys_together(keyed):
    cid, marked = keyed
    other = b"another key of at least 16 bytes"
    ev = wm.detect(marked, key=other, keys=[KEY])
    assert ev.detected and ev.content_id == cid
    with pytest.raises(WatermarkError, match="key"):
        wm.detect(marked, key=b"short")


def test_evidence_names_the_key(keyed, astronaut):
    _, marked = keyed
    private = wm.detect(marked, key=KEY)
    assert private.key == "sha256:" + hashlib.sha256(KEY).hexdigest()[:16]
    public = wm.detect(wm.embed(astronaut, wm.new_content_id()), key=KEY)
    assert public.detected and public.key == "public"
    assert wm.detect(astronaut, key=KEY).key is None
    assert wm.key_label(wm.PUBLIC_KEY) == "public"


def test_schemes_checked_is_reported_detected_or_not(keyed, astronaut):
    _, marked = keyed
    assert wm.detect(marked, key=KEY).schemes_checked == wm.DETECT_SCHEMES
    assert wm.detect(astronaut).schemes_checked == wm.DETECT_SCHEMES
    only = wm.detect(astronaut, schemes=["trustgen", "sdxl"])
    assert not only.detected and only.schemes_checked == ("trustgen", "sdxl")
    assert list(only.to_dict()["schemes_checked"]) == ["trustgen", "sdxl"]


def test_a_weak_mark_is_kept_for_a_policy_to_judge(astronaut, monkeypatch):
    """A reading between the default bound and a looser one is reported, not dropped.

    Three tag bits flipped at embedding make a mark whose p-value is known exactly:
    P(Binom(32, 1/2) <= 3) = 1.3e-6 per decode, times 3 decodes and 2 keys = 7.7e-6."""
    pack = payload.pack_info

    def weak(key, content_id):
        bits = pack(key, content_id)
        return bits[:-3] + [1 - b for b in bits[-3:]]

    cid = wm.new_content_id()
    monkeypatch.setattr(payload, "pack_info", weak)
    marked = wm._embed_unchecked(astronaut, cid, key=KEY)
    monkeypatch.undo()

    strict = wm.detect(marked, key=KEY, schemes=["trustgen"])
    assert strict.p_value == pytest.approx(2 * tiled.DECODES * payload.binomial_tail(3, 32))
    assert not strict.detected and strict.max_p_value == wm.FALSE_ALARM
    assert strict.content_id is None and strict.key is None and strict.bit_errors is not None
    assert strict.candidate == WatermarkReading("trustgen", cid, wm.key_label(KEY))
    loose = wm.detect(marked, key=KEY, schemes=["trustgen"], max_p_value=0.05)
    assert loose.detected and loose.content_id == cid and loose.key == wm.key_label(KEY)
    assert strict.judged(0.05) == loose and loose.judged(wm.FALSE_ALARM) == strict
    assert wm.detect(marked, key=KEY, max_p_value=0.05).content_id == cid  # every scheme read


def test_configuration_errors_fail_early_in_one_line(astronaut):
    errors = [
        (lambda: wm.check_schemes(["trustgen", "nope"]), "unknown watermark scheme 'nope'; known: "
         + ", ".join(wm.SCHEMES)),
        (lambda: wm.check_schemes("trustgen"), "list of names"),
        (lambda: wm.check_keys([KEY, b"short"]), "watermark key 2 has 5 bytes; a key needs at least 16"),
        (lambda: wm.check_keys(["a text key of enough length"]), "watermark key 1 is a str, not bytes"),
        (lambda: wm.check_keys(KEY), "list of keys"),
        (lambda: wm.detect(astronaut, schemes=["nope"]), "unknown watermark scheme"),
        (lambda: wm.detect(astronaut, keys=KEY), "list of keys"),
    ]
    for call, message in errors:
        with pytest.raises(WatermarkError) as err:
            call()
        assert message in str(err.value) and "\n" not in str(err.value)
    assert wm.check_schemes(["sdxl", "trustgen", "sdxl"]) == ("sdxl", "trustgen")
    assert wm.check_keys([KEY, bytearray(KEY)]) == (KEY,)


def _exif6(image: Image.Image, fmt: str = "PNG") -> Image.Image:
    """``image`` stored as a camera stores a portrait shot: pixels rotated, EXIF orientation 6."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.transpose(Image.Transpose.ROTATE_90).save(buf, fmt, exif=exif.tobytes())
    buf.seek(0)
    return Image.open(buf)


def test_exif_orientation_is_respected_by_the_library(photo):
    upright = photo("coffee", 512).resize((640, 480))
    cid = wm.new_content_id()
    stored = _exif6(wm.embed(upright, cid, key=KEY))
    assert stored.size == (480, 640)
    ev = wm.detect(stored, key=KEY)
    assert ev.detected and ev.content_id == cid


def test_embed_returns_upright_pixels(photo):
    upright = photo("chelsea", 512).resize((640, 480))
    stored = _exif6(upright, "JPEG")
    cid = wm.new_content_id()
    marked = wm.embed(stored, cid, key=KEY)
    assert marked.size == (640, 480)
    assert marked.getexif().get(0x0112) is None
    ev = wm.detect(marked, key=KEY)
    assert ev.detected and ev.content_id == cid


@pytest.mark.parametrize("mode", ["1", "RGB"])
def test_embed_refuses_an_image_that_cannot_carry_the_mark(mode):
    """Random black-and-white pixels: saturated everywhere and all texture, no room for a mark."""
    bits = np.random.default_rng(0).random((512, 512)) < 0.5
    image = Image.fromarray(bits.astype(np.uint8) * 255).convert("1").convert(mode)
    with pytest.raises(WatermarkError, match="did not read back"):
        wm.embed(image, wm.new_content_id(), key=KEY)


def test_flat_white_and_black_images_do_carry_the_mark():
    for colour in ((255, 255, 255), (0, 0, 0)):
        cid = wm.new_content_id()
        assert wm.detect(wm.embed(Image.new("RGB", (300, 300), colour), cid)).content_id == cid


@pytest.mark.parametrize("mode", ["P", "CMYK", "I;16"])
def test_other_modes_come_back_as_rgb(astronaut, mode):
    src = astronaut.convert("L").convert(mode) if mode == "I;16" else astronaut.convert(mode)
    cid = wm.new_content_id()
    marked = wm.embed(src, cid, key=KEY)
    assert marked.mode == "RGB" and marked.size == src.size
    assert wm.detect(marked, key=KEY).content_id == cid
