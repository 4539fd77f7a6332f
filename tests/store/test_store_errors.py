"""A store that cannot be used is one line, in the library and at the command line; and the
``trustgen store`` commands end to end."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys

import pytest

from trustgen.store import StoreError, open_store


def trustgen(*args, env=None):
    return subprocess.run([sys.executable, "-m", "trustgen", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_corrupt_store_file_is_one_line(tmp_path):
    bad = tmp_path / "manifests.db"
    bad.write_bytes(b"this is not a database, just text" * 200)
    with pytest.raises(StoreError) as err:
        open_store(bad)
    assert "corrupt or not SQLite" in str(err.value) and str(bad) in str(err.value)
    assert "\n" not in str(err.value)
    out = trustgen("store", "ls", "--store", bad)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "corrupt or not SQLite" in out.stderr
    assert bad.read_bytes().startswith(b"this is not a database")  # never "repaired"


def test_locked_store_file_is_one_line(tmp_path):
    path = tmp_path / "manifests.db"
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
    try:
        from trustgen.store.sqlite import SqliteStore

        with pytest.raises(StoreError) as err:
            SqliteStore(path, timeout=0.2).create_key("k")
        assert "locked by another process" in str(err.value) and "\n" not in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_unreachable_database_is_one_line():
    url = f"postgresql://trustgen:secret@127.0.0.1:{_free_port()}/manifests"
    with pytest.raises(StoreError) as err:
        open_store(url)
    text = str(err.value)
    assert text.startswith("cannot reach the manifest store at postgresql://trustgen:***@127.0.0.1")
    assert "secret" not in text and "\n" not in text
    out = trustgen("store", "stats", "--store", url)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "secret" not in out.stderr


def test_unknown_url_scheme(tmp_path):
    with pytest.raises(StoreError, match="unknown manifest store URL"):
        open_store("mysql://somewhere/db")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "manifests.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    with pytest.raises(StoreError, match="version 99 is newer"):
        open_store(path)


def test_store_commands(tmp_path, signed):
    db = tmp_path / "cli.db"
    plain = tmp_path / "plain.png"
    signed.items[0].image.save(plain)
    before = plain.read_bytes()
    out = trustgen("store", "add", *(i.path for i in signed.items), plain, "--store", db, "--json")
    assert out.returncode == 2, out.stderr  # one file could not be registered; the others were
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["added"] * 3
    assert out.stderr.strip().splitlines() == [
        f"trustgen: error: {plain}: has no content credentials to register"]
    assert plain.read_bytes() == before
    again = trustgen("store", "add", signed.items[0].path, "--store", db)
    assert again.returncode == 0 and "already registered" in again.stdout

    listed = [json.loads(x) for x in trustgen("store", "ls", "--store", db, "--json").stdout.splitlines()]
    assert {r["manifest_id"] for r in listed} == {i.manifest_id for i in signed.items}
    shown = json.loads(trustgen("store", "show", signed.items[1].manifest_id, "--store", db, "--json").stdout)
    assert shown["fingerprint"]["hex"] == signed.items[1].fingerprint.hex
    assert {b["alg"] for b in shown["soft_bindings"]} == {"org.trustgen.watermark.1", "com.facebook.pdq"}
    missing = trustgen("store", "show", "urn:c2pa:nope", "--store", db)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    stats = json.loads(trustgen("store", "stats", "--store", db, "--json").stdout)
    assert stats["manifests"] == 3 and stats["backend"] == "sqlite"
    out = trustgen("store", "export", tmp_path / "exported", "--store", db)
    assert out.returncode == 0 and len(list((tmp_path / "exported").glob("*.c2pa"))) == 3
    table = trustgen("store", "ls", "--store", db).stdout
    assert signed.items[2].manifest_id in table and "test signer es256" in table


def test_store_commands_read_the_settings_file_store(tmp_path, signed):
    """Without --store, `trustgen store` uses `[store] url` of the settings file, as verify does."""
    db = tmp_path / "desk.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{db}"\n')
    added = trustgen("--config", config, "store", "add", signed.items[0].path)
    assert added.returncode == 0, added.stderr
    stats = json.loads(trustgen("store", "stats", "--store", db, "--json").stdout)
    assert stats["manifests"] == 1
