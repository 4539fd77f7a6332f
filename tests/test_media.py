"""Contract tests over the media-format table: a format is tested the moment it is registered.

Each registered format needs a sample below (real bytes: Pillow writes most images; the rest are
the smallest valid containers, built by hand), and every flag it sets is checked against it.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from trustgen import media
from trustgen.errors import InputError

SIZE = (24, 16)


def _photo() -> Image.Image:
    yy, xx = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    return Image.fromarray(np.stack([xx * 10, yy * 15, xx + yy], -1).astype(np.uint8))


def _pillow(name: str, **options) -> bytes:
    buf = io.BytesIO()
    _photo().save(buf, name, **options)
    return buf.getvalue()


def _avif() -> bytes:
    if not features.check("avif"):
        pytest.skip("this Pillow was built without AVIF (libavif), so it cannot write a sample")
    return _pillow("AVIF")


def _psd() -> bytes:  # Pillow reads PSD but cannot write it: header, 3 empty sections, raw planes
    w, h = SIZE
    planes = np.asarray(_photo()).transpose(2, 0, 1).tobytes()
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3) + bytes(12) + bytes(2) + planes


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _isobmff(major: bytes, *compatible: bytes, then: bytes = b"moov") -> bytes:
    return _box(b"ftyp", major + bytes(4) + b"".join(compatible)) + _box(then, bytes(8))


def _riff(form: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + 100) + form + b"LIST" + struct.pack("<I", 92) + bytes(92)


SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="24" height="16"><rect width="24" height="16"/></svg>\n')

def _heif(name: str) -> bytes:
    """pillow-heif writes HEIC; with generic brands in its ``ftyp`` it is a plain HEIF."""
    from pillow_heif import HeifImagePlugin  # noqa: F401 - registers the plugin

    data = _pillow("HEIF", quality=90)
    if name == "heif":
        size = int.from_bytes(data[:4], "big")
        data = data[:8] + b"mif1" + data[12:size].replace(b"heic", b"miaf") + data[size:]
    return data


def _real(name: str):
    """A sample from tests/formats/samples.py (video, audio, documents: real files)."""
    from formats.samples import make  # tests/ is on sys.path

    return lambda: make(name)


SAMPLES = {
    "jpeg": lambda: _pillow("JPEG", quality=90),
    "png": lambda: _pillow("PNG"),
    "webp": lambda: _pillow("WEBP"),
    "gif": lambda: _pillow("GIF"),
    "tiff": lambda: _pillow("TIFF"),
    "avif": _avif,
    "heic": lambda: _heif("heic"),
    "heif": lambda: _heif("heif"),
    "jxl": _real("jxl"),
    "dng": lambda: _pillow("TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"}),  # DNGVersion 1.4
    "nef": lambda: _pillow("TIFF"),
    "arw": lambda: _pillow("TIFF"),
    "svg": lambda: SVG,
    "bmp": lambda: _pillow("BMP"),
    "psd": _psd,
    "mp4": lambda: _isobmff(b"isom", b"isom", b"iso2", b"mp41", then=b"mdat"),
    "mov": lambda: _isobmff(b"qt  ", b"qt  "),
    "avi": lambda: _riff(b"AVI "),
    "m4a": lambda: _isobmff(b"M4A ", b"M4A ", b"mp42", b"isom"),
    "wav": _real("wav"),
    "mp3": lambda: b"ID3\x04" + bytes(6) + (b"\xff\xfb\x90\x64" + bytes(413)) * 3,
    "flac": lambda: b"fLaC\x80\x00\x00\x22" + bytes(34),  # last metadata block: STREAMINFO
    "pdf": lambda: _pillow("PDF"),
    **{name: _real(name) for name in ("docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "oxps",
                                      "odt", "ods", "odp", "odg", "ott", "ots", "otp", "otg",
                                      "epub", "zip", "c2pa")},
}

#: Formats whose bytes are another format's: a DNG is a TIFF until its tags are read.
SNIFFED_AS = {"dng": "tiff", "nef": "tiff", "arw": "tiff"}

ALL = [f.name for f in media.formats()]


def _ids(kind: str) -> list[str]:
    return [f.name for f in media.formats(**{kind: True})]


def test_every_registered_format_has_a_sample():
    assert sorted(SAMPLES) == sorted(ALL), "register a format together with its sample here"


def test_the_table_is_consistent():
    seen: dict[str, str] = {}
    for fmt in media.formats():
        assert fmt.extension == fmt.extensions[0]
        for ext in fmt.extensions:
            assert seen.setdefault(ext, fmt.name) == fmt.name, f"{ext} is claimed twice"
            assert media.format_for_path(f"x{ext.upper()}") == fmt.name
        assert media.lookup(fmt.mime) is media.lookup(fmt.name) is fmt
        assert media.mime_for(fmt.name) == fmt.mime
    with pytest.raises(ValueError, match="already registered: .jpg"):
        media.register_format(media.MediaFormat("jpeg2", "image/x-jpeg2", (".jpg",)))
    with pytest.raises(ValueError, match="through Pillow"):
        media.MediaFormat("raw", "image/x-raw", (".raw",), can_decode=True)


@pytest.mark.parametrize("alias, name", [
    ("jpg", "jpeg"), (".JPEG", "jpeg"), ("image/jpeg", "jpeg"), ("tif", "tiff"),
    ("hif", "heif"), ("image/heif", "heif"), ("m4v", "mp4"), ("apng", "png"), (" WebP ", "webp"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
])
def test_aliases_come_from_the_extensions(alias, name):
    assert media.lookup(alias).name == name


def test_unknown_names():
    assert media.lookup("bogus") is None and media.lookup(None) is None
    assert media.format_for_path("notes.txt") is None
    with pytest.raises(InputError, match="unknown format 'bogus'"):
        media.extension_for("bogus")


@pytest.mark.parametrize("name", ALL)
def test_sniffer_recognises_each_format(name):
    assert media.sniff_format(SAMPLES[name]()) == SNIFFED_AS.get(name, name)


@pytest.mark.parametrize("data", [b"", b"hello, plain text\n", bytes(64), b"<root>not svg</root>",
                                  b"PK\x03\x04" + bytes(40)], ids=["empty", "text", "zeros", "xml", "zip"])
def test_sniffer_names_nothing_it_does_not_know(data):
    assert media.sniff_format(data) is None


@pytest.mark.parametrize("major, compatible, name", [
    (b"isom", (b"isom", b"avc1"), "mp4"), (b"mp42", (b"mp42", b"isom"), "mp4"),
    (b"qt  ", (b"qt  ",), "mov"), (b"M4A ", (b"M4A ", b"isom"), "m4a"),
    (b"heic", (b"mif1", b"heic"), "heic"), (b"mif1", (b"mif1", b"heic"), "heic"),
    (b"avif", (b"mif1", b"avif"), "avif"), (b"mif1", (b"mif1", b"avif"), "avif"),
    (b"mif1", (b"mif1", b"miaf"), "heif"),
])
def test_iso_bmff_brands_are_told_apart(major, compatible, name):
    """The old sniffer called every ftyp box that was not AVIF a HEIC, videos included."""
    assert media.sniff_format(_isobmff(major, *compatible)) == name


@pytest.mark.parametrize("name", _ids("can_decode"))
def test_decodable_formats_decode(name):
    image = media.decode_image(SAMPLES[name](), path=f"sample.{name}")
    assert image.size == SIZE


@pytest.mark.parametrize("name", [n for n in ALL if n not in _ids("can_decode") + list(SNIFFED_AS)])
def test_other_formats_are_refused_by_name(name):
    with pytest.raises(InputError, match=f"x: {name} is not a decodable"):
        media.decode_image(SAMPLES[name](), path="x")


def test_camera_mpo_jpegs_still_decode():  # Pillow reads them through its JPEG plugin
    buf = io.BytesIO()
    _photo().save(buf, "MPO", save_all=True, append_images=[_photo()])
    assert media.sniff_format(buf.getvalue()) == "jpeg"
    assert media.decode_image(buf.getvalue()).size == SIZE


def test_decoding_is_limited_to_the_table():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"  # Pillow would run gs
    with pytest.raises(InputError, match="x.eps: not an image file"):
        media.decode_image(eps, path="x.eps")


@pytest.mark.parametrize("name", _ids("can_encode"))
def test_encodable_formats_round_trip(name):
    data = media.encode_image(_photo().convert("RGBA"), name, quality=90)
    assert media.sniff_format(data) == name
    image = media.decode_image(data)
    assert image.size == SIZE
    assert np.abs(np.asarray(image.convert("RGB"), int) - np.asarray(_photo(), int)).mean() < 4


@pytest.mark.parametrize("name", [n for n in ALL if n not in _ids("can_encode")] + ["bogus"])
def test_other_formats_are_refused_for_encoding(name):
    with pytest.raises(InputError, match=f"cannot write .*{name}.*; trustgen writes jpeg, png, webp"):
        media.encode_image(_photo(), name)


def test_generate_and_cli_ask_the_table():
    from trustgen.cli.generate import generate_command

    choice = next(p for p in generate_command.params if p.name == "fmt").type
    assert tuple(choice.choices) == media.encodable_formats() == ("jpeg", "png", "webp")
    assert media.extension_for("jpeg") == ".jpg"


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    from credentials.pki import make_chain  # tests/ is on sys.path

    from trustgen.credentials.keys import load_signer

    chain = make_chain(tmp_path_factory.mktemp("media-chain"), "es256")
    return load_signer(chain.key, chain.chain)


@pytest.mark.parametrize("name", _ids("can_sign"))
def test_signable_formats_sign_and_verify(name, signer):
    from trustgen.credentials.read import read_credentials
    from trustgen.credentials.sign import sign_image
    from trustgen.credentials.trust import TrustConfig

    signed = sign_image(SAMPLES[name](), name, signer, source_type="digitalCapture")
    assert media.sniff_format(signed) == SNIFFED_AS.get(name, name)
    evidence = read_credentials(signed, trust=TrustConfig())
    assert evidence.state == "valid", evidence.reason


@pytest.mark.parametrize("name", [n for n in ALL if n not in _ids("can_sign")])
def test_other_formats_are_refused_for_signing(name, signer):
    from trustgen.credentials.sign import sign_image
    from trustgen.errors import SigningError

    with pytest.raises(SigningError, match=f"into {name} files; trustgen signs jpeg, png, webp"):
        sign_image(SAMPLES[name](), name, signer, source_type="digitalCapture")


def test_carries_c2pa_and_can_sign_match_what_c2pa_supports():
    import c2pa

    readable = set(c2pa.Reader.get_supported_mime_types())
    writable = set(c2pa.Builder.get_supported_mime_types())
    for fmt in media.formats():
        assert (fmt.mime in readable) == fmt.carries_c2pa, fmt.name
        # c2pa writes a manifest store as a sidecar; it is not an asset to sign
        assert (fmt.mime in writable and fmt.kind != "manifest") == fmt.can_sign, fmt.name
    named = {e.lstrip(".") for f in media.formats() for e in f.extensions}
    missing = {m for m in readable if "/" not in m} - named
    assert not missing, f"c2pa reads formats the table lacks: {sorted(missing)}"


@pytest.mark.parametrize("name", _ids("can_sign"))
def test_c2pa_embeds_and_reads_a_manifest(name, signer):
    """What verify relies on: a manifest in any format the table says c2pa carries reads back."""
    import c2pa

    from trustgen.credentials.sign import IPTC
    from trustgen.credentials.trust import DEFAULT_EKUS

    mime = media.mime_for(name)
    created = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCreation"}
    definition = {"claim_generator_info": [{"name": "trustgen-tests", "version": "1"}],
                  "title": f"sample{media.extension_for(name)}", "format": mime,
                  "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [created]}}]}
    builder = c2pa.Builder(definition, context=c2pa.Context.from_dict({
        "builder": {"thumbnail": {"enabled": False}},
        "trust": {"trust_config": "\n".join(DEFAULT_EKUS) + "\n"},  # else c2pa refuses the EKUs
    }))
    out = io.BytesIO()
    try:
        builder.sign(signer.c2pa_signer(), mime, io.BytesIO(SAMPLES[name]()), out)
    finally:
        builder.close()
    signed = out.getvalue()
    assert media.sniff_format(signed) == SNIFFED_AS.get(name, name)
    with c2pa.Reader(mime, io.BytesIO(signed)) as reader:
        assert json.loads(reader.json())["active_manifest"]


def test_load_reads_sniffs_and_hashes_once(tmp_path, monkeypatch):
    path = tmp_path / "photo.png"  # a JPEG named .png: the bytes win
    path.write_bytes(data := SAMPLES["jpeg"]())
    loaded = media.load(path)
    assert (loaded.path, loaded.data, loaded.format) == (path, data, "jpeg")
    first = loaded.sha256
    monkeypatch.setattr(media, "sha256_hex", lambda _: pytest.fail("hashed twice"))
    assert loaded.sha256 == first == hashlib.sha256(data).hexdigest()
    unknown = tmp_path / "capture.heic"
    unknown.write_bytes(b"not sniffable")
    assert media.load(unknown).format == "heic"  # else the extension
    with pytest.raises(InputError, match="no such file"):
        media.load(tmp_path / "missing.jpg")


def test_one_registration_adds_a_format_everywhere():
    """In a fresh interpreter: register QOI (Pillow reads and writes it) and use it at once."""
    code = """
