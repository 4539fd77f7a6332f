"""Time stamps against a real RFC 3161 authority on 127.0.0.1 (tests/tsa_server.py).

The clock is moved honestly: the signing certificate is issued to expire a few seconds after
signing, and the manifests are read again once it has.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec

from credentials.pki import Chain, _cert, _name, _pem, image_bytes
from trustgen.cli import cli
from trustgen.config import load_config
from trustgen.credentials.keys import load_signer
from trustgen.credentials.read import read_credentials, read_credentials_file
from trustgen.credentials.sign import sign_image
from trustgen.credentials.timestamp import FIRST_DELAY_S, TRIES, TimeStampError
from trustgen.credentials.trust import TrustConfig
from trustgen.errors import ConfigError
from tsa_server import TimeStampAuthority, unused_port_url

#: Seconds the short-lived signing certificate stays valid: room to sign and read twice.
LIFETIME_S = 6
#: Every wait between tries, added up.
BACKOFF_S = sum(FIRST_DELAY_S * 2 ** i for i in range(TRIES - 1))


def run(*args, **kw):
    return CliRunner().invoke(cli, list(map(str, args)), **kw)


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    with TimeStampAuthority(tmp_path_factory.mktemp("tsa")) as tsa:
        yield tsa


@pytest.fixture
def tsa(authority):
    """The module's authority, answering normally and with its request count at zero."""
    authority.fail_next, authority.fail_status, authority.fail_type = 0, 503, "text/plain"
    authority.requests = 0
    return authority


def short_lived_chain(folder: Path, seconds: int) -> tuple[Chain, dt.datetime]:
    """root -> intermediate -> a leaf that expires ``seconds`` from now."""
    from cryptography.hazmat.primitives import serialization

    now = dt.datetime.now(dt.timezone.utc)
    root_key, int_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("short-lived root", root_key, _name("short-lived root"), root_key, ca=True, days=3650)
    inter = _cert("short-lived intermediate", int_key, root.subject, root_key, ca=True, days=3650)
    start = now - dt.timedelta(hours=1)
    lifetime = (now + dt.timedelta(seconds=seconds) - start) / dt.timedelta(days=1)
    leaf = _cert("short-lived signer", leaf_key, inter.subject, int_key, ca=False, start=start,
                 days=lifetime)
    chain = Chain(folder / "key.pem", folder / "chain.pem", folder / "root.pem")
    chain.key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    chain.chain.write_bytes(_pem(leaf, inter))
    chain.root.write_bytes(_pem(root))
    return chain, leaf.not_valid_after_utc


def test_a_time_stamp_keeps_credentials_trusted_after_the_signing_certificate_expires(tsa, tmp_path):
    chain, expires = short_lived_chain(tmp_path, LIFETIME_S)
    photo = image_bytes("png")
    stamped = sign_image(photo, "png", load_signer(chain.key, chain.chain, tsa_url=tsa.url),
                         source_type="digitalCapture")
    plain = sign_image(photo, "png", load_signer(chain.key, chain.chain), source_type="digitalCapture")
    assert tsa.requests == 2  # the signer's check, then the signature
    trust = TrustConfig.from_files([chain.root, tsa.root])
    before = [read_credentials(data, trust=trust) for data in (stamped, plain)]
    assert dt.datetime.now(dt.timezone.utc) < expires, "signing took longer than the leaf lived"
    assert [e.state for e in before] == ["trusted", "trusted"]
    assert before[0].signer.time is not None and before[1].signer.time is None

    time.sleep((expires - dt.datetime.now(dt.timezone.utc)).total_seconds() + 1.1)
    after_stamped, after_plain = (read_credentials(data, trust=trust) for data in (stamped, plain))
    assert after_stamped.state == "trusted" and after_stamped.codes == ()
    assert after_plain.state == "invalid" and "signingCredential.expired" in after_plain.codes
    # c2pa counts a time stamp only from an authority whose root is among the trust anchors
    unanchored = read_credentials(stamped, trust=TrustConfig.from_files([chain.root]))
    assert unanchored.state == "invalid" and "signingCredential.expired" in unanchored.codes

    # and so says `trustgen verify`, with the authority's root among the anchors
    (tmp_path / "stamped.png").write_bytes(stamped)
    (tmp_path / "plain.png").write_bytes(plain)
    result = run("verify", tmp_path / "stamped.png", tmp_path / "plain.png", "--json", "--no-detector",
                 "--trust-anchors", chain.root, "--trust-anchors", tsa.root)
    states = {Path(r["path"]).name: r["c2pa"] for r in map(json.loads, result.stdout.splitlines())}
    assert states["stamped.png"]["state"] == "trusted"
    assert states["plain.png"]["state"] == "invalid"
    assert "signingCredential.expired" in states["plain.png"]["codes"]


