"""`trustgen keys init|show` as a user runs them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from trustgen.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_init_show_and_refuse_to_overwrite(tmp_path):
    home = tmp_path / "identity"
    made = run("keys", "init", "--dir", home)
    assert made.exit_code == 0, made.output
    assert f"created a development signing identity in {home}" in made.stdout
    key = home / "signing-key.pem"
    assert (key.stat().st_mode & 0o777) == 0o600
    before = key.read_bytes()

    again = run("keys", "init", "--dir", home)
    assert again.exit_code == 2
    assert again.stderr.strip() == f"trustgen: error: {home}: a signing identity already exists here; pass --force to replace it"
    assert key.read_bytes() == before

    shown = run("keys", "show", "--dir", home, "--json")
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    assert info["trust_anchor"] == str(home / "root-ca.pem") and "trustgen dev signer" in info["subject"]

    forced = run("keys", "init", "--dir", home, "--force")
    assert forced.exit_code == 0 and key.read_bytes() != before


def test_show_without_identity(tmp_path):
    result = run("keys", "show", "--dir", tmp_path / "none")
    assert result.exit_code == 2
    assert "no signing identity in" in result.stderr and "run `trustgen keys init`" in result.stderr
    assert "Traceback" not in result.output


def test_default_home_is_trustgen_home(identity):
    result = run("keys", "show")
    assert result.exit_code == 0, result.output
    assert str(identity.home) in result.stdout
