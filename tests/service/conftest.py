"""One real ``trustgen serve`` for the service tests: its own TRUSTGEN_HOME and API keys,
started once per session and stopped with SIGTERM (which must shut it down cleanly)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from service.server import (  # tests/ is on sys.path
    BURST,
    MAX_UPLOAD_MB,
    RATE,
    SHORT_TIME_LIMIT,
    TIME_LIMIT,
    children,
    start,
    stop,
    trustgen,
)


@pytest.fixture(scope="session")
def service_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service-home")


@pytest.fixture(scope="session")
def service_env(service_home) -> dict:
    return {**os.environ, "TRUSTGEN_HOME": str(service_home), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def server(service_env, c2pa_fixtures, tmp_path_factory):
    """The server: keys ``tester`` and ``limited`` active, ``gone`` revoked; the fixtures'
    trust anchors; policies default (the default) and strict; no detector (see the report)."""
    keys = {}
    for name in ("tester", "limited", "gone"):
        done = trustgen("serve", "keys", "add", name, env=service_env)
        assert done.returncode == 0, done.stderr
        keys[name] = done.stdout.strip()
    assert trustgen("serve", "keys", "revoke", "gone", env=service_env).returncode == 0
    trust = c2pa_fixtures / "trust"
    log = tmp_path_factory.mktemp("service-log") / "server.log"
    srv = start(["--no-detector", "--verifiers", "2", "--time-limit", str(TIME_LIMIT),
                 "--rate", str(RATE), "--burst", str(BURST), "--max-upload-mb", str(MAX_UPLOAD_MB),
                 "--policy", "default", "--policy", "strict",
                 "--trust-anchors", str(trust / "test_cert_root_bundle.pem"),
                 "--trust-config", str(trust / "store.cfg")], service_env, log)
    srv.keys = keys
    yield srv
    verifiers = [c for w in [srv.proc.pid, *children(srv.proc.pid)] for c in children(w)]
    code = stop(srv.proc)
    # uvicorn finishes the requests in flight, runs the shutdown, then re-raises the signal
    assert code in (0, -15), f"SIGTERM did not shut the server down cleanly ({code})"
    assert "Application shutdown complete." in srv.log.read_text()
    time.sleep(0.5)
    assert not [p for p in verifiers if Path(f"/proc/{p}").exists()
                and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()], \
        "verification processes outlived the server"


@pytest.fixture(scope="module")
def open_server(service_env, tmp_path_factory):
    """A second server: two uvicorn workers (metrics summed across them), no keys (--open on
    127.0.0.1), a short time limit, one request waiting per verification process, and a rate limit
    high enough that only the concurrency limit turns requests away."""
    log = tmp_path_factory.mktemp("service-open-log") / "server.log"
    srv = start(["--open", "--no-detector", "--workers", "2", "--time-limit", str(SHORT_TIME_LIMIT),
                 "--queue", "1", "--rate", "1000", "--burst", "1000"], service_env, log)
    yield srv
    assert stop(srv.proc) in (0, -15)
