"""The manifest repository: manifests kept beside the files they sign, found again by a soft
binding (watermark content id, fingerprint) when a copy has lost its embedded credentials.

``open_store(url_or_path)`` picks the backend: ``postgresql://...`` (or ``postgres://``) is
PostgreSQL, anything else a SQLite file (``sqlite:///path`` or a plain path); None is the default
SQLite file ``manifests.db`` in ``$TRUSTGEN_HOME``. psycopg and c2pa are imported only when used.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import (KEY_PREFIX, ManifestStore, Match, Record, Registration, RegistrationConflict,
                   StoreError)

__all__ = ["KEY_PREFIX", "ManifestStore", "Match", "Record", "Registration", "RegistrationConflict",
           "StoreError",
           "default_path", "open_store", "register"]

DEFAULT_FILE = "manifests.db"


def default_path() -> Path:
    from ..credentials.identity import default_home

    return default_home() / DEFAULT_FILE


def open_store(url_or_path: str | os.PathLike | None = None) -> ManifestStore:
    """The store at ``url_or_path`` (see the module doc), its schema migrated to this version."""
    target = default_path() if url_or_path is None else url_or_path
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgresql import PostgresStore

        return PostgresStore(text)
    if "://" in text and not text.startswith("sqlite://"):
        raise StoreError(f"unknown manifest store URL {text.split('://')[0]}://...; use a file "
                         "path, sqlite:///path or postgresql://...")
    from .sqlite import SqliteStore

    return SqliteStore(text.removeprefix("sqlite://") if text.startswith("sqlite://") else text)


def register(data: bytes, *, store: "str | os.PathLike | ManifestStore | None" = None,
             path: str | os.PathLike | None = None) -> bool:
    """Register a signed file's manifest in ``store`` (a store, a URL or path; None: the default
    file); False when it was there already. ``StoreError`` when the store cannot be used."""
    from .ingest import registration

    reg = registration(data, path=path)
    if isinstance(store, ManifestStore):
        return store.add(reg)
    with open_store(store) as opened:
        return opened.add(reg)
