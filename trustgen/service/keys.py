"""API keys of the verification service: shown once, stored only as a hash.

A key is 32 random bytes (``tg_`` + URL-safe base64); the file holds its SHA-256, its name and
when it was made or revoked, so a stolen copy of the file lets nobody in. Keys are high-entropy
random strings, so a plain SHA-256 (not a slow password hash) is enough and keeps every request
cheap. The server re-reads the file when it changes: ``keys revoke`` takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, InputError
from ..media import atomic_write

PREFIX = "tg_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def keys_path(home: str | os.PathLike | None = None) -> Path:
    """``service-keys.json`` in ``home``, else in ``$TRUSTGEN_HOME`` (the identity's folder)."""
    from ..credentials.identity import default_home

    return Path(home or default_home()) / "service-keys.json"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KeyRecord:
    name: str
    sha256: str
    created: str
    revoked: str | None = None


class KeyStore:
    """The keys in one file; ``check`` is safe to call from many threads."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._records: dict[str, KeyRecord] = {}

    def records(self) -> list[KeyRecord]:
        with self._lock:
            self._refresh()
            return list(self._records.values())

    def active(self) -> list[KeyRecord]:
        return [r for r in self.records() if r.revoked is None]

    def add(self, name: str) -> str:
        """A new key for ``name`` (returned once, never stored)."""
        if not _NAME.match(name):
            raise InputError(f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        records = {r.name: r for r in self.records()}
        if name in records and records[name].revoked is None:
            raise InputError(f"a key named {name!r} exists; revoke it first")
        key = PREFIX + secrets.token_urlsafe(32)
        records[name] = KeyRecord(name, _digest(key), _now())
        self._write(records)
        return key

    def revoke(self, name: str) -> None:
        records = {r.name: r for r in self.records()}
        record = records.get(name)
        if record is None or record.revoked is not None:
            raise InputError(f"no active key named {name!r}")
        records[name] = KeyRecord(record.name, record.sha256, record.created, _now())
        self._write(records)

    def check(self, key: str) -> KeyRecord | None:
        """The active record ``key`` belongs to, else None (unknown or revoked)."""
        digest = _digest(key)
        found = None
        for record in self.records():  # every record compared: no timing hint of which matched
            if hmac.compare_digest(record.sha256, digest) and record.revoked is None:
                found = record
        return found

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, {}
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = {d["name"]: KeyRecord(d["name"], d["sha256"], d["created"], d.get("revoked"))
                       for d in data["keys"]}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{self.path}: unreadable key file ({type(err).__name__}: {err})") from None
        self._stamp, self._records = stamp, records

    def _write(self, records: dict[str, KeyRecord]) -> None:
        body = {"keys": [vars(r) for r in records.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, (json.dumps(body, indent=1) + "\n").encode(), overwrite=True)
        os.chmod(self.path, 0o600)
