"""The PostgreSQL backend (psycopg 3): ``postgresql://user@host/db`` or a Unix-socket URL
(``postgresql:///db?host=/run/postgresql``). Registrations serialise on the primary key; schema
migrations take an advisory lock so two processes opening a fresh database do not race."""

from __future__ import annotations

import re

from .base import ConcurrentInsert, ManifestStore, StoreError, describe

#: Seconds to wait for the server before reporting it unreachable.
CONNECT_TIMEOUT = 10
_MIGRATION_LOCK = 0x74727573  # any constant shared by every trustgen process


def redact(url: str) -> str:
    """The URL with any password replaced, fit for an error message."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresStore(ManifestStore):
    backend = "postgresql"
    bytes_type = "BYTEA"
    placeholder = "%s"

    def __init__(self, url: str, *, connect_timeout: int = CONNECT_TIMEOUT):
        super().__init__(redact(url))
        try:
            import psycopg
        except ImportError as err:
            from ..errors import DependencyError

            raise DependencyError(f"a PostgreSQL manifest store needs `pip install 'psycopg[binary]'` "
                                  f"({err.name or err} is not installed)") from None
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, connect_timeout=connect_timeout, autocommit=False)
        except psycopg.Error as err:
            raise StoreError(f"cannot reach the manifest store at {self.location}: {describe(err)}") from None
        self.migrate()

    def _connection(self):
        return self._conn

    def _begin(self, cur) -> None:
        pass  # psycopg opens a transaction on the first statement

    def _migration_lock(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def _translate(self, err: Exception) -> StoreError | None:
        psycopg = self._psycopg
        if isinstance(err, psycopg.errors.UniqueViolation):
            return ConcurrentInsert("another process registered the same manifest at the same moment")
        if isinstance(err, psycopg.OperationalError):
            return StoreError(f"lost the manifest store at {self.location}: {describe(err)}")
        if isinstance(err, psycopg.Error):
            return StoreError(f"manifest store error at {self.location}: {describe(err)}")
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
