"""The resource budget (issue 16): every input bounded in memory and time, or refused by name.

Small, fast versions of the audit's hostile files (benchmarks/hostile_inputs.py runs them at
full size): extreme aspect ratios, header bombs, FIFOs and devices, images over the budget,
killed writes, a damaged manifest chunk, junk EXIF. Anything that blocked or exhausted memory
before runs in a child process with a timeout and an address-space cap.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from fuzz.mutations import png_flat
from trustgen import media
from trustgen.errors import InputError


def traced_peak(call):
    """``call()``'s result and the peak of Python-visible allocations while it ran (numpy's
    arrays included), in bytes."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def photo(size=(96, 64)) -> Image.Image:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BICUBIC)


def header_bomb(width: int = 8000, height: int = 8000) -> bytes:
    """A real 16 x 16 JPEG whose frame header claims ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), (50, 60, 70)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


@pytest.fixture()
def budget():
    """Set a smaller budget for one test (``budget(max_pixels=...)``), restored after it."""
    old = media.budget()
    yield lambda **limits: media.set_budget(media.Budget(**limits))
    media.set_budget(old)


@pytest.fixture(scope="module")
def verifier():
    from trustgen.verify import Verifier

    return Verifier("default")  # the shipped detector on, as in the audit


def child(code: str, *, timeout: float = 30, cap_gb: float = 3) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose address space is capped (so the old code, which
    read /dev/zero until memory ran out, fails instead of taking the machine down)."""
    import resource

    def cap():
        limit = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap, cwd=tempfile.gettempdir())


# -- extreme aspect ratios (defect 1) ----------------------------------------------------------

def test_a_one_pixel_wide_png_is_an_error_verdict_naming_the_aspect_ratio(verifier):
    data = png_flat(1, 1_000_000)  # the audit's was 1 x 60,000,000: 22 GB, then the OOM killer
    start = time.perf_counter()
    verdict = verifier.verify_bytes(data, filename="strip.png")
    assert time.perf_counter() - start < 1.0
    assert verdict.label == "error"
    limit = media.budget().max_aspect
    assert verdict.evidence.error == (
        f"strip.png: image is 1x1000000: aspect ratio over the 1:{limit} limit")


def test_the_aspect_limit_is_the_budgets(budget):
    wide = encoded(Image.new("RGB", (90, 10)), "PNG")
    assert media.decode_image(wide).size == (90, 10)
    budget(max_aspect=8)
    with pytest.raises(InputError, match=r"x.png: image is 90x10: aspect ratio over the 1:8 limit"):
        media.decode_image(wide, path="x.png")


def test_detector_crops_cost_the_crops_not_the_image():
    """The detector padded the whole image to 64 px a side before cropping: 7 GB for the audit's
    1 x 16,000,000 PNG. Crops are now cut first, then padded, with the same pixels."""
    from detectors.model import SyntheticImageDetector, _pad_to

    det = SyntheticImageDetector(input_size=64, crop_grid=3)
    strip = Image.new("L", (200_000, 1), 7)
    crops, peak = traced_peak(lambda: det._crops(strip))
    assert crops.shape == (9, 64, 64, 3) and (crops == 7).all()
    assert peak < 1_000_000  # the whole strip, padded: 38 MB

    for size, mode in [((10, 3), "RGB"), ((3, 100), "L"), ((100, 70), "RGB"), ((64, 20), "P")]:
        image = photo(size).convert(mode)
        padded = _pad_to(np.asarray(image.convert("RGB")), 64)  # pad whole, then crop: the rule
        h, w = padded.shape[:2]
        ys, xs = np.linspace(0, h - 64, 3).astype(int), np.linspace(0, w - 64, 3).astype(int)
        expected = np.stack([padded[y:y + 64, x:x + 64] for y in ys for x in xs])
        assert np.array_equal(det._crops(image), expected), (size, mode)


# -- large images: bounded reading (defect 2) --------------------------------------------------

def test_watermark_reading_holds_no_float_copy_of_the_image():
    """Reading held float copies of the whole image (1.5 GB of the 3 GB an 8192 x 8192 PNG took);
    now a band of rows at a time, and trustgen's reader on its working grid."""
    from trustgen import watermark

    image = photo((2048, 1536))
    pixels = 2048 * 1536
    evidence, peak = traced_peak(lambda: watermark.detect(image))
    assert evidence.schemes_checked == watermark.DETECT_SCHEMES
    # the RGB array (3 bytes a pixel), the dwtDct blocks (1), bands and the working grid; the
    # old code took 27 bytes a pixel here (85 MB)
    assert peak < 4 * pixels + 20 * 2**20


