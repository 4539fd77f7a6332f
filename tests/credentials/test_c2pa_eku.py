"""The accepted EKU list is enforced on the signer by trustgen, since c2pa-rs cannot narrow it
(it always adds emailProtection, timeStamping and OCSPSigning): a responder certificate never
signs content, and a list that names only C2PA claim signing means it."""

from __future__ import annotations

import dataclasses
import io
import json

import c2pa
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trustgen.cli import cli
from trustgen.credentials.keys import SignerSpec, callback_signer, load_signer
from trustgen.credentials.read import _context, _leaf_certificate, _signatures, read_credentials
from trustgen.credentials.sign import sign_image
from trustgen.credentials.trust import DEFAULT_EKUS, TrustConfig
from trustgen.errors import SigningError

TIME_STAMPING, OCSP_SIGNING = "1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9"
EMAIL, CLAIM_SIGNING, MICROSOFT = "1.3.6.1.5.5.7.3.4", "1.3.6.1.4.1.62558.2.1", "1.3.6.1.4.1.311.76.59.1.9"


@pytest.fixture(scope="module")
def responders(make_chain_at):
    return {eku: make_chain_at(ekus=(eku,)) for eku in (TIME_STAMPING, OCSP_SIGNING)}


def c2pa_signs(chain) -> SignerSpec:
    """A signer made without trustgen's checks: c2pa itself signs with responder-only leaves."""
    return SignerSpec(alg="es256", chain_pem=chain.chain.read_bytes(), key_pem=chain.key.read_bytes())


def trust(chain, ekus=None) -> TrustConfig:
    return dataclasses.replace(TrustConfig.from_files([chain.root]), eku_oids=ekus)


@pytest.mark.parametrize("eku, name", [(TIME_STAMPING, "timeStamping"), (OCSP_SIGNING, "OCSPSigning")])
def test_a_responder_certificate_is_never_a_trusted_signer(responders, make_image, eku, name):
    signed = sign_image(make_image("png"), "png", c2pa_signs(responders[eku]), source_type="digitalCapture")
    for ekus in (None, (CLAIM_SIGNING,), DEFAULT_EKUS):  # the default list names both responder EKUs
        ev = read_credentials(signed, trust=trust(responders[eku], ekus))
        assert ev.state == "valid" and "signingCredential.untrusted" in ev.codes
        assert f"extended key usage ({name}) is not one accepted for signers" in ev.reason


def test_a_narrowed_list_excludes_what_c2pa_always_adds(make_chain_at, make_image):
    email = make_chain_at(ekus=(EMAIL,))
    signed = sign_image(make_image("png"), "png", load_signer(email.key, email.chain),
                        source_type="digitalCapture")
    assert read_credentials(signed, trust=trust(email)).state == "trusted"
    narrowed = read_credentials(signed, trust=trust(email, (CLAIM_SIGNING,)))
    assert (narrowed.state, narrowed.codes) == ("valid", ("signingCredential.untrusted",))
    assert narrowed.reason.endswith("(emailProtection) is not one accepted for signers (C2PA claim signing)")


def test_cli_and_policy_lists_are_enforced(make_chain_at, make_image, tmp_path):
    email = make_chain_at(ekus=(EMAIL,))
    path = tmp_path / "signed.png"
    path.write_bytes(sign_image(make_image("png"), "png", load_signer(email.key, email.chain),
                                source_type="digitalCapture"))
    (tmp_path / "store.cfg").write_text(f"{CLAIM_SIGNING}\n")
    (tmp_path / "claim-only.toml").write_text(
        f'passing_actions = ["pass"]\n[trust]\nanchors = ["{email.root}"]\nekus = ["{CLAIM_SIGNING}"]\n'
        'local_identity = false\n')

    def verify(*args):
        result = CliRunner().invoke(cli, ["verify", str(path), "--no-detector", "--json", *args])
        assert result.stdout, result.stderr
        return json.loads(result.stdout)

    assert verify("--trust-anchors", str(email.root))["c2pa"]["state"] == "trusted"
    by_flag = verify("--trust-anchors", str(email.root), "--trust-config", str(tmp_path / "store.cfg"))
    by_policy = verify("--policy", str(tmp_path / "claim-only.toml"))
    for verdict in (by_flag, by_policy):
        assert verdict["c2pa"]["state"] == "valid" and verdict["verdict"] == "credentials-untrusted"
        refused = [r for r in verdict["reasons"] if r["code"] == "c2pa.signer-refused"]
        assert len(refused) == 1 and "emailProtection" in refused[0]["text"]


def test_an_ingredient_signed_by_a_responder_is_flagged(responders, chains, make_image):
    parent = sign_image(make_image("jpeg"), "jpeg", c2pa_signs(responders[TIME_STAMPING]),
                        source_type="digitalCapture")
    good = load_signer(chains["es256"].key, chains["es256"].chain)
    edited = sign_image(parent, "jpeg", good, actions=["c2pa.cropped"])
    both = TrustConfig.from_files([chains["es256"].root, responders[TIME_STAMPING].root])
    ev = read_credentials(edited, trust=both)
    assert ev.state == "trusted"
    assert "signingCredential.untrusted" in ev.ingredients[0].codes


