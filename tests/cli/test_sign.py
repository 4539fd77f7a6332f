"""`trustgen sign` as a user runs it: keys, passphrases, ingredients, refusals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from credentials.pki import image_bytes, make_chain  # tests/ is on sys.path
from trustgen.cli import cli
from trustgen.credentials.read import read_credentials_file
from trustgen.credentials.trust import TrustConfig


def run(*args, **kw):
    return CliRunner().invoke(cli, list(map(str, args)), **kw)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return make_chain(tmp_path_factory.mktemp("cli-chain") / "ps256", "ps256")


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes("jpeg"))
    return path


def test_sign_with_key_and_cert(photo, chain, tmp_path):
    out = tmp_path / "signed.jpg"
    before = photo.read_bytes()
    result = run("sign", photo, "-o", out, "--key", chain.key, "--cert", chain.chain,
                 "--source-type", "digitalCapture", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["alg"] == "ps256"
    assert photo.read_bytes() == before
    ev = read_credentials_file(out, trust=TrustConfig.from_files([chain.root]))
    assert ev.state == "trusted" and ev.digital_source_type.endswith("/digitalCapture")


def test_sign_with_local_identity_then_edit_with_ingredients(photo, identity, tmp_path, chain):
    first = tmp_path / "first.jpg"
    assert run("sign", photo, "-o", first, "--source-type", "digitalCapture").exit_code == 0
    img = Image.open(first).crop((0, 0, 48, 48))
    edited = tmp_path / "edited.jpg"
    img.save(edited)  # the crop has no credentials; the signed original is its parent
    logo = tmp_path / "logo.png"
    logo.write_bytes(image_bytes("png", seed=4))
    out = tmp_path / "final.jpg"
    result = run("sign", edited, "-o", out, "--ingredient", first, "--relationship", "parentOf",
                 "--ingredient", logo, "--relationship", "componentOf",
                 "--action", "c2pa.cropped:top-left", "--action", "placed")
    assert result.exit_code == 0, result.output
    ev = read_credentials_file(out, trust=TrustConfig.for_identity(identity))
    assert ev.state == "trusted"
    assert ev.actions == ("c2pa.opened", "c2pa.cropped", "c2pa.placed")
    assert [(i.title, i.relationship, i.has_manifest) for i in ev.ingredients] == [
        ("first.jpg", "parentOf", True), ("logo.png", "componentOf", False)]


def test_encrypted_key_prompts_for_passphrase(photo, tmp_path, monkeypatch):
    monkeypatch.delenv("TRUSTGEN_KEY_PASSPHRASE", raising=False)
    enc = make_chain(tmp_path / "enc", "es256", passphrase=b"s3cret")
    out = tmp_path / "out.jpg"
    args = ("sign", photo, "-o", out, "--key", enc.key, "--cert", enc.chain, "--source-type", "digitalCapture")
    wrong = run(*args, input="nope\n")
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.stderr and not out.exists()
    no_answer = run(*args, input="")
    assert no_answer.exit_code == 2 and "TRUSTGEN_KEY_PASSPHRASE" in no_answer.stderr
    right = run(*args, input="s3cret\n")
    assert right.exit_code == 0, right.output
    assert read_credentials_file(out, trust=TrustConfig.from_files([enc.root])).state == "trusted"


def test_refusals_exit_2_and_leave_files_alone(photo, identity, tmp_path):
    out = tmp_path / "out.jpg"
    for extra in ((), ("--overwrite",)):
        same = run("sign", photo, "-o", photo, "--source-type", "digitalCapture", *extra)
        assert same.exit_code == 2 and "would overwrite an input" in same.stderr

    psd = tmp_path / "layers.psd"
    psd.write_bytes(b"8BPS" + b"\0" * 100)
    refused = run("sign", psd, "-o", tmp_path / "x.psd", "--source-type", "digitalCapture")
    assert refused.exit_code == 2
    assert refused.stderr.strip().startswith(f"trustgen: error: {psd}: cannot embed content credentials "
                                             "into psd files; trustgen signs jpeg, png, webp, gif")

    no_type = run("sign", photo, "-o", out)
    assert no_type.exit_code == 2 and "--source-type" in no_type.stderr and not out.exists()

    wrong_ext = run("sign", photo, "-o", tmp_path / "out.png", "--source-type", "digitalCapture")
    assert wrong_ext.exit_code == 2 and "signing does not convert" in wrong_ext.stderr

    out.write_bytes(b"keep me")
    exists = run("sign", photo, "-o", out, "--source-type", "digitalCapture")
    assert exists.exit_code == 2 and "already exists; pass --overwrite" in exists.stderr
    assert out.read_bytes() == b"keep me"
    assert run("sign", photo, "-o", out, "--source-type", "digitalCapture", "--overwrite").exit_code == 0

    missing = run("sign", tmp_path / "nope.jpg", "-o", tmp_path / "n.jpg", "--source-type", "digitalCapture")
    assert missing.exit_code == 2 and "nope.jpg: no such file" in missing.stderr

    pairs = run("sign", photo, "-o", tmp_path / "p.jpg", "--ingredient", photo, "--ingredient", photo,
                "--relationship", "inputTo")
    assert pairs.exit_code == 2 and "one --relationship per --ingredient" in pairs.output
    for result in (same, refused, no_type, wrong_ext, exists, missing):
        assert "Traceback" not in result.output


def test_refused_certificate_is_one_line(photo, tmp_path):
    bad = make_chain(tmp_path / "bad", defect="ca-signer")
    result = run("sign", photo, "-o", tmp_path / "o.jpg", "--key", bad.key, "--cert", bad.chain,
                 "--source-type", "digitalCapture")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "c2pa refuses this signing certificate" in line and "is a CA" in line


def test_unwritable_output_is_one_line_exit_2(photo, identity, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = run("sign", photo, "-o", not_a_folder / "out.jpg", "--source-type", "digitalCapture")
    assert result.exit_code == 2 and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    debug = CliRunner().invoke(cli, ["--debug", "sign", str(photo), "-o", str(not_a_folder / "o.jpg"),
                                     "--source-type", "digitalCapture"])
    assert debug.exit_code == 2


def test_a_broken_ingredient_is_named_by_its_path(photo, identity, tmp_path):
    broken = tmp_path / "parts" / "broken.jpg"
    broken.parent.mkdir()
    broken.write_bytes(image_bytes("jpeg")[:200])
    result = run("sign", photo, "-o", tmp_path / "out.jpg", "--source-type", "digitalCapture",
                 "--ingredient", broken)
    assert result.exit_code == 2 and f"{broken}: ingredient cannot be read" in result.stderr


def test_an_unreachable_time_stamp_authority_is_named_as_such(photo, identity, tmp_path):
    result = run("sign", photo, "-o", tmp_path / "out.jpg", "--source-type", "digitalCapture",
                 "--tsa-url", "http://127.0.0.1:9/")  # loopback, nothing listens on port 9
    assert result.exit_code == 2
    assert "time-stamp authority http://127.0.0.1:9/ did not answer" in result.stderr
    assert "refuses this signing certificate" not in result.stderr