def test_a_failing_authority_is_tried_three_times_with_backoff_then_named(tsa, chains):
    tsa.fail_next = TRIES
    started = time.monotonic()
    with pytest.raises(TimeStampError) as err:
        load_signer(chains["es256"].key, chains["es256"].chain, tsa_url=tsa.url)
    assert time.monotonic() - started >= BACKOFF_S
    assert tsa.requests == TRIES
    assert str(err.value) == f"time-stamp authority {tsa.url} answered HTTP 503; tried {TRIES} times"

    tsa.fail_next, tsa.requests = TRIES - 1, 0  # comes back on the last try
    signer = load_signer(chains["es256"].key, chains["es256"].chain, tsa_url=tsa.url)
    assert tsa.requests == TRIES
    signed = sign_image(image_bytes("jpeg"), "jpeg", signer, source_type="digitalCapture")
    assert read_credentials(signed, trust=TrustConfig()).signer.time is not None


@pytest.mark.parametrize("status, content_type, answer", [
    (400, "text/plain", "answered HTTP 400"),
    (200, "text/html", "answered text/html, not an RFC 3161 time-stamp reply"),  # a web page
    (200, "application/timestamp-reply", "sent an unusable answer: decode error ("),
])
def test_an_authority_that_cannot_stamp_is_not_asked_again(tsa, chains, status, content_type, answer):
    tsa.fail_next, tsa.fail_status, tsa.fail_type = 1, status, content_type
    with pytest.raises(TimeStampError) as err:
        load_signer(chains["es256"].key, chains["es256"].chain, tsa_url=tsa.url)
    assert str(err.value).startswith(f"time-stamp authority {tsa.url} {answer}")
    assert "\n" not in str(err.value)
    assert tsa.requests == 1


def test_an_unreachable_authority_stops_generate_before_the_model_loads_and_writes_nothing(
        tiny_unconditional, identity, tmp_path):
    url = unused_port_url()
    out = tmp_path / "out"
    started = time.monotonic()
    result = run("generate", "--model", tiny_unconditional, "-n", 1, "--steps", 1, "--out", out,
                 "--tsa-url", url)
    assert time.monotonic() - started >= BACKOFF_S
    assert result.exit_code == 2
    assert result.stderr == (f"trustgen: error: time-stamp authority {url} did not answer "
                             f"(connection refused, host not found, or timed out); tried {TRIES} times\n")
    assert not out.exists() or not any(out.iterdir())


def test_the_pipeline_time_stamps_every_image(tsa, tiny_unconditional, identity):
    from trustgen import TrustedPipeline

    pipe = TrustedPipeline.from_pretrained(tiny_unconditional, identity=identity, tsa_url=tsa.url)
    images = pipe(num_images=2, num_inference_steps=1, seed=3)
    assert tsa.requests == 3  # the signer's check, then one per image
    trust = TrustConfig.from_files([identity.root_path, tsa.root])
    for image in images:
        evidence = read_credentials(image.data, trust=trust)
        assert evidence.state == "trusted" and evidence.signer.time is not None