def test_watermark_embed_holds_no_float_copy_of_the_image():
    from trustgen import watermark

    image = photo((2048, 1536))
    pixels = 2048 * 1536
    marked, peak = traced_peak(lambda: watermark.embed(image, "0123456789ab"))
    assert watermark.detect(marked).content_id == "0123456789ab"
    # the RGB array and the result (3 bytes a pixel each), the upsampled tile in float32 (4),
    # bands; the old code took 63 bytes a pixel here (198 MB)
    assert peak < 10 * pixels + 20 * 2**20


def test_webp_pixels_count_at_their_decoders_cost(budget):
    """libwebp's animation decoder, the only one Pillow uses, needs 4x the decoded image: a
    16383 x 4096 WebP of 2.6 KB took 2.8 GB."""
    budget(max_pixels=40_000)
    png = encoded(Image.new("RGB", (200, 200)), "PNG")
    webp = encoded(Image.new("RGB", (200, 200)), "WEBP", lossless=True)
    assert media.decode_image(png).size == (200, 200)
    with pytest.raises(InputError, match="image is 200x200, over the 10000 pixel limit for webp"):
        media.decode_image(webp, path="x.webp")


def test_the_pixel_limit_is_checked_from_the_header(budget):
    budget(max_pixels=10_000)
    with pytest.raises(InputError, match=r"image is 200x200, over the 10000 pixel limit$"):
        media.decode_image(png_flat(200, 200))


# -- header bombs ------------------------------------------------------------------------------

def test_a_jpeg_header_bomb_is_refused_before_decoding(verifier):
    """633 bytes claiming 8000 x 8000: libjpeg fills the missing data with grey, so it decoded
    (2.7 GB, 26 s) and ``trustgen sign`` accepted it."""
    bomb = header_bomb()
    message = f"image is 8000x8000, more than its {len(bomb)} bytes can hold"
    with pytest.raises(InputError, match=f"bomb.jpg: {message}"):
        media.probe_image(bomb, path="bomb.jpg")
    with pytest.raises(InputError, match=message):
        media.decode_image(bomb)
    start = time.perf_counter()
    verdict = verifier.verify_bytes(bomb, filename="bomb.jpg")
    assert verdict.label == "error" and message in verdict.evidence.error
    assert time.perf_counter() - start < 1.0
    whole = encoded(photo((1024, 768)), "JPEG", quality=90)
    media.probe_image(whole)  # a real JPEG is nowhere near the bound
    flat = encoded(Image.new("L", (2048, 2048)), "JPEG", quality=10, optimize=True)
    media.probe_image(flat)  # nor a flat one, the most compressible there is


