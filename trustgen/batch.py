"""Verify many files: input discovery, parallel workers, a resumable verdict cache, a summary.

The cache is a JSON-lines file appended as each verdict completes (so an interrupted run keeps
what it finished), keyed by the file's SHA-256 and the verifier's fingerprint (policy text, trust
anchors, watermark keys, detector, trustgen version): a renamed copy is not verified twice, and a
change of policy or anchors never reuses a stale verdict. Inputs are only ever read, and each is
read and hashed once.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import InputError, file_error
from .evidence import Verdict
from .media import extensions, load, sha256_hex


def collect_inputs(paths: Iterable[str | os.PathLike], *, recursive: bool = False) -> list[Path]:
    """Files named directly, plus image files (by extension) inside folders, in a stable order.

    A folder is read one level deep unless ``recursive``; hidden files and folders are skipped.
    A named file is always kept, whatever its extension, so a wrong file gets its error row; so
    is a folder holding no image files, so that it is reported rather than silently dropped.
    """
    wanted = extensions(can_decode=True)
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            out.append(p)
            continue
        found = p.rglob("*") if recursive else p.iterdir()
        images = sorted(
            f for f in found
            if f.is_file() and f.suffix.lower() in wanted
            and not any(part.startswith(".") for part in f.relative_to(p).parts)
        )
        out += images or [p]
    return list(dict.fromkeys(out))


def cache_path(jsonl: str | os.PathLike) -> Path:
    """Where the resume cache of a JSON-lines report lives: beside it, ``OUT.jsonl.cache``."""
    return Path(f"{jsonl}.cache")


class VerdictCache:
    """Verdicts by (verifier fingerprint, content hash), persisted as JSON lines.

    A line that cannot be read (another tool's bytes, an unparsable record) only costs its
    file a new verification; ``skipped`` counts them. A last line cut short by a killed run is
    dropped before the next verdict is appended, so it cannot swallow that one.
    """

    def __init__(self, path: str | os.PathLike, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.skipped = 0
        self._lock = threading.Lock()
        self._verdicts: dict[str, Verdict] = {}
        self._cut_at = None  # where a cut-short last line starts
        if not self.path.is_file():
            return
        try:
            with open(self.path, "rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        self._cut_at = fh.tell() - len(line)
                    elif line.strip():
                        self._read(line)
        except OSError as err:
            raise InputError(f"cannot read the resume cache: {err.strerror or err}",
                             path=self.path) from None

    def _read(self, line: bytes) -> None:
        try:
            entry = json.loads(line)
            if entry.get("fingerprint") == self.fingerprint:
                self._verdicts[entry["sha256"]] = Verdict.from_dict(entry["verdict"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.skipped += 1  # not UTF-8, not JSON, nested past the parser, another schema

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, key: str) -> Verdict | None:
        """The verdict cached under ``key``: the file's SHA-256 (plus a detached manifest's)."""
        return self._verdicts.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        """Append one verdict. A failed write (a full disk) names the cache and takes back what
        it wrote, leaving no part line and no empty file."""
        line = json.dumps({"fingerprint": self.fingerprint, "sha256": key, "verdict": verdict.to_dict()})
        data = (line + "\n").encode()
        with self._lock:
            self._verdicts[key] = verdict
            fd, start = None, 0
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                if self._cut_at is not None:
                    os.ftruncate(fd, self._cut_at)
                    self._cut_at = None
                start = os.fstat(fd).st_size
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except OSError as err:
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                        if start == 0:
                            self.path.unlink()
                raise InputError(f"cannot write the resume cache: {err.strerror or err}",
                                 path=self.path) from None
            finally:
                if fd is not None:
                    os.close(fd)


def verify_batch(
    paths: Iterable[Path], verifier, *, workers: int = 1, cache: VerdictCache | None = None,
    detached: bytes | None = None,
) -> Iterator[tuple[Verdict, bool]]:
    """``(verdict, from_cache)`` per input, in input order, with ``workers`` threads.

    Any failure on one file, including an unexpected crash inside a decoder, becomes that
    file's ``error`` verdict; the batch goes on. A verdict read with a detached manifest is
    cached under the file's and the manifest's hashes together.
    """
    detached_sha = None if detached is None else sha256_hex(detached)

    def one(path: Path) -> tuple[Verdict, bool]:
        if path.is_dir():
            return verifier.error(path, f"{path}: folder holds no image files"), False
        try:
            media = load(path)
        except Exception as err:  # noqa: BLE001 - one file's failure is its own row
            return verifier.error(path, str(file_error(err, path))), False
        key = media.sha256 if detached_sha is None else f"{media.sha256}+{detached_sha}"
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            return cached.at_path(str(path)), True
        verdict = verifier.verify(media, detached=detached)  # crashes become error verdicts
        if cache is not None and verdict.label != "error":
            cache.put(key, verdict)
        return verdict, False

    paths = list(paths)
    if workers <= 1:
        yield from map(one, paths)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trustgen-verify")
    try:
        yield from pool.map(one, paths)
    finally:  # interrupted: finish (and cache) what is running, drop what has not started
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class BatchSummary:
    """What a batch run found: every verdict in input order, how many came from the cache,
    and how many of the cache's lines could not be read."""

    verdicts: list[Verdict] = field(default_factory=list)
    from_cache: int = 0
    cache_skipped: int = 0

    @property
    def errors(self) -> int:
        return sum(v.label == "error" for v in self.verdicts)

    @property
    def failed(self) -> int:
        """Files read but not passing the policy."""
        return sum(not v.passed for v in self.verdicts) - self.errors

    @property
    def passed(self) -> int:
        return len(self.verdicts) - self.failed - self.errors

    @property
    def exit_code(self) -> int:
        """2 when a file could not be read, else 1 when one did not pass, else 0."""
        return 2 if self.errors else 1 if self.failed else 0


