"""The C2PA reference fixtures (files other implementations signed, tampered or left bare) read
exactly as ``expected.json`` records, with the fixtures' trust anchors and EKU list, offline."""

from __future__ import annotations

import json

import pytest

from trustgen.credentials.read import read_credentials, read_credentials_file
from trustgen.credentials.trust import TrustConfig


@pytest.fixture(scope="module")
def fixture_trust(c2pa_fixtures):
    trust = c2pa_fixtures / "trust"
    return TrustConfig.from_files([trust / "test_cert_root_bundle.pem"], trust / "store.cfg")


@pytest.fixture(scope="module")
def expected(c2pa_fixtures):
    return json.loads((c2pa_fixtures / "expected.json").read_text())


def test_every_fixture_reads_as_expected(c2pa_fixtures, fixture_trust, expected):
    files = sorted(p.name for p in (c2pa_fixtures / "files").iterdir())
    assert len(files) == 20 and set(expected) <= set(files)
    got, want = {}, {}
    for name, exp in expected.items():
        ev = read_credentials_file(c2pa_fixtures / "files" / name, trust=fixture_trust)
        got[name] = (ev.state, list(ev.codes), list(ev.ingredient_codes))
        want[name] = (exp["state"], exp.get("codes", []), exp.get("ingredient_codes", []))
        if ev.state in ("error", "absent", "remote"):
            assert ev.reason and "\n" not in ev.reason
    assert got == want


def test_errors_carry_c2pa_reason_and_remote_names_the_url(c2pa_fixtures, fixture_trust):
    files = c2pa_fixtures / "files"
    assert read_credentials_file(files / "no_alg.jpg", trust=fixture_trust).reason == "Other: unknown algorithm"
    remote = read_credentials_file(files / "cloud.jpg", trust=fixture_trust)
    assert remote.embedded is False
    assert "https://cai-manifests.adobe.com/manifests/" in remote.reason


def test_trusted_file_reports_signer_generator_and_actions(c2pa_fixtures, fixture_trust):
    ev = read_credentials_file(c2pa_fixtures / "files" / "CA.jpg", trust=fixture_trust)
    assert ev.state == "trusted" and ev.embedded is True
    assert ev.signer.common_name == "C2PA Signer"
    assert ev.signer.organization == "C2PA Test Signing Cert"
    assert ev.signer.issuer == "Intermediate CA"
    assert ev.signer.algorithm == "ps256" and ev.signer.time.startswith("2024-08-06")
    assert ev.claim_generator.startswith("make_test_images/")
    assert ev.actions == ("c2pa.opened", "c2pa.color_adjustments")
    assert [(i.title, i.relationship, i.has_manifest) for i in ev.ingredients] == [("A.jpg", "parentOf", False)]


def test_failing_ingredient_inside_trusted_file_is_reported(c2pa_fixtures, fixture_trust):
    ev = read_credentials_file(c2pa_fixtures / "files" / "CIE-sig-CA.jpg", trust=fixture_trust)
    assert ev.state == "trusted" and ev.codes == ()
    (ing,) = ev.ingredients
    assert (ing.title, ing.relationship, ing.codes) == ("E-sig-CA.jpg", "componentOf", ("claimSignature.mismatch",))


def test_detached_manifest_verifies_its_asset(c2pa_fixtures, fixture_trust):
    files = c2pa_fixtures / "files"
    ev = read_credentials_file(files / "cloud.jpg", trust=fixture_trust, detached=files / "cloud_manifest.c2pa")
    assert ev.state == "valid" and ev.embedded is False
    other = read_credentials((files / "C.jpg").read_bytes(), trust=fixture_trust,
                             detached=(files / "cloud_manifest.c2pa").read_bytes())
    assert other.state == "invalid" and "assertion.dataHash.mismatch" in other.codes


def test_without_anchors_nothing_is_trusted(c2pa_fixtures):
    ev = read_credentials_file(c2pa_fixtures / "files" / "C.jpg", trust=TrustConfig())
    assert ev.state == "valid" and ev.codes == ("signingCredential.untrusted",)


def test_verify_cli_matches_expected_json(c2pa_fixtures, expected):
    """The issue's acceptance check, as a user runs it: `trustgen verify --json` on all 20 files."""
    from click.testing import CliRunner

    from trustgen.cli import cli

    trust = c2pa_fixtures / "trust"
    files = c2pa_fixtures / "files"
    args = ["verify", "--json", "--no-detector", "--trust-anchors", str(trust / "test_cert_root_bundle.pem"),
            "--trust-config", str(trust / "store.cfg")]
    result = CliRunner().invoke(cli, args + sorted(str(p) for p in files.iterdir()))
    assert result.exit_code == 1, result.output  # some files do not pass; c2pa reads them all
    assert "Traceback" not in result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 20
    got = {}
    for line in lines:
        c2pa = line["c2pa"]
        got[line["path"].rsplit("/", 1)[-1]] = (
            c2pa["state"], c2pa["codes"], [code for ing in c2pa["ingredients"] for code in ing["codes"]])
    want = {name: (e["state"], e.get("codes", []), e.get("ingredient_codes", [])) for name, e in expected.items()}
    assert {name: got[name] for name in want} == want

    sidecar = CliRunner().invoke(cli, args + ["--detached", str(files / "cloud_manifest.c2pa"), str(files / "cloud.jpg")])
    assert json.loads(sidecar.stdout)["c2pa"]["state"] == "valid", sidecar.output
