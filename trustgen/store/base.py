"""The manifest repository's one interface, written once in SQL for both backends.

A record is registered once and never changed: ``add`` of an id already there with the same
manifest store bytes is a no-op (idempotent), with different bytes an error. Near-neighbour
search over the 256-bit fingerprints is multi-index hashing in plain SQL: the hash's 16 bands
of 16 bits are indexed columns, ``b0 IN (...) OR ... OR b15 IN (...)`` finds the candidates that
share a band with a query hash exactly, and the Hamming distance is checked on those (see
``fingerprint.BANDS`` for what that finds).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence

from .. import fingerprint as fp
from ..errors import InputError, TrustgenError, one_line
from ..softbinding import SoftBinding, format_params, parse_params


class StoreError(TrustgenError):
    """The manifest store cannot be used: corrupt or locked file, unreachable database,
    conflicting registration. One line, fit for the terminal."""


class RegistrationConflict(StoreError):
    """Another manifest store is registered under this manifest id (never overwritten)."""


class ConcurrentInsert(StoreError):
    """Another process inserted the same manifest id between this one's check and insert; the
    registration is tried again (then the check sees it)."""


#: API keys for registering over HTTP: ``tgs_`` + 32 random bytes, stored as SHA-256 only (a
#: high-entropy key needs no slow hash).
KEY_PREFIX = "tgs_"
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Registration:
    """What is stored about one manifest (``ingest.registration`` reads it from a signed file)."""

    manifest_id: str
    store_bytes: bytes  # the manifest store, application/c2pa
    asset_sha256: str | None = None
    signer: str | None = None
    signed_at: str | None = None
    soft_bindings: tuple[SoftBinding, ...] = ()
    fingerprint: fp.Fingerprint | None = None


@dataclass(frozen=True)
class Record:
    """A stored manifest, without its bytes (``get`` returns those)."""

    manifest_id: str
    asset_sha256: str | None
    signer: str | None
    signed_at: str | None
    registered_at: str
    size: int
    fingerprint: fp.Fingerprint | None = None
    soft_bindings: tuple[SoftBinding, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "manifest_id": self.manifest_id, "asset_sha256": self.asset_sha256,
            "signer": self.signer, "signed_at": self.signed_at,
            "registered_at": self.registered_at, "size": self.size,
            "fingerprint": None if self.fingerprint is None else
            {"alg": fp.ALG, "hex": self.fingerprint.hex, "quality": self.fingerprint.quality},
            "soft_bindings": [{"alg": b.alg, "value": b.value, "params": dict(b.params)}
                              for b in self.soft_bindings],
        }


@dataclass(frozen=True)
class Match:
    """A manifest found by fingerprint: its id, the distance, and which query hash matched it
    (0 the image as it is; 1-7 PDQ's rotations and mirrors, in ``fingerprint.dihedral`` order)."""

    manifest_id: str
    distance: int
    variant: int = 0


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of the numbered files in ``migrations/``, in order."""
    folder = resources.files(__package__) / "migrations"
    out = []
    for item in folder.iterdir():
        m = re.match(r"^(\d+)_.*\.sql$", item.name)
        if m:
            out.append((int(m.group(1)), item.read_text(encoding="utf-8")))
    return sorted(out)


def statements(sql: str) -> list[str]:
    """A migration file split into statements (no ``;`` inside the migrations' literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class ManifestStore:
    """The manifest repository. Backends supply a DB-API connection and their dialect."""

    backend = ""
    bytes_type = "BLOB"
    placeholder = "?"

    def __init__(self, location: str):
        self.location = location
        self._lock = threading.RLock()

    # -- backend hooks ------------------------------------------------------------------------
    def _connection(self):
        raise NotImplementedError

    def _translate(self, err: Exception) -> StoreError | None:
        """A backend exception as a one-line ``StoreError`` (None: not a store problem)."""
        raise NotImplementedError

    def _begin(self, cur) -> None:
        """Start a write transaction that serialises with other processes."""
        raise NotImplementedError

    def _migration_lock(self, cur) -> None:
        """Serialise schema migrations across processes (inside the transaction)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _run(self, work, *, write: bool = False):
        """``work(cursor)`` in one transaction; backend errors become ``StoreError``."""
        with self._lock:
            try:
                conn = self._connection()
                cur = conn.cursor()
                try:
                    if write:
                        self._begin(cur)
                    result = work(cur)
                    conn.commit()
                    return result
                except BaseException:
                    try:
                        conn.rollback()
                    except Exception:  # noqa: BLE001 - the first error is the one to report
                        pass
                    raise
                finally:
                    cur.close()
            except TrustgenError:
                raise
            except Exception as err:  # noqa: BLE001 - translated or re-raised
                translated = self._translate(err)
                if translated is None:
                    raise
                raise translated from None

    def _exec(self, cur, sql: str, params: Sequence = ()):
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def migrate(self) -> int:
        """Apply the migrations this store lacks; returns the schema version."""
        known = migrations()
        latest = known[-1][0]

        def work(cur):
            self._migration_lock(cur)
            self._exec(cur, "CREATE TABLE IF NOT EXISTS schema_version "
                            "(version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
            self._exec(cur, "SELECT MAX(version) FROM schema_version")
            current = cur.fetchone()[0] or 0
            if current > latest:
                raise StoreError(f"{self.location}: store schema version {current} is newer than "
                                 f"this trustgen knows ({latest}); upgrade trustgen")
            for version, sql in known:
                if version > current:
                    for statement in statements(sql.replace("{bytes}", self.bytes_type)):
                        self._exec(cur, statement)
                    self._exec(cur, "INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                               (version, now()))
            return max(current, latest)

        return self._run(work, write=True)

    def schema_version(self) -> int:
        return self._run(lambda cur: self._exec(
            cur, "SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

    # -- the interface --------------------------------------------------------------------------
    def add(self, reg: Registration) -> bool:
        """Register a manifest: True if added, False if this very manifest was there already.

        A different manifest store under the same id is refused (``RegistrationConflict``): a
        record is never overwritten. Safe with other processes adding at the same time.
        """
        return self.add_many([reg]) == 1

    def add_many(self, regs: Sequence[Registration]) -> int:
        """``add`` for many manifests in one transaction (bulk imports); returns how many were
        new. Same rules: an id already there with other bytes is refused and nothing is added."""
        regs = list({r.manifest_id: r for r in regs}.values())
        if any(not r.manifest_id or not r.store_bytes for r in regs):
            raise InputError("a registration needs a manifest id and the manifest store bytes")

        def work(cur):
            fresh = []
            for i in range(0, len(regs), 500):
                chunk = regs[i:i + 500]
                there = dict(self._exec(cur, "SELECT manifest_id, store_bytes FROM manifests WHERE "
                                             f"manifest_id IN ({', '.join('?' * len(chunk))})",
                                        [r.manifest_id for r in chunk]).fetchall())
                for r in chunk:
                    if r.manifest_id not in there:
                        fresh.append(r)
                    elif bytes(there[r.manifest_id]) != r.store_bytes:
                        raise RegistrationConflict(f"manifest {r.manifest_id} is already registered "
                                                   "with different content; a registration is never overwritten")
            if not fresh:
                return 0
            stamp = now()
            cur.executemany(self._sql(
                "INSERT INTO manifests (manifest_id, store_bytes, asset_sha256, signer, signed_at, "
                f"registered_at, fingerprint, fp_quality, {_BAND_COLUMNS}) "
                f"VALUES ({', '.join('?' * (8 + fp.BANDS))})"),
                [(r.manifest_id, r.store_bytes, r.asset_sha256, r.signer, r.signed_at, stamp,
                  None if r.fingerprint is None else r.fingerprint.hash,
                  None if r.fingerprint is None else r.fingerprint.quality,
                  *(fp.bands(r.fingerprint.hash) if r.fingerprint is not None else (None,) * fp.BANDS))
                 for r in fresh])
            bindings = {(b.alg, b.value, r.manifest_id): format_params(b.params)
                        for r in fresh for b in r.soft_bindings}
            if bindings:
                cur.executemany(self._sql("INSERT INTO soft_bindings (alg, value, manifest_id, params) "
                                          "VALUES (?, ?, ?, ?)"), [(*k, v) for k, v in bindings.items()])
            return len(fresh)

        for attempt in range(3):
            try:
                return self._run(work, write=True)
            except ConcurrentInsert:
                if attempt == 2:
                    raise

    def get(self, manifest_id: str) -> bytes | None:
        """The manifest store bytes (application/c2pa) of ``manifest_id``; None if unknown."""
        row = self._run(lambda cur: self._exec(
            cur, "SELECT store_bytes FROM manifests WHERE manifest_id = ?", (manifest_id,)).fetchone())
        return None if row is None else bytes(row[0])

    def record(self, manifest_id: str) -> Record | None:
        found = self._records("WHERE manifest_id = ?", (manifest_id,))
        return found[0] if found else None

    def by_binding(self, alg: str, value: str, limit: int = 100) -> list[str]:
        """Ids of the manifests that name this soft-binding value, oldest registration first."""
        rows = self._run(lambda cur: self._exec(
            cur, "SELECT s.manifest_id FROM soft_bindings s JOIN manifests m "
                 "ON m.manifest_id = s.manifest_id WHERE s.alg = ? AND s.value = ? "
                 "ORDER BY m.registered_at, s.manifest_id LIMIT ?", (alg, value, int(limit))).fetchall())
        return [r[0] for r in rows]

    def by_fingerprint(self, hashes: bytes | Sequence[bytes],
                       max_distance: int = fp.MAX_DISTANCE, limit: int = 100) -> list[Match]:
        """Manifests whose fingerprint is within ``max_distance`` of any of ``hashes`` (one hash,
        or ``fingerprint.dihedral``'s eight), nearest first; only usable fingerprints count."""
        hashes = [bytes(hashes)] if isinstance(hashes, (bytes, bytearray)) else list(hashes)
        if not hashes:
            return []
        per_band = [sorted({fp.bands(h)[i] for h in hashes}) for i in range(fp.BANDS)]
        where = " OR ".join(f"b{i} IN ({', '.join('?' * len(vals))})" for i, vals in enumerate(per_band))
        params = [v for vals in per_band for v in vals]
        rows = self._run(lambda cur: self._exec(
            cur, f"SELECT manifest_id, fingerprint FROM manifests WHERE fp_quality >= ? AND ({where})",
            [fp.MIN_QUALITY, *params]).fetchall())
        best: dict[str, Match] = {}
        for manifest_id, stored in rows:
            for variant, h in enumerate(hashes):
                d = fp.hamming(bytes(stored), h)
                if d <= max_distance and (manifest_id not in best or d < best[manifest_id].distance):
                    best[manifest_id] = Match(manifest_id, d, variant)
        return sorted(best.values(), key=lambda m: (m.distance, m.manifest_id))[:limit]

    def ls(self, limit: int | None = None, offset: int = 0) -> list[Record]:
        """Records, oldest registration first."""
        tail = "ORDER BY registered_at, manifest_id"
        params: list = []
        if limit is not None:
            tail += " LIMIT ? OFFSET ?"
            params = [int(limit), int(offset)]
        return self._records(tail, params)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.ls())

    def stats(self) -> dict:
        def work(cur):
            n, size = self._exec(cur, "SELECT COUNT(*), COALESCE(SUM(LENGTH(store_bytes)), 0) "
                                      "FROM manifests").fetchone()
            fps = self._exec(cur, "SELECT COUNT(*) FROM manifests WHERE fingerprint IS NOT NULL").fetchone()[0]
            algs = dict(self._exec(cur, "SELECT alg, COUNT(*) FROM soft_bindings GROUP BY alg "
                                        "ORDER BY alg").fetchall())
            version = self._exec(cur, "SELECT MAX(version) FROM schema_version").fetchone()[0]
            return {"backend": self.backend, "location": self.location, "schema_version": version,
                    "manifests": int(n), "manifest_bytes": int(size), "fingerprints": int(fps),
                    "soft_bindings": {k: int(v) for k, v in algs.items()}}
        return self._run(work)

    def export(self, folder: str | Path) -> int:
        """Write every manifest store to ``folder`` as ``<id>.c2pa`` (``:`` becomes ``_``);
        returns how many were written. An existing file with the same bytes is left as it is,
        one with other bytes is an error (never overwritten)."""
        from ..media import atomic_write

        out = Path(folder)
        written = 0
        for rec in self.ls():
            data = self.get(rec.manifest_id)
            target = out / (re.sub(r"[^A-Za-z0-9._-]", "_", rec.manifest_id) + ".c2pa")
            if target.exists():
                if target.read_bytes() != data:
                    raise StoreError("exists with other content; not overwritten", path=target)
                continue
            atomic_write(target, data)
            written += 1
        return written

    # -- API keys for registration over HTTP ------------------------------------------------------
    def create_key(self, name: str) -> str:
        """A new API key for ``name``, returned once (only its SHA-256 is stored)."""
        if not _KEY_NAME.match(name or ""):
            raise InputError(f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        key = KEY_PREFIX + secrets.token_urlsafe(32)

        def work(cur):
            row = self._exec(cur, "SELECT revoked FROM api_keys WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise InputError(f"a key named {name!r} exists; revoke it first")
            if row is not None:
                self._exec(cur, "DELETE FROM api_keys WHERE name = ?", (name,))
            self._exec(cur, "INSERT INTO api_keys (name, sha256, created) VALUES (?, ?, ?)",
                       (name, _digest(key), now()))

        self._run(work, write=True)
        return key

    def verify_key(self, key: str | None) -> str | None:
        """The name of the active key ``key`` is, else None."""
        if not key or not key.startswith(KEY_PREFIX):
            return None
        digest = _digest(key)
        row = self._run(lambda cur: self._exec(
            cur, "SELECT name, sha256 FROM api_keys WHERE sha256 = ? AND revoked IS NULL",
            (digest,)).fetchone())
        return row[0] if row is not None and hmac.compare_digest(row[1], digest) else None

    def revoke_key(self, name: str) -> bool:
        def work(cur):
            self._exec(cur, "UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL",
                       (now(), name))
            return cur.rowcount > 0
        return self._run(work, write=True)

    def keys(self) -> list[dict]:
        rows = self._run(lambda cur: self._exec(
            cur, "SELECT name, created, revoked FROM api_keys ORDER BY name").fetchall())
        return [{"name": n, "created": c, "revoked": r} for n, c, r in rows]

    # -- internals --------------------------------------------------------------------------------
    def _records(self, tail: str, params: Sequence) -> list[Record]:
        def work(cur):
            rows = self._exec(cur, "SELECT manifest_id, asset_sha256, signer, signed_at, registered_at, "
                                   "LENGTH(store_bytes), fingerprint, fp_quality FROM manifests " + tail,
                              params).fetchall()
            ids = [r[0] for r in rows]
            bindings: dict[str, list[SoftBinding]] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for mid, alg, value, prm in self._exec(
                        cur, "SELECT manifest_id, alg, value, params FROM soft_bindings WHERE "
                             f"manifest_id IN ({', '.join('?' * len(chunk))}) ORDER BY alg, value",
                        chunk).fetchall():
                    bindings.setdefault(mid, []).append(SoftBinding(alg, value, parse_params(prm)))
            return [Record(r[0], r[1], r[2], r[3], r[4], int(r[5]),
                           None if r[6] is None else fp.Fingerprint(bytes(r[6]), int(r[7])),
                           tuple(bindings.get(r[0], ()))) for r in rows]
        return self._run(work)


_BAND_COLUMNS = ", ".join(f"b{i}" for i in range(fp.BANDS))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def describe(err: BaseException) -> str:
    return one_line(err) or type(err).__name__
