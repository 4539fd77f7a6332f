"""One identity for every command: an encrypted key works wherever its passphrase is given, and
fails the same one-line way wherever it is not (bug: generate and watermark embed died with a
raw TypeError, because the watermark key was read without the passphrase)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from PIL import Image

from trustgen import watermark
from trustgen.cli import cli
from trustgen.credentials import Identity
from trustgen.verify import Verifier


@pytest.fixture
def encrypted_home(identity, tmp_path):
    """A copy of the session identity whose private key is encrypted with "pw"."""
    home = tmp_path / "home"
    shutil.copytree(identity.home, home)
    key = serialization.load_pem_private_key(identity.key_path.read_bytes(), None)
    (home / identity.key_path.name).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")))
    return home


def run(home, *args, passphrase=None):
    env = {"TRUSTGEN_HOME": str(home), "TRUSTGEN_KEY_PASSPHRASE": passphrase}
    return CliRunner().invoke(cli, list(map(str, args)), env=env, input="")


def test_encrypted_identity_with_its_passphrase_marks_and_generates(
        encrypted_home, identity, sample_photo, tiny_unconditional, tmp_path):
    src = tmp_path / "photo.png"
    sample_photo("flower.jpg").save(src)
    embed = run(encrypted_home, "watermark", "embed", src, "-o", tmp_path / "marked.png",
                "--content-id", "00112233aabb", passphrase="pw")
    assert embed.exit_code == 0, embed.output
    found = watermark.detect(Image.open(tmp_path / "marked.png"), key=identity.watermark_key)
    assert (found.detected, found.content_id) == (True, "00112233aabb")

    made = run(encrypted_home, "generate", "--model", tiny_unconditional, "-n", 1, "--steps", 1,
               "--seed", 3, "--out", tmp_path / "out", passphrase="pw")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "out" / "image-3.png").is_file()

    loaded = Identity.load(encrypted_home, passphrase="pw")
    assert loaded.watermark_key == identity.watermark_key


@pytest.mark.parametrize("command", [
    ("watermark", "embed", "{src}", "-o", "{out}"),
    ("generate", "--model", "{model}", "-n", "1", "--steps", "1", "--out", "{out}"),
    ("keys", "show"),
])
def test_encrypted_identity_without_passphrase_is_one_line(
        encrypted_home, sample_photo, tiny_unconditional, tmp_path, command):
    src = tmp_path / "photo.png"
    sample_photo("flower.jpg").save(src)
    args = [a.format(src=src, out=tmp_path / "o.png" if "embed" in command else tmp_path / "o",
                     model=tiny_unconditional) for a in command]
    result = run(encrypted_home, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("trustgen: error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0])  # after the prompt
    assert "encrypted" in errors[0] and "TRUSTGEN_KEY_PASSPHRASE" in errors[0]
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o").exists()


def test_verifier_uses_the_encrypted_identity_given_its_passphrase(encrypted_home, identity, monkeypatch):
    monkeypatch.setenv("TRUSTGEN_HOME", str(encrypted_home))
    monkeypatch.setenv("TRUSTGEN_KEY_PASSPHRASE", "pw")
    assert identity.watermark_key in Verifier("default", detector=False).watermark_keys
    monkeypatch.delenv("TRUSTGEN_KEY_PASSPHRASE")
    with pytest.raises(Exception, match="encrypted"):
        Verifier("default", detector=False)
