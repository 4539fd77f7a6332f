"""Whatever the file, reading gives a state and a one-line reason, never a traceback."""

from __future__ import annotations

import pytest

from trustgen.credentials.read import read_credentials, read_credentials_file
from trustgen.credentials.sign import sign_image
from trustgen.credentials.trust import TrustConfig


@pytest.fixture(scope="module")
def signed_jpeg(signers, make_image):
    return sign_image(make_image("jpeg"), "jpeg", signers["es256"], source_type="digitalCapture")


def _check(ev, states):
    assert ev.state in states, ev
    assert ev.reason and "\n" not in ev.reason and "Traceback" not in ev.reason


def test_zero_byte_directory_missing_path(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    _check(read_credentials_file(empty, trust=TrustConfig()), {"error"})
    _check(read_credentials_file(tmp_path, trust=TrustConfig()), {"error"})
    missing = read_credentials_file(tmp_path / "nope.png", trust=TrustConfig())
    _check(missing, {"error"})
    assert "nope.png: no such file" in missing.reason


def test_truncated_and_mislabelled_files(tmp_path, signed_jpeg, chains):
    trust = TrustConfig.from_files([chains["es256"].root])
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(signed_jpeg[:-200])  # pixels lost, manifest whole
    ev = read_credentials_file(truncated, trust=trust)
    assert ev.state == "invalid" and "assertion.dataHash.mismatch" in ev.codes
    for keep in (100, 5000):  # cut inside the manifest
        head_only = tmp_path / f"head{keep}.jpg"
        head_only.write_bytes(signed_jpeg[:keep])
        _check(read_credentials_file(head_only, trust=trust), {"error", "absent"})
    wrong_ext = tmp_path / "photo.png"  # a JPEG named .png: the bytes decide
    wrong_ext.write_bytes(signed_jpeg)
    assert read_credentials_file(wrong_ext, trust=trust).state == "trusted"
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all\n")
    _check(read_credentials_file(text, trust=trust), {"error", "absent"})
    assert read_credentials(b"\x00" * 64, trust=trust, fmt="image/jpeg").state in ("error", "absent")


def test_a_format_that_cannot_carry_credentials_has_none(tmp_path):
    """A plain BMP is not "invalid credentials": c2pa cannot hold them there at all."""
    import io

    from PIL import Image

    from trustgen.credentials import TrustConfig, read_credentials
    from trustgen.verify import Verifier

    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 20, 30)).save(buf, "BMP")
    evidence = read_credentials(buf.getvalue(), trust=TrustConfig())
    assert (evidence.state, evidence.reason) == ("absent", "bmp files cannot carry C2PA credentials")
    assert Verifier("default", detector=False).verify_bytes(buf.getvalue()).label == "no-evidence"