def verify_files(
    paths: Iterable[str | os.PathLike], verifier, *, recursive: bool = False, workers: int = 1,
    jsonl: str | os.PathLike | None = None, use_cache: bool = True, detached: bytes | None = None,
    on_verdict: Callable[[Verdict, bool, int], None] | None = None,
) -> BatchSummary:
    """Verify files and folders. With ``jsonl`` (and ``use_cache``) verdicts are cached beside it
    so an interrupted run resumes; ``on_verdict(verdict, from_cache, total)`` is called as each
    one completes, in input order."""
    inputs = collect_inputs(paths, recursive=recursive)
    if detached is not None and len(inputs) != 1:
        raise InputError(f"a detached manifest goes with exactly one file, not {len(inputs)}")
    cache = None
    if jsonl is not None and use_cache:
        cache = VerdictCache(cache_path(jsonl), verifier.fingerprint)
    summary = BatchSummary(cache_skipped=cache.skipped if cache is not None else 0)
    for verdict, cached in verify_batch(inputs, verifier, workers=workers, cache=cache,
                                        detached=detached):
        summary.verdicts.append(verdict)
        summary.from_cache += cached
        if on_verdict is not None:
            on_verdict(verdict, cached, len(inputs))
    return summary


def write_reports(verdicts: list[Verdict], *, policy: str, jsonl=None, csv=None, html=None,
                  overwrite: bool = False, workers: int = 1) -> list[Path]:
    """Write the reports asked for (each atomically); the paths written, in that order."""
    from . import report
    from .media import atomic_write

    renderers = {
        "jsonl": lambda: report.render_jsonl(verdicts),
        "csv": lambda: report.render_csv(verdicts),
        "html": lambda: report.render_html(verdicts, policy=policy, workers=workers),
    }
    written = []
    for kind, out in (("jsonl", jsonl), ("csv", csv), ("html", html)):
        if out is not None:
            written.append(atomic_write(out, renderers[kind](), overwrite=overwrite))
    return written
