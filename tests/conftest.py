"""Shared fixtures: tiny real pipelines, a per-session development identity, the C2PA fixtures.

Tests never touch the user's real identity: TRUSTGEN_HOME points at a fresh folder for the whole
session, and nothing may reach a model hub.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["TRUSTGEN_HOME"] = tempfile.mkdtemp(prefix="trustgen-test-home-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
C2PA_FIXTURES = REPO.parent / "shared" / "fixtures" / "c2pa"


@pytest.fixture(scope="session")
def identity():
    """The development identity (root -> intermediate -> ES256 leaf) in the session's home."""
    from trustgen.credentials import Identity

    home = Path(os.environ["TRUSTGEN_HOME"])
    try:
        return Identity.load(home)
    except Exception:
        return Identity.init(home)


@pytest.fixture(scope="session")
def tiny_unconditional(tmp_path_factory) -> Path:
    from tiny_pipelines import save_unconditional

    return save_unconditional(tmp_path_factory.mktemp("pipelines") / "tiny-ddim")


@pytest.fixture(scope="session")
def tiny_text_to_image(tmp_path_factory) -> Path:
    from tiny_pipelines import save_text_to_image

    return save_text_to_image(tmp_path_factory.mktemp("pipelines") / "tiny-sd")


@pytest.fixture(scope="session")
def c2pa_fixtures() -> Path:
    if not (C2PA_FIXTURES / "expected.json").is_file():
        if os.environ.get("CI"):  # CI always has shared/ beside the clone: never skip silently
            pytest.fail(f"C2PA reference fixtures not found at {C2PA_FIXTURES}")
        pytest.skip(f"C2PA reference fixtures not found at {C2PA_FIXTURES}")
    return C2PA_FIXTURES


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download); skips outside CI
    when either is missing, fails in CI."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed"
    if not missing and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM}"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
