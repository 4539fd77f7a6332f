"""The manifest store's one interface, the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from trustgen import fingerprint as fp
from trustgen.softbinding import WATERMARK_ALG, fingerprint_binding, watermark_binding
from trustgen.store import Registration, RegistrationConflict, StoreError, open_store
from trustgen.store.ingest import registration, registration_file


def _reg(i: int, *, hash_: bytes | None = None, quality: int = 90, store_bytes: bytes | None = None):
    h = hash_ if hash_ is not None else os.urandom(32)
    print_ = fp.Fingerprint(h, quality)
    cid = f"{i:012x}"
    return Registration(f"urn:c2pa:test-{i}", store_bytes or f"manifest {i}".encode(), f"{i:064x}",
                        "test signer", None,
                        (watermark_binding(cid, key="public", scheme="trustgen"), fingerprint_binding(print_)),
                        print_)


def _flip(h: bytes, bits) -> bytes:
    n = int.from_bytes(h, "big")
    for b in bits:
        n ^= 1 << b
    return n.to_bytes(len(h), "big")


def test_add_is_idempotent_and_never_overwrites(store_url):
    with open_store(store_url) as store:
        reg = _reg(1)
        assert store.add(reg) is True
        assert store.add(reg) is False  # the same manifest again: nothing changes
        with pytest.raises(RegistrationConflict) as err:
            store.add(Registration(reg.manifest_id, b"other bytes"))
        assert "never overwritten" in str(err.value) and "\n" not in str(err.value)
        assert store.get(reg.manifest_id) == reg.store_bytes
        assert store.get("urn:c2pa:unknown") is None
        assert store.stats()["manifests"] == 1


def test_add_many_is_all_or_nothing(store_url):
    with open_store(store_url) as store:
        assert store.add_many([_reg(i) for i in range(5)]) == 5
        assert store.add_many([_reg(i) for i in range(3, 8)] + [_reg(1)]) == 3  # 3 new, 3 known
        clash = Registration("urn:c2pa:test-2", b"other bytes")
        with pytest.raises(RegistrationConflict):
            store.add_many([_reg(20), clash])
        assert store.get("urn:c2pa:test-20") is None and store.stats()["manifests"] == 8


def test_lookups(store_url):
    with open_store(store_url) as store:
        regs = [_reg(i) for i in range(20)]
        for r in regs:
            store.add(r)
        target = regs[7]
        assert store.by_binding(WATERMARK_ALG, target.soft_bindings[0].value) == [target.manifest_id]
        assert store.by_binding(WATERMARK_ALG, watermark_binding("ffffffffffff", key="public",
                                                                 scheme="trustgen").value) == []
        # up to 15 bits apart a match is always found, however the bits fall (one band is clean)
        near = _flip(target.fingerprint.hash, range(0, 15 * 16, 16))
        assert [(m.manifest_id, m.distance) for m in store.by_fingerprint(near)] == [(target.manifest_id, 15)]
        # farther, up to MAX_DISTANCE, when some band came through unchanged
        near = _flip(target.fingerprint.hash, range(0, 29 * 2, 2))
        assert [(m.manifest_id, m.distance) for m in store.by_fingerprint(near)] == [(target.manifest_id, 29)]
        assert store.by_fingerprint(near, max_distance=20) == []
        # one of several query hashes (a mirrored copy's) is enough, and it says which
        found = store.by_fingerprint([os.urandom(32), _flip(target.fingerprint.hash, [3, 40])])
        assert (found[0].manifest_id, found[0].distance, found[0].variant) == (target.manifest_id, 2, 1)


def test_weak_fingerprints_are_kept_but_never_matched(store_url):
    with open_store(store_url) as store:
        weak = _reg(1, quality=fp.MIN_QUALITY - 1)
        store.add(weak)
        assert store.by_fingerprint(weak.fingerprint.hash) == []
        assert store.record(weak.manifest_id).fingerprint.quality == fp.MIN_QUALITY - 1


def test_ls_show_stats_export(store_url, tmp_path):
    with open_store(store_url) as store:
        for i in range(3):
            store.add(_reg(i))
        records = store.ls()
        assert [r.manifest_id for r in records] == [f"urn:c2pa:test-{i}" for i in range(3)]
        assert [r.manifest_id for r in store.ls(limit=1, offset=1)] == ["urn:c2pa:test-1"]
        rec = store.record("urn:c2pa:test-2")
        assert rec.signer == "test signer" and rec.size == len(b"manifest 2")
        assert {b.alg for b in rec.soft_bindings} == {WATERMARK_ALG, fp.ALG}
        stats = store.stats()
        assert stats["manifests"] == 3 and stats["fingerprints"] == 3
        assert stats["soft_bindings"] == {fp.ALG: 3, WATERMARK_ALG: 3} and stats["schema_version"] == 1
        assert store.export(tmp_path / "out") == 3
        assert (tmp_path / "out" / "urn_c2pa_test-0.c2pa").read_bytes() == b"manifest 0"
        assert store.export(tmp_path / "out") == 0  # the same files: kept, nothing rewritten
        (tmp_path / "out" / "urn_c2pa_test-1.c2pa").write_bytes(b"changed")
        with pytest.raises(StoreError, match="not overwritten"):
            store.export(tmp_path / "out")
        assert (tmp_path / "out" / "urn_c2pa_test-1.c2pa").read_bytes() == b"changed"


def test_api_keys_are_stored_hashed(store_url):
    with open_store(store_url) as store:
        key = store.create_key("newsroom")
        assert key.startswith("tgs_") and store.verify_key(key) == "newsroom"
        assert store.verify_key(key + "x") is None and store.verify_key(None) is None
        assert key not in repr(store.keys())
        with pytest.raises(Exception, match="exists"):
            store.create_key("newsroom")
        assert store.revoke_key("newsroom") and store.verify_key(key) is None
        assert not store.revoke_key("newsroom")
        again = store.create_key("newsroom")  # a revoked name may be reused
        assert store.verify_key(again) == "newsroom"


def test_reopening_migrates_once(store_url):
    open_store(store_url).close()
    with open_store(store_url) as store:
        assert store.schema_version() == 1
        assert store._run(lambda cur: store._exec(cur, "SELECT COUNT(*) FROM schema_version").fetchone()[0]) == 1


WORKER = """
import sys
from trustgen import fingerprint as fp
from trustgen.softbinding import fingerprint_binding
from trustgen.store import Registration, open_store
url, worker = sys.argv[1], int(sys.argv[2])
with open_store(url) as store:
    for i in range(60):
        shared = i % 3 == 0  # both workers register these very manifests
        mid = f"urn:c2pa:shared-{i}" if shared else f"urn:c2pa:w{worker}-{i}"
        h = i.to_bytes(32, "big") if shared else bytes([worker]) + i.to_bytes(31, "big")
        p = fp.Fingerprint(h, 90)
        store.add(Registration(mid, mid.encode(), None, None, None, (fingerprint_binding(p),), p))
"""


def test_two_processes_registering_at_once_lose_nothing(store_url):
    open_store(store_url).close()  # the schema exists before the race starts
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, store_url, str(w)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in (1, 2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-2000:]
    with open_store(store_url) as store:
        ids = {r.manifest_id for r in store.ls()}
    assert len(ids) == 20 + 2 * 40
    assert all(f"urn:c2pa:w{w}-{i}" in ids for w in (1, 2) for i in range(60) if i % 3)


def test_ingest_real_signed_files(store_url, signed):
    with open_store(store_url) as store:
        for item in signed.items:
            reg = registration_file(item.path)
            assert reg.manifest_id == item.manifest_id and reg.signer == "test signer es256"
            assert reg.fingerprint == item.fingerprint  # the manifest's own, on the signed pixels
            assert store.add(reg)
        item = signed.items[0]
        stored = store.get(item.manifest_id)
        assert stored.startswith(b"\0\0") and stored[4:8] == b"jumb"
        # the stored bytes are a manifest store in their own right: they register the same
        assert registration(stored).manifest_id == item.manifest_id
        assert store.by_fingerprint(item.fingerprint.hash)[0].manifest_id == item.manifest_id
