"""The store tests run against both backends: a SQLite file, and a real PostgreSQL server that
this session starts in a throwaway cluster (initdb + pg_ctl on a temporary folder, reachable only
through a Unix socket there) and stops at the end.

initdb and postgres refuse to run as root, so as root the cluster runs as the ``postgres`` user
(Debian's package creates it) in a folder that user owns. Without the server binaries the
PostgreSQL half skips with a message, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _missing(why: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {why}")
    pytest.skip(f"PostgreSQL tests skipped: {why} (install Debian's postgresql package)")


@pytest.fixture(scope="session")
def pg_server():
    """(admin URL, URL template with {db}) of a throwaway PostgreSQL cluster."""
    bindir = _pg_bin()
    if bindir is None:
        _missing("no initdb/pg_ctl found on PATH or in /usr/lib/postgresql/*/bin")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed")
    root = os.geteuid() == 0
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="trustgen-pg-"))
    if root:
        import pwd

        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root and there is no 'postgres' user to run the server as")
        os.chown(folder, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, sock = folder / "data", folder
    run = lambda *args: subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)  # noqa: E731
    init = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
               "-E", "UTF8", "--no-sync")
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr[-2000:]}")
    opts = f"-c listen_addresses='' -k {sock} -c fsync=off -c full_page_writes=off"
    start = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o", opts,
                "-w", "-t", "60", "start")
    if start.returncode:
        log = (folder / "log").read_text(errors="replace")[-2000:] if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr[-1000:]} {log}")
    try:
        yield f"postgresql:///postgres?host={sock}&user=postgres", f"postgresql:///{{db}}?host={sock}&user=postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


_counter = itertools.count()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database in the session's cluster."""
    import psycopg

    admin, template = pg_server
    name = f"t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return template.format(db=name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The same tests against a SQLite file and a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "manifests.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def signed(tmp_path_factory):
    """Files signed for real by c2pa with soft bindings: (path, content id, fingerprint) each."""
    from store.helpers import make_signed

    return make_signed(tmp_path_factory.mktemp("signed"))