def test_generate_takes_the_authority_from_the_settings_file(tsa, tiny_unconditional, identity, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[signing]\ntsa_url = "{tsa.url}"\n')
    out = tmp_path / "out"
    result = run("--config", config, "generate", "--model", tiny_unconditional, "-n", 1,
                 "--steps", 1, "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"time-stamped by {tsa.url}" in result.stdout
    assert tsa.requests == 3  # the command's check, the pipeline's, then the image
    assert read_credentials_file(out / "image-4.png", trust=TrustConfig()).signer.time is not None


def test_sign_uses_the_settings_file_and_the_option_wins(tsa, identity, tmp_path, monkeypatch):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes("jpeg"))
    config = tmp_path / "config.toml"
    config.write_text(f'# where signatures get their time\n[signing]\ntsa_url = "{tsa.url}"\n')
    monkeypatch.setenv("TRUSTGEN_CONFIG", str(config))
    from_file = run("sign", photo, "-o", tmp_path / "a.jpg", "--source-type", "digitalCapture")
    assert from_file.exit_code == 0, from_file.output
    assert tsa.requests == 2
    assert read_credentials_file(tmp_path / "a.jpg", trust=TrustConfig()).signer.time is not None

    # the option wins: the file's authority is not asked, the option's (down) one is
    unreachable = unused_port_url()
    option = run("sign", photo, "-o", tmp_path / "b.jpg", "--source-type", "digitalCapture",
                 "--tsa-url", unreachable)
    assert option.exit_code == 2 and option.stderr.count("\n") == 1
    assert f"time-stamp authority {unreachable} did not answer" in option.stderr
    assert tsa.requests == 2 and not (tmp_path / "b.jpg").exists()

    # an empty settings file (or --config /dev/null) turns the file's authority off
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    unstamped = run("--config", empty, "sign", photo, "-o", tmp_path / "c.jpg",
                    "--source-type", "digitalCapture")
    assert unstamped.exit_code == 0, unstamped.output
    assert tsa.requests == 2
    assert read_credentials_file(tmp_path / "c.jpg", trust=TrustConfig()).signer.time is None


def test_the_settings_file_lives_in_the_identity_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TRUSTGEN_CONFIG", raising=False)
    monkeypatch.setenv("TRUSTGEN_HOME", str(tmp_path))
    assert load_config().tsa_url is None and load_config().source is None  # none: no settings
    (tmp_path / "config.toml").write_text('[signing]\ntsa_url = "https://tsa.example/"\n')
    assert load_config().tsa_url == "https://tsa.example/"
    assert load_config().source == tmp_path / "config.toml"


@pytest.mark.parametrize("text, message", [
    ('[signing]\ntsa_url = 5\n', "[signing] tsa_url: must be a string (an http:// or https:// URL)"),
    ('[signing]\ntsa_url = "ftp://tsa.example"\n',
     "[signing] tsa_url: time-stamp authority URL must be http(s): 'ftp://tsa.example'"),
    ('[signing]\ntsa = "http://tsa.example"\n', "[signing] tsa: unknown key (known: tsa_url)"),
    ('[storage]\nurl = "x"\n', "unknown section [storage] (known: [signing], [store])"),
    ('signing = 1\n', "[signing] must be a table, not a value"),
    ('[signing\n', "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"),
])
def test_a_wrong_setting_is_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(err.value) == f"{config}: {message}"


def test_a_wrong_setting_stops_sign_with_exit_2_and_writes_nothing(identity, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("png"))
    config = tmp_path / "config.toml"
    config.write_text('[signing]\ntsa_url = "tsa.example"\n')
    result = run("--config", config, "sign", photo, "-o", tmp_path / "out.png",
                 "--source-type", "digitalCapture")
    assert result.exit_code == 2
    assert result.stderr == (f"trustgen: error: {config}: [signing] tsa_url: time-stamp authority "
                             "URL must be http(s): 'tsa.example'\n")
    assert not (tmp_path / "out.png").exists()
    missing = run("--config", tmp_path / "nope.toml", "sign", photo, "-o", tmp_path / "out.png",
                  "--source-type", "digitalCapture")
    assert missing.exit_code == 2
    assert missing.stderr == f"trustgen: error: {tmp_path / 'nope.toml'}: settings file not found\n"