@pytest.mark.parametrize("eku, name", [(TIME_STAMPING, "timeStamping"), (OCSP_SIGNING, "OCSPSigning")])
def test_signing_with_a_responder_certificate_is_refused(responders, eku, name, tmp_path, make_image):
    chain = responders[eku]
    with pytest.raises(SigningError) as err:
        load_signer(chain.key, chain.chain)
    assert str(err.value).startswith(f"{chain.chain}: trustgen refuses this signing certificate: ")
    assert f"({name})" in str(err.value) and "\n" not in str(err.value)
    key = serialization.load_pem_private_key(chain.key.read_bytes(), None)
    with pytest.raises(SigningError, match="trustgen refuses this signing certificate"):
        callback_signer(lambda data: key.sign(data, ec.ECDSA(hashes.SHA256())),
                        chain.chain.read_bytes(), alg="es256")

    src, out = tmp_path / "in.png", tmp_path / "out.png"
    src.write_bytes(make_image("png"))
    result = CliRunner().invoke(cli, ["sign", str(src), "-o", str(out), "--key", str(chain.key),
                                      "--cert", str(chain.chain), "--source-type", "digitalCapture"])
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.strip().startswith(f"trustgen: error: {chain.chain}: trustgen refuses")
    assert len(result.stderr.strip().splitlines()) == 1


def test_microsoft_c2pa_signing_is_a_signing_eku(make_chain_at, make_image):
    """c2pa's own trust list names it; signing and trust under the default list both accept it."""
    ms = make_chain_at(ekus=(MICROSOFT,))
    signed = sign_image(make_image("png"), "png", load_signer(ms.key, ms.chain), source_type="digitalCapture")
    assert read_credentials(signed, trust=trust(ms)).state == "trusted"


def test_a_narrowed_list_keeps_time_stamps_valid(c2pa_fixtures):
    """C.jpg's time-stamp is from a DigiCert timeStamping certificate; a list naming only the
    signer's emailProtection still validates it (c2pa checks responders with its own additions)."""
    store = c2pa_fixtures / "trust"
    narrowed = dataclasses.replace(TrustConfig.from_files([store / "test_cert_root_bundle.pem"]),
                                   eku_oids=(EMAIL,))
    ev = read_credentials((c2pa_fixtures / "files" / "C.jpg").read_bytes(), trust=narrowed)
    assert (ev.state, ev.codes) == ("trusted", ())
    assert ev.signer.time and ev.reason is None


def _store_and_serial(path):
    """A fixture's manifest store as c2pa streams it, and the serial c2pa reports for its signer."""
    mime = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[path.suffix[1:]]
    with c2pa.Reader(mime, io.BytesIO(path.read_bytes()), context=_context(TrustConfig())) as reader:
        report = json.loads(reader.json())
        label = report["active_manifest"]
        store = io.BytesIO()
        reader.resource_to_stream(f"self#jumbf=/c2pa/{label}", store)
    serial = report["manifests"][label]["signature_info"]["cert_serial_number"]
    return store.getvalue(), label, int(serial)


@pytest.mark.parametrize("name", ["C.jpg", "CIE-sig-CA.jpg", "boxhash.jpg", "update_manifest.jpg",
                                  "adobe-20220124-E-clm-CAICAI.jpg", "ocsp.jpg"])
def test_the_leaf_read_is_the_certificate_c2pa_verified(c2pa_fixtures, name):
    """Both places c2pa looks: x5chain (33) in the protected header, and the 2022 files' text
    label in the unprotected one (the adobe fixture)."""
    store, label, serial = _store_and_serial(c2pa_fixtures / "files" / name)
    leaf = _leaf_certificate(_signatures(store)[label])
    assert x509.load_der_x509_certificate(leaf).serial_number == serial


def test_a_damaged_signature_gives_no_certificate_and_no_crash(c2pa_fixtures):
    store, label, _ = _store_and_serial(c2pa_fixtures / "files" / "C.jpg")
    cose = _signatures(store)[label]
    damaged = [cose[:cut] for cut in range(0, len(cose), 97)]
    damaged += [cose[:i] + bytes([cose[i] ^ 0xFF]) + cose[i + 1:] for i in range(0, 600, 3)]
    damaged += [b"\x9f" * 100_000, b"\xd8\x12" * 50_000, b"\x84\x40\xa0\xf6\x40"]
    for blob in damaged:
        leaf = _leaf_certificate(blob)
        assert leaf is None or isinstance(leaf, bytes)
    for cut in range(0, len(store), 1013):
        try:
            _signatures(store[:cut])
        except ValueError:
            pass
