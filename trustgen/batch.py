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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import InputError
from .evidence import Verdict
from .media import extensions


class Inputs(list):
    """The files to verify (a list of paths), and what the folders held that was left out:
    ``skipped`` maps a reason ("hidden", "unsupported type (.txt)") to how many files, and
    ``subfolders`` counts the folders a run without ``recursive`` did not enter."""

    def __init__(self, files=(), skipped: dict[str, int] | None = None, subfolders: int = 0):
        super().__init__(files)
        self.skipped = dict(skipped or {})
        self.subfolders = subfolders

    def skipped_line(self) -> str | None:
        """``skipped 3 files: 2 unsupported type (.txt), 1 hidden``, or None when nothing was."""
        total = sum(self.skipped.values())
        parts = []
        if total:
            why = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items(), key=lambda i: -i[1]))
            parts.append(f"{total} file{'s' if total > 1 else ''}: {why}")
        if self.subfolders:
            parts.append(f"{self.subfolders} subfolder{'s' if self.subfolders > 1 else ''} "
                         "(--recursive enters them)")
        return f"skipped {'; '.join(parts)}" if parts else None


#: How many unsupported extensions the skipped line names before "...".
_NAMED_EXTENSIONS = 4


def collect_inputs(paths: Iterable[str | os.PathLike], *, recursive: bool = False) -> Inputs:
    """Files named directly, plus the files of every media type trustgen verifies (by
    extension: ``media.extensions()``) inside folders, in a stable order.

    A folder is read one level deep unless ``recursive``; hidden files and folders are skipped,
    and every file left out is counted by reason. A named file is always kept, whatever its
    extension, so a wrong file gets its error row; so is a folder holding no file to verify, so
    that it is reported rather than silently dropped.
    """
    wanted = extensions()
    out: list[Path] = []
    unsupported: dict[str, int] = {}
    skipped: dict[str, int] = {}
    subfolders = 0
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            out.append(p)
            continue
        found, kept = p.rglob("*") if recursive else p.iterdir(), []
        for f in found:
            if f.is_dir():
                subfolders += not recursive and not f.name.startswith(".")
            elif any(part.startswith(".") for part in f.relative_to(p).parts):
                skipped["hidden"] = skipped.get("hidden", 0) + 1
            elif not f.is_file():
                skipped["not a regular file"] = skipped.get("not a regular file", 0) + 1
            elif f.suffix.lower() in wanted:
                kept.append(f)
            else:
                ext = f.suffix.lower() or "no extension"
                unsupported[ext] = unsupported.get(ext, 0) + 1
        out += sorted(kept) or [p]
    if unsupported:
        named = sorted(unsupported, key=lambda e: (-unsupported[e], e))
        kinds = ", ".join(named[:_NAMED_EXTENSIONS]) + (", ..." if len(named) > _NAMED_EXTENSIONS else "")
        skipped[f"unsupported type ({kinds})"] = sum(unsupported.values())
    return Inputs(dict.fromkeys(out), skipped, subfolders)


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

    def keys(self):
        """The cached keys, a live view: what an engine may skip."""
        return self._verdicts.keys()

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
    detached: bytes | None = None, engine=None,
) -> Iterator[tuple[Verdict, bool]]:
    """``(verdict, from_cache)`` per input, in input order, on ``engine`` (by default
    ``workers`` threads of this process; see ``trustgen.engines``).

    Any failure on one file, including an unexpected crash inside a decoder, becomes that
    file's ``error`` verdict; the batch goes on. A verdict read with a detached manifest is
    cached under the file's and the manifest's hashes together.
    """
    from .engines import LocalEngine

    def settle(path: Path, key: str | None, verdict: Verdict | None) -> tuple[Verdict, bool]:
        if verdict is None:  # the engine found the key in the cache
            return cache.get(key).at_path(str(path)), True
        if cache is not None and verdict.label != "error":
            cache.put(key, verdict)
        return verdict, False

    engine = engine or LocalEngine(workers)
    yield from engine.run(list(paths), verifier, cached=() if cache is None else cache.keys(),
                          detached=detached, settle=settle)


