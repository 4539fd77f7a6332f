"""Signing identities and signers: what c2pa accepts is accepted, what it refuses is refused
up front, in one line, with c2pa's reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from trustgen.credentials import Identity
from trustgen.credentials.keys import callback_signer, load_signer
from trustgen.credentials.read import read_credentials
from trustgen.credentials.sign import sign_image
from trustgen.credentials.trust import TrustConfig
from trustgen.errors import ConfigError, InputError, SigningError

REPO = Path(__file__).resolve().parents[2]


def test_init_identity_makes_a_chain_c2pa_trusts(tmp_path, make_image):
    home = tmp_path / "id"
    ident = Identity.init(home)
    assert ident == Identity.load(home)
    assert (ident.key_path.stat().st_mode & 0o777) == 0o600
    signed = sign_image(make_image("png"), "png", ident.signer(), source_type="digitalCapture")
    ev = read_credentials(signed, trust=TrustConfig.for_identity(ident))
    assert ev.state == "trusted"
    assert ev.signer.organization == "trustgen development (untrusted)"
    assert ev.signer.issuer.startswith("trustgen dev intermediate CA")
    info = ident.describe()
    assert "CN=trustgen dev signer" in info["subject"] and len(info["root_sha256"]) == 64


def test_identity_is_never_replaced_without_force(tmp_path):
    ident = Identity.init(tmp_path)
    before = ident.key_path.read_bytes()
    with pytest.raises(ConfigError, match="already exists here; pass --force"):
        Identity.init(tmp_path)
    assert ident.key_path.read_bytes() == before
    assert Identity.init(tmp_path, force=True).key_path.read_bytes() != before


def test_missing_identity_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match=r"no signing identity in .*; run `trustgen keys init`"):
        Identity.load(tmp_path / "nothing")


def test_watermark_key_is_stable_and_per_identity(tmp_path):
    a, b = Identity.init(tmp_path / "a"), Identity.init(tmp_path / "b")
    assert len(a.watermark_key) == 32 and a.watermark_key == Identity.load(tmp_path / "a").watermark_key
    assert a.watermark_key != b.watermark_key


@pytest.mark.parametrize("defect, c2pa_says, we_say", [
    ("ca-signer", "Signature: the certificate is invalid", "is a CA"),
    ("expired", "not valid at time of signing", "expired on 2020-12-31"),
    ("no-eku", "Signature: the certificate is invalid", "no extended key usage"),
])
def test_certificates_c2pa_refuses_are_refused_up_front(defect, c2pa_says, we_say, make_chain_at):
    bad = make_chain_at(defect=defect)
    with pytest.raises(SigningError) as err:
        load_signer(bad.key, bad.chain)
    message = str(err.value)
    assert message.startswith(f"{bad.chain}: c2pa refuses this signing certificate: ")
    assert c2pa_says in message and we_say in message and "\n" not in message


def test_key_and_certificate_must_match(chains):
    with pytest.raises(SigningError, match="does not match the first certificate"):
        load_signer(chains["es256"].key, chains["ps256"].chain)
    with pytest.raises(SigningError, match="does not fit this key"):
        load_signer(chains["es256"].key, chains["es256"].chain, alg="ps256")
    with pytest.raises(InputError, match="private key not found"):
        load_signer(chains["es256"].key.with_name("nope.pem"), chains["es256"].chain)
    with pytest.raises(SigningError, match="not a PEM private key"):
        load_signer(chains["es256"].chain, chains["es256"].chain)


def test_encrypted_pkcs8_key(make_chain_at, monkeypatch, make_image):
    chain = make_chain_at("es384", passphrase=b"correct horse")
    monkeypatch.delenv("TRUSTGEN_KEY_PASSPHRASE", raising=False)
    with pytest.raises(SigningError, match="encrypted; set TRUSTGEN_KEY_PASSPHRASE"):
        load_signer(chain.key, chain.chain)
    with pytest.raises(SigningError, match="wrong passphrase"):
        load_signer(chain.key, chain.chain, passphrase="wrong")
    assert load_signer(chain.key, chain.chain, passphrase="correct horse").alg == "es384"
    monkeypatch.setenv("TRUSTGEN_KEY_PASSPHRASE", "correct horse")
    signer = load_signer(chain.key, chain.chain)
    ev = read_credentials(sign_image(make_image("webp"), "webp", signer, source_type="digitalCapture"),
                          trust=TrustConfig.from_files([chain.root]))
    assert ev.state == "trusted" and ev.signer.algorithm == "es384"


def test_callback_signers_for_rsa_pss_and_ed25519(chains, make_image):
    for alg, sign in [
        ("ps256", lambda key: lambda data: key.sign(
            data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())),
        ("ed25519", lambda key: key.sign),
    ]:
        key = serialization.load_pem_private_key(chains[alg].key.read_bytes(), None)
        signer = callback_signer(sign(key), chains[alg].chain.read_bytes(), alg=alg)
        ev = read_credentials(sign_image(make_image("jpeg"), "jpeg", signer, source_type="digitalCreation"),
                              trust=TrustConfig.from_files([chains[alg].root]))
        assert (ev.state, ev.signer.algorithm) == ("trusted", alg)


def test_callback_signer_with_wrong_key_is_refused_up_front(chains):
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SigningError, match="c2pa refuses this signing certificate"):
        callback_signer(stranger.sign, chains["ed25519"].chain.read_bytes(), alg="ed25519")


def test_kms_example_runs(tmp_path):
    out = tmp_path / "kms.png"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "kms_signer.py"), str(out)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "C2PA trusted" in proc.stdout and "KMS signing call" in proc.stdout
    assert out.stat().st_size > 0


def test_tsa_url_must_be_http(chains):
    with pytest.raises(SigningError, match="time-stamp authority URL must be http"):
        load_signer(chains["es256"].key, chains["es256"].chain, tsa_url="ftp://tsa.example")
