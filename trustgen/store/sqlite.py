"""The SQLite backend: one file (default ``manifests.db`` in ``$TRUSTGEN_HOME``), WAL mode so
readers never wait for a writer, a busy timeout so several processes can register at once, and
``BEGIN IMMEDIATE`` so each registration's check-then-insert is one atomic step."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .base import ManifestStore, StoreError, describe

#: How long a write waits for another process's transaction before giving up (seconds).
BUSY_TIMEOUT = 30.0


class SqliteStore(ManifestStore):
    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, *, timeout: float = BUSY_TIMEOUT):
        self.path = Path(path).expanduser()
        super().__init__(str(self.path))
        self.timeout = timeout
        if self.path.is_dir():
            raise StoreError("is a folder, not a manifest store file", path=self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the manifest store: {describe(err)}", path=self.path) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as err:
            self._conn.close()
            raise self._translate(err) from None
        self.migrate()

    def _connection(self):
        return self._conn

    def _begin(self, cur) -> None:
        cur.execute("BEGIN IMMEDIATE")  # take the write lock now: check-then-insert is atomic

    def _translate(self, err: Exception) -> StoreError | None:
        if not isinstance(err, sqlite3.Error):
            return None
        text = describe(err)
        if "locked" in text or "busy" in text:
            return StoreError(f"the manifest store is locked by another process (waited "
                              f"{self.timeout:g} s): {text}", path=self.path)
        if isinstance(err, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text
                                                       or "corrupt" in text):
            return StoreError(f"not a usable manifest store (corrupt or not SQLite): {text}", path=self.path)
        return StoreError(f"manifest store error: {text}", path=self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