@dataclass
class BatchSummary:
    """What a batch run found: every verdict in input order, how many came from the cache,
    how many of the cache's lines could not be read, and the policy's name."""

    verdicts: list[Verdict] = field(default_factory=list)
    from_cache: int = 0
    cache_skipped: int = 0
    policy: str = ""  # the name of the policy that judged them

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
    paths: Iterable[str | os.PathLike], verifier, *, recursive: bool = False,
    from_list: str | os.PathLike | None = None, workers: int = 1, engine: str = "local",
    ray_address: str | None = None, jsonl: str | os.PathLike | None = None,
    use_cache: bool = True, detached: bytes | None = None,
    on_verdict: Callable[[Verdict, bool, int], None] | None = None,
) -> BatchSummary:
    """Verify files, folders and glob patterns, and the files listed in ``from_list`` (see
    ``input_paths``). With ``jsonl`` (and ``use_cache``) verdicts are cached beside it so an
    interrupted run resumes; ``on_verdict(verdict, from_cache, total)`` is called as each one
    completes, in input order.

    ``verifier`` is a ``Verifier`` or ``trustgen.engines.VerifierOptions`` (built once here).
    ``engine`` is ``"local"`` (``workers`` threads) or ``"ray"`` (an actor pool on the Ray
    cluster at ``ray_address``, else on this machine), which needs ``VerifierOptions`` to build
    a verifier in each actor; the verdicts, reports and cache are the same.
    """
    from .engines import ENGINES, LocalEngine, RayEngine, VerifierOptions, require_ray

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    inputs = collect_inputs(input_paths(paths, from_list=from_list), recursive=recursive)
    if detached is not None and len(inputs) != 1:
        raise InputError(f"a detached manifest goes with exactly one file, not {len(inputs)}")
    if engine == "ray":
        require_ray()  # before the verifier loads: a missing extra is one quick line
        runner = RayEngine(verifier, address=ray_address)
    else:
        runner = LocalEngine(workers)
    if isinstance(verifier, VerifierOptions):
        verifier = verifier.build()
    cache = None
    if jsonl is not None and use_cache:
        cache = VerdictCache(cache_path(jsonl), verifier.fingerprint)
    summary = BatchSummary(policy=verifier.policy.name,
                           cache_skipped=cache.skipped if cache is not None else 0)
    for verdict, cached in verify_batch(inputs, verifier, cache=cache, detached=detached,
                                        engine=runner):
        summary.verdicts.append(verdict)
        summary.from_cache += cached
        if on_verdict is not None:
            on_verdict(verdict, cached, len(inputs))
    return summary


def input_paths(paths: Iterable[str | os.PathLike], *,
                from_list: str | os.PathLike | None = None) -> list[Path]:
    """The paths of a batch: each given path, a glob pattern (``**`` for any depth) expanded
    in sorted order when no file has that name (a pattern matching nothing stays, to be
    reported as missing), then the lines of ``from_list`` (``-``: standard input).

    A list has one path a line, taken literally (no patterns), relative to the working
    folder; blank lines and lines starting with ``#`` are skipped. Patterns let a batch
    name more files than a command line holds, and let a cluster job name its files.
    """
    import glob

    out: list[Path] = []
    for raw in paths:
        text = os.fspath(raw)
        if any(c in text for c in "*?[") and not os.path.lexists(text):
            out += sorted(map(Path, glob.glob(text, recursive=True))) or [Path(text)]
        else:
            out.append(Path(text))
    if from_list is not None:
        try:
            if os.fspath(from_list) == "-":
                import sys

                data = sys.stdin.buffer.read()
            else:
                data = Path(from_list).read_bytes()
        except OSError as err:
            raise InputError(f"cannot read the list of files: {err.strerror or err}",
                             path=from_list) from None
        lines = (os.fsdecode(line.rstrip(b"\r")) for line in data.split(b"\n"))
        out += [Path(line) for line in lines if line.strip() and not line.startswith("#")]
    return out


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
