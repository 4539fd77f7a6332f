"""Fixtures for the content-credentials tests: per-session chains and signers (see pki.py)."""

from __future__ import annotations

import pytest

from credentials.pki import Chain, image_bytes, make_chain  # tests/ is on sys.path


@pytest.fixture(scope="session")
def chains(tmp_path_factory) -> dict[str, Chain]:
    base = tmp_path_factory.mktemp("chains")
    return {alg: make_chain(base / alg, alg) for alg in ("es256", "es384", "ps256", "ed25519")}


@pytest.fixture(scope="session")
def signers(chains):
    from trustgen.credentials.keys import load_signer

    return {alg: load_signer(c.key, c.chain) for alg, c in chains.items()}


@pytest.fixture(scope="session")
def make_chain_at(tmp_path_factory):
    base = tmp_path_factory.mktemp("more-chains")
    counter = iter(range(10_000))
    return lambda alg="es256", **kw: make_chain(base / f"c{next(counter)}", alg, **kw)


@pytest.fixture(scope="session")
def make_image():
    return image_bytes