def test_sign_refuses_a_header_bomb(identity, tmp_path):
    from click.testing import CliRunner

    from trustgen.cli import cli

    src = tmp_path / "bomb.jpg"
    src.write_bytes(header_bomb())
    out = tmp_path / "signed.jpg"
    result = CliRunner().invoke(cli, ["sign", str(src), "-o", str(out),
                                      "--source-type", "digitalCapture"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"trustgen: error: {src}: image is 8000x8000, more than its")
    assert not out.exists()


# -- files that are not files (defect 8) -------------------------------------------------------

def test_verify_refuses_a_fifo_at_once(tmp_path):
    """``trustgen verify FIFO`` waited forever for a writer."""
    fifo = tmp_path / "upload.png"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "trustgen", "verify", "--no-detector", str(fifo)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert f"trustgen: error: {fifo}: is a named pipe (FIFO), not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_dev_zero_is_refused_without_reading_it():
    """``trustgen verify /dev/zero`` read until memory ran out."""
    done = child("from trustgen.media import read_file\n"
                 "try:\n    read_file('/dev/zero')\nexcept Exception as err:\n    print(err)")
    assert done.stdout.strip() == "/dev/zero: is a device, not a regular file", done.stderr


def test_files_over_the_size_limit_are_refused_unread(budget, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(bytes(5000))
    budget(max_file_bytes=4096)
    with pytest.raises(InputError, match=r"big.png: file is 5000 bytes, over the 4096 bytes limit"):
        media.read_file(big)
    with pytest.raises(InputError, match="is a directory"):
        media.read_file(tmp_path)


# -- killed writes (defect 8) ------------------------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from trustgen import media
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # killed mid-write
media.atomic_write(sys.argv[1], b"x" * 1000)
"""


def test_a_killed_writes_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(target)], cwd=tmp_path,
                          timeout=60)
    assert done.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".report.html.*.part")  # what a killed process leaves
    fresh = tmp_path / ".report.html.abcdefgh.part"  # another writer's, in progress
    fresh.write_bytes(b"in progress")
    other = tmp_path / ".other.html.ijklmnop.part"
    other.write_bytes(b"not this target's")
    hours_ago = time.time() - media.STALE_PART_AGE - 60
    for path in (left, other):
        os.utime(path, (hours_ago, hours_ago))
    media.atomic_write(target, b"done")
    assert target.read_bytes() == b"done"
    assert not left.exists()
    assert fresh.exists() and other.exists()


def test_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        media.atomic_write(tmp_path / "out.png", b"data")
    assert list(tmp_path.iterdir()) == []


# -- damaged metadata never hides the pixels ---------------------------------------------------

@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    from credentials.pki import make_chain  # tests/ is on sys.path

    from trustgen.credentials.keys import load_signer

    chain = make_chain(tmp_path_factory.mktemp("budget-chain"), "es256")
    return load_signer(chain.key, chain.chain)


def test_a_png_whose_manifest_chunk_has_a_bad_crc_still_decodes(signer, verifier):
    """The only damage is the CRC of the C2PA chunk (caBX): Pillow refuses the whole file for
    it, and the image was reported as "png is not a decodable raster format"."""
    from trustgen.credentials.sign import sign_image

    original = photo()
    signed = bytearray(sign_image(encoded(original, "PNG"), "png", signer,
                                  source_type="digitalCapture"))
    at = signed.find(b"caBX")
    assert 0 < at < signed.find(b"IDAT")
    signed[at + 4 + 100] ^= 0xFF  # inside the manifest; its CRC no longer matches
    decoded = media.decode_image(bytes(signed))
    assert np.array_equal(np.asarray(decoded), np.asarray(original))
    verdict = verifier.verify_bytes(bytes(signed), filename="damaged.png")
    assert verdict.evidence.error is None and verdict.evidence.watermark is not None
    with pytest.raises(InputError, match="cannot decode image: not a valid png file"):
        media.decode_image(bytes(signed).replace(b"IHDR", b"IHDX"))  # a critical chunk


def jpeg_with_junk_exif(image: Image.Image) -> bytes:
    """A JPEG with a JFIF density (so Pillow does not parse EXIF while opening) and 100 bytes of
    junk in an Exif APP1 segment."""
    data = encoded(image, "JPEG", quality=95, dpi=(300, 300))
    junk = b"Exif\x00\x00" + bytes(np.random.default_rng(5).integers(0, 256, 94, dtype=np.uint8))
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    at = data.find(b"\xff\xdb")  # before the quantisation tables
    return data[:at] + app1 + data[at:]


def test_junk_exif_leaves_the_pixels_decodable():
    """100 bytes of junk in APP1 made decode_image raise "not a TIFF file": the credentials
    already read were thrown away and the image was an ``error``."""
    image = photo()
    data = jpeg_with_junk_exif(image)
    plain = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    decoded = media.decode_image(data, path="junk.jpg")
    assert np.array_equal(np.asarray(decoded), plain)  # as stored: the orientation is unknown


def test_watermark_reads_an_image_with_junk_exif():
    from trustgen import watermark

    opened = Image.open(io.BytesIO(jpeg_with_junk_exif(photo((320, 320)))))
    assert watermark.detect(opened).schemes_checked == watermark.DETECT_SCHEMES


def test_a_real_orientation_is_still_applied_once():
    from trustgen import watermark

    exif = Image.Exif()
    exif[media.ORIENTATION] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    data = encoded(photo((96, 64)), "JPEG", exif=exif.tobytes())
    upright = media.decode_image(data)
    assert upright.size == (64, 96)
    assert media.upright(upright) is upright  # applying it again changes nothing
    rgb, _mode, _alpha = watermark._split(upright)
    assert rgb.shape == (96, 64, 3)
