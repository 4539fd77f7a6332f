"""Verify folders of images: input discovery, parallel workers, and a resumable verdict cache.

The cache is a JSON-lines file appended as each verdict completes (so an interrupted run keeps
what it finished), keyed by the file's SHA-256 and the verifier's fingerprint (policy text, trust
anchors, watermark keys, detector, trustgen version): a renamed copy is not verified twice, and a
change of policy or anchors never reuses a stale verdict. Inputs are only ever read.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from .errors import InputError
from .imageio import FORMATS_BY_EXTENSION, read_file, sha256_hex


def collect_inputs(paths: Iterable[str | os.PathLike], *, recursive: bool = False) -> list[Path]:
    """Files named directly, plus image files (by extension) inside folders, in a stable order.

    A folder is read one level deep unless ``recursive``; hidden files and folders are skipped.
    A named file is always kept, whatever its extension, so a wrong file gets its error row; so
    is a folder holding no image files, so that it is reported rather than silently dropped.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            out.append(p)
            continue
        found = p.rglob("*") if recursive else p.iterdir()
        images = sorted(
            f for f in found
            if f.is_file() and f.suffix.lower() in FORMATS_BY_EXTENSION
            and not any(part.startswith(".") for part in f.relative_to(p).parts)
        )
        out += images or [p]
    return list(dict.fromkeys(out))


class VerdictCache:
    """Verdict records by (verifier fingerprint, content hash), persisted as JSON lines."""

    def __init__(self, path: str | os.PathLike, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # the last line of an interrupted run may be cut short
                    if entry.get("fingerprint") == fingerprint:
                        self._records[entry["sha256"]] = entry["record"]

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> dict | None:
        """The record cached under ``key``: the file's SHA-256 (plus a detached manifest's)."""
        return self._records.get(key)

    def put(self, key: str, record: dict) -> None:
        line = json.dumps({"fingerprint": self.fingerprint, "sha256": key, "record": record})
        with self._lock:
            self._records[key] = record
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")


def verify_batch(
    paths: Iterable[Path], verifier, *, workers: int = 1, cache: VerdictCache | None = None,
    detached: bytes | None = None,
) -> Iterator[tuple[dict, bool]]:
    """``(record, from_cache)`` per input, in input order, with ``workers`` threads.

    A record is ``Verdict.to_dict()``. Any failure on one file, including an unexpected crash
    inside a decoder, becomes that file's ``error`` record; the batch goes on. A verdict read
    with a detached manifest is cached under the file's and the manifest's hashes together.
    """

    def one(path: Path) -> tuple[dict, bool]:
        if path.is_dir():
            return verifier.error(path, f"{path}: folder holds no image files").to_dict(), False
        try:
            data = read_file(path)
        except InputError as err:
            return verifier.error(path, str(err)).to_dict(), False
        sha = sha256_hex(data)
        key = sha if detached_sha is None else f"{sha}+{detached_sha}"
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            return {**cached, "path": str(path)}, True
        # verify_bytes turns any crash into an error verdict: the batch goes on
        record = verifier.verify_bytes(data, filename=str(path), detached=detached).to_dict()
        if cache is not None and record["verdict"] != "error":
            cache.put(key, record)
        return record, False

    detached_sha = None if detached is None else sha256_hex(detached)

    paths = list(paths)
    if workers <= 1:
        yield from map(one, paths)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trustgen-verify")
    try:
        yield from pool.map(one, paths)
    finally:  # interrupted: finish (and cache) what is running, drop what has not started
        pool.shutdown(wait=True, cancel_futures=True)
