"""Sample files of every media format, made once per session, and the same files signed by
c2pa-python directly and by ``trustgen sign``, all with one test chain (tests/credentials/pki.py).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from formats import samples  # tests/ is on sys.path


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    from credentials.pki import make_chain

    return make_chain(tmp_path_factory.mktemp("formats-chain"), "es256")


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory) -> dict[str, Path]:
    """format name -> an unsigned sample file named with the format's own extension."""
    from trustgen.media import extension_for

    folder = tmp_path_factory.mktemp("samples")
    out = {}
    for name in samples.SAMPLES:
        if name == "c2pa":  # a manifest store is made signed; see signed_files
            continue
        out[name] = folder / f"sample{extension_for(name)}"
        out[name].write_bytes(samples.make(name))
    return out


@pytest.fixture(scope="session")
def signed_files(sample_files, chain, tmp_path_factory) -> dict[str, Path]:
    """``c2pa:NAME`` (signed by c2pa-python) and ``trustgen:NAME`` (by ``trustgen sign``) for every
    format trustgen signs, plus ``c2pa:sidecar``, a bare manifest store."""
    from click.testing import CliRunner

    from trustgen.cli import cli
    from trustgen.credentials.keys import load_signer
    from trustgen.media import extension_for, formats, mime_for

    folder = tmp_path_factory.mktemp("signed")
    signer = load_signer(chain.key, chain.chain)
    out = {}
    for fmt in formats(can_sign=True):
        source = sample_files[fmt.name]
        by_c2pa = folder / f"c2pa-{fmt.name}{extension_for(fmt.name)}"
        by_c2pa.write_bytes(samples.sign_with_c2pa(source.read_bytes(), mime_for(fmt.name), signer))
        out[f"c2pa:{fmt.name}"] = by_c2pa
        by_trustgen = folder / f"trustgen-{fmt.name}{extension_for(fmt.name)}"
        result = CliRunner().invoke(cli, [
            "sign", str(source), "-o", str(by_trustgen), "--key", str(chain.key),
            "--cert", str(chain.chain), "--source-type", "digitalCapture", "--no-thumbnail"])
        assert result.exit_code == 0, (fmt.name, result.output)
        out[f"trustgen:{fmt.name}"] = by_trustgen
    sidecar = folder / "sidecar.c2pa"
    sidecar.write_bytes(samples.sign_with_c2pa(sample_files["jpeg"].read_bytes(), "image/jpeg",
                                               signer, sidecar=True))
    out["c2pa:sidecar"] = sidecar
    return out


@pytest.fixture(scope="session")
def credentials_policy(tmp_path_factory) -> Path:
    """The default policy with the watermark off: these tests are about credentials, and the
    reference fixtures' multi-megapixel images would cost seconds of watermark search."""
    text = files("trustgen.policies").joinpath("default.toml").read_text()
    path = tmp_path_factory.mktemp("formats-policy") / "credentials.toml"
    path.write_text(text.replace("[watermark]\nenabled = true", "[watermark]\nenabled = false"))
    assert path.read_text() != text
    return path