import io
from PIL import Image
from trustgen import media
media.register_format(media.MediaFormat("qoi", "image/qoi", (".qoi",), pillow="QOI",
                                        can_decode=True, can_encode=True))
data = media.encode_image(Image.new("RGB", (4, 4), (9, 8, 7)), "qoi")
assert media.decode_image(data).getpixel((0, 0)) == (9, 8, 7)
assert media.format_for_path("a.QOI") == "qoi" and media.extension_for("qoi") == ".qoi"
assert "qoi" in media.encodable_formats() and ".qoi" in media.extensions(can_decode=True)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_media_loads_neither_pillow_nor_the_sniffer():
    code = ("import sys, trustgen.media; "
            "print(sorted(m for m in ('PIL', 'filetype', 'c2pa') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parent)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("name", [f.name for f in media.formats() if f.pixels_per_byte])
def test_the_bytes_bound_admits_the_most_compressible_real_file(name):
    """``pixels_per_byte`` refuses header bombs and admits every real file, down to the flattest:
    one grey level, progressive, optimised tables, the smallest Pillow writes."""
    fmt = media.get_format(name)
    buf = io.BytesIO()
    Image.new("L", (2048, 2048), 128).save(buf, fmt.pillow, quality=1, optimize=True,
                                           progressive=True)
    media.probe_image(buf.getvalue())  # 251 pixels a byte for JPEG; the bound is 512


def test_read_file_reads_regular_files_only(tmp_path):
    import socket

    with pytest.raises(InputError, match="is a directory, not an image file"):
        media.read_file(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        with pytest.raises(InputError, match="s: is a socket, not a regular file"):
            media.read_file(tmp_path / "s")
    finally:
        sock.close()
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "photo.png")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    assert media.read_file(link) == b"\x89PNG"  # a link to a regular file is read


def test_a_palette_pillow_cannot_convert_is_the_files_error():
    """Found by the fuzz run: a tRNS chunk longer than the palette makes Pillow's convert raise
    ValueError; decode_image(rgb=True) reports it as the file's one-line error."""
    import io
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (8, 8), 1).save(buf, "PNG")
    png = buf.getvalue()
    at = png.index(b"IDAT") - 4
    body = b"\x00" * 300  # 300 alpha entries for a palette of at most 256
    chunk = len(body).to_bytes(4, "big") + b"tRNS" + body + zlib.crc32(b"tRNS" + body).to_bytes(4, "big")
    hostile = png[:at] + chunk + png[at:]
    try:
        image = media.decode_image(hostile, path="p.png", rgb=True)
    except InputError as err:
        assert str(err).startswith("p.png: ")
    else:
        assert image.mode == "RGB"
