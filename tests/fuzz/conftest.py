"""Seed files for the property tests, built once per session: small files of every decodable
format, files signed by the session's identity, and the small C2PA conformance files."""

from __future__ import annotations

import pytest
from fuzz import mutations


@pytest.fixture(scope="session")
def seeds(identity) -> list:
    return mutations.raster_seeds() + mutations.signed_seeds(identity)


@pytest.fixture(scope="session")
def signed(seeds) -> list:
    return [s for s in seeds if s.family == "signed"]


@pytest.fixture(scope="session")
def c2pa_seeds(c2pa_fixtures) -> list:
    """The conformance files under 20 KB and every file's manifest moved into a small image
    (full-size files cost about a second each to verify)."""
    return [s for s in mutations.fixture_seeds(c2pa_fixtures / "files", max_bytes=20_000)
            if s.family == "fixture" or len(s.data) < 60_000]


@pytest.fixture(scope="session")
def policy_folder(tmp_path_factory, identity):
    """Where mutated policies are written, beside the files their paths may name."""
    folder = tmp_path_factory.mktemp("policies")
    (folder / "key.bin").write_bytes(bytes(range(32)))
    (folder / "anchors.pem").write_bytes(identity.root_path.read_bytes())
    return folder
