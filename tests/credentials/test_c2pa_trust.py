"""Trust configurations: explicit files, clear errors, unions."""

from __future__ import annotations

import pytest

from trustgen.credentials.trust import DEFAULT_EKUS, TrustConfig
from trustgen.errors import ConfigError


def test_from_files_reads_anchors_and_eku_list(c2pa_fixtures, tmp_path):
    trust = c2pa_fixtures / "trust"
    cfg = TrustConfig.from_files([trust / "test_cert_root_bundle.pem"], trust / "store.cfg")
    assert cfg.anchor_count == (trust / "test_cert_root_bundle.pem").read_text().count("BEGIN CERTIFICATE")
    assert cfg.eku_oids[:2] == ("1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.36")
    assert not cfg.allow_remote and not cfg.ocsp
    assert TrustConfig().c2pa_settings()["verify"] == {
        "verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False}
    assert "trust_anchors" not in TrustConfig().c2pa_settings()["trust"]


def test_bad_trust_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="trust anchor file not found"):
        TrustConfig.from_files([tmp_path / "missing.pem"])
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ConfigError, match="no PEM certificate"):
        TrustConfig.from_files([junk])
    cfg = tmp_path / "store.cfg"
    cfg.write_text("// comment\n1.3.6.1.5.5.7.3.4\nemailProtection\n")
    with pytest.raises(ConfigError, match=r"line 3: 'emailProtection' is not an OID"):
        TrustConfig.from_files([], cfg)


def test_merged_is_a_union(chains):
    a = TrustConfig.from_files([chains["es256"].root])
    b = TrustConfig.from_files([chains["ps256"].root, chains["es256"].root], allow_remote=True)
    m = a.merged(b)
    assert m.anchor_count == 2 and m.allow_remote and m.accepted_ekus == DEFAULT_EKUS
    assert m == b.merged(a).__class__(m.anchors_pem, m.eku_oids, True, False)
    assert hash(m) == hash(a.merged(b))


def test_cli_trust_config_narrows_the_accepted_ekus(make_chain_at, make_image, tmp_path):
    """--trust-config replaces the EKU list, so it can exclude a signer's usage."""
    import json

    from click.testing import CliRunner

    from trustgen.cli import cli
    from trustgen.credentials.keys import load_signer
    from trustgen.credentials.sign import sign_image

    doc_signing = make_chain_at(ekus=("1.3.6.1.5.5.7.3.36",))  # documentSigning alone
    path = tmp_path / "signed.png"
    path.write_bytes(sign_image(make_image("png"), "png", load_signer(doc_signing.key, doc_signing.chain),
                                source_type="digitalCapture"))
    email_only = tmp_path / "store.cfg"
    email_only.write_text("1.3.6.1.5.5.7.3.4\n")

    def state(*extra):
        args = ["verify", str(path), "--no-detector", "--json", "--trust-anchors", str(doc_signing.root), *extra]
        return json.loads(CliRunner().invoke(cli, args).stdout)["c2pa"]["state"]

    assert state() == "trusted"
    assert state("--trust-config", str(email_only)) != "trusted"


def test_a_corrupt_pem_block_is_an_error_naming_its_line(chains, tmp_path):
    good = chains["es256"].root.read_text()
    lines = good.splitlines()
    corrupt = "\n".join(lines[:3] + ["!!!!" + lines[3][4:]] + lines[4:]) + "\n"
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(good + "# a comment\n" + corrupt + chains["ps256"].root.read_text())
    block_line = len(good.splitlines()) + 2
    with pytest.raises(ConfigError) as err:
        TrustConfig.from_files([bundle])
    assert str(err.value) == f"{bundle}: line {block_line}: PEM certificate block is not a readable certificate"
    bundle.write_text(good + good.split("-----END")[0])  # the second block cut off
    with pytest.raises(ConfigError, match=rf"^{bundle}: line {len(lines) + 1}: PEM certificate block has no END"):
        TrustConfig.from_files([bundle])
    bundle.write_text(good.replace("-----END CERTIFICATE-----\n", "") + good)  # an END lost
    with pytest.raises(ConfigError, match=r": line 1: PEM certificate block has no END"):
        TrustConfig.from_files([bundle])
