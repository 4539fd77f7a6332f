"""Verification in child processes, where a crash or a runaway file cannot reach the server.

Each HTTP worker owns a few verification processes; each loads its ``Verifier`` objects (one
per allowed policy, sharing one detector) once, then verifies one upload at a time. A file that
takes longer than the time limit gets its process killed and replaced (the request gets 504);
a file that crashes its process (a native reader aborting, the memory limit hit) gets an
``error`` verdict. c2pa-rs can allocate gigabytes on a damaged manifest, so each process runs
with a limit on its data memory (``RLIMIT_DATA``, Linux): past it c2pa-rs reports an allocation
failure, a read error, in a fraction of the time (``benchmarks/results/fuzz-findings``: 1.8 GB
and 4 s unlimited, 0.45 s and an ``error`` state at a 1 GiB limit).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import TrustgenError
from .config import ServiceConfig
from .limits import ServiceError

#: How long a verification process may take to load its verifiers (the detector is the slow part).
STARTUP_SECONDS = 300


class Timeout(Exception):
    pass


class Crashed(Exception):
    pass


def _limit_memory(mb: int | None) -> None:
    """Let this process's data grow by at most ``mb`` MiB from now (Linux: from ``VmData``)."""
    try:
        import resource

        with open("/proc/self/status") as fh:
            data_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmData:"))
    except (ImportError, OSError, StopIteration):  # not Linux: no limit
        return
    if mb:
        limit = data_kb * 1024 + mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def build_verifiers(config: ServiceConfig) -> dict[str, Any]:
    """One ``Verifier`` per allowed policy, by policy name; the detector is loaded once."""
    from ..verify import Verifier

    verifiers: dict[str, Any] = {}
    detector: Any = config.detector  # True: load it (once); then the loaded one is passed on
    for source in config.policies:
        verifier = Verifier.from_options(source, trust_anchors=config.trust_anchors,
                                         trust_config=config.trust_config, detector=detector,
                                         stores=None if config.store is None else [config.store])
        if verifier.detector is not None:
            detector = verifier.detector
        verifiers[verifier.policy.name] = verifier
    return verifiers


def describe(verifiers: dict[str, Any]) -> dict[str, Any]:
    """What ``/readyz`` reports: the policies, how many anchors each trusts, the detector."""
    return {
        "policies": {name: {"anchors": v.trust.anchors_pem.count("BEGIN CERTIFICATE"),
                            "watermark_keys": len(v.watermark_keys),
                            "detector": None if v.detector is None else str(v.detector.model_id)}
                     for name, v in verifiers.items()},
    }


def _child(conn, config_json: str) -> None:
    """A verification process: load, say ready, then answer one message at a time."""
    import json
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server shuts it down, not Ctrl-C
    warnings.simplefilter("ignore")  # libraries' warnings on hostile files: not log lines
    config = ServiceConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in json.loads(config_json).items()})
    try:
        verifiers = build_verifiers(config)
    except Exception as err:  # noqa: BLE001 - reported by /readyz, not as a traceback
        conn.send(("failed", str(err) if isinstance(err, TrustgenError)
                   else f"{type(err).__name__}: {err}"))
        return
    _warm_up(verifiers)
    _limit_memory(config.file_memory_mb)
    conn.send(("ready", {**describe(verifiers), "pid": os.getpid()}))
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        if kind == "verify":
            data, filename, policy = payload
            result = verifiers[policy].verify_bytes(data, filename).to_dict()
        elif kind == "render":
            verdicts, uploads, policy = payload
            result = render(verdicts, uploads, verifiers[policy].policy)
        else:
            result = None
        conn.send(("ok", result))


def render(verdicts: list[dict], uploads: list[tuple[bytes, str]] | None, policy) -> bytes:
    """The HTML report of ``verdicts``; previews decoded from ``uploads`` (None: no previews,
    which reads and decodes nothing)."""
    from ..evidence import Verdict
    from ..report import render_html

    return render_html([Verdict.from_dict(v) for v in verdicts], policy=policy,
                       title="Verification", thumbnails=uploads is not None,
                       media={name: data for data, name in uploads or ()})


def _warm_up(verifiers: dict[str, Any]) -> None:
    """Verify a small picture once under each policy: the readers and decoders load on first
    use, and that second or so belongs to start-up, not to the first request's time limit."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (90, 120, 150)).save(buf, "JPEG")
    for verifier in verifiers.values():
        verifier.verify_bytes(buf.getvalue(), "warm-up.jpg")


class _Process:
    """One verification process and its pipe; its methods block, so they run in threads."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.proc = None
        self.conn = None
        self.info: dict | None = None

    def start(self) -> dict:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child, self.config.to_env()),
                                name="trustgen-verifier", daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        if not parent.poll(STARTUP_SECONDS):
            self.kill()
            raise TrustgenError(f"a verification process did not start in {STARTUP_SECONDS} s")
        try:
            status, info = parent.recv()
        except EOFError:
            raise TrustgenError("a verification process died while loading its verifiers") from None
        if status != "ready":
            raise TrustgenError(info)
        self.info = info
        return info

    def call(self, message: tuple, timeout: float):
        try:
            self.conn.send(message)
            if not self.conn.poll(timeout):
                raise Timeout
            _, result = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            raise Crashed from None
        return result

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()

    def stop(self) -> None:
        """Close the pipe: the process sees end-of-file and exits after its current file."""
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None:
            self.proc.join(self.config.time_limit + 1)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)


class VerifierPool:
    """``config.verifiers`` processes; at most ``config.queue`` more requests wait for one."""

    def __init__(self, config: ServiceConfig, metrics):
        self.config, self.metrics = config, metrics
        self._procs = [_Process(config) for _ in range(config.verifiers)]
        self._executor = ThreadPoolExecutor(2 * config.verifiers, thread_name_prefix="verifier")
        self._idle: asyncio.Queue | None = None
        self._admitted = 0  # requests verifying or waiting for a process
        self.ready = False
        self.info: dict | None = None
        self.failure: str | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        try:
            infos = await asyncio.gather(*(loop.run_in_executor(self._executor, p.start)
                                           for p in self._procs))
        except TrustgenError as err:
            self.failure = str(err)
            raise
        self.info = {k: v for k, v in infos[0].items() if k != "pid"}
        for p in self._procs:
            self._idle.put_nowait(p)
        self.ready = True

    async def run(self, message: tuple) -> Any:
        """The process's answer to ``message``; ``Timeout`` or ``Crashed`` when it has none.
        A process goes back to the pool when its call ends, even if the request was cancelled
        meanwhile; one that timed out or crashed is replaced first."""
        if not self.ready:
            raise ServiceError(503, "not_ready", "the verifiers are still loading",
                               headers={"Retry-After": "5"})
        if self._admitted >= self.config.verifiers + self.config.queue:
            raise ServiceError(503, "busy", "every verification process is busy and the queue "
                               "is full; retry shortly", headers={"Retry-After": "1"})
        self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            proc = await self._idle.get()
            while not proc.alive():  # died while idle (killed from outside): replace it
                self.metrics.restarts.inc()
                loop.run_in_executor(self._executor, self._replace, proc, loop)
                proc = await self._idle.get()
            call = loop.run_in_executor(self._executor, proc.call, message, self.config.time_limit)
            call.add_done_callback(lambda done: self._release(proc, done, loop))
            self.metrics.in_flight.inc()
            try:
                return await asyncio.shield(call)
            finally:
                self.metrics.in_flight.dec()
        finally:
            self._admitted -= 1

    def _release(self, proc: _Process, call: asyncio.Future, loop) -> None:
        if call.cancelled() or call.exception() is not None:
            self.metrics.restarts.inc()
            loop.run_in_executor(self._executor, self._replace, proc, loop)
        else:
            self._idle.put_nowait(proc)

    def _replace(self, proc: _Process, loop) -> None:
        proc.kill()
        while True:
            try:
                proc.start()
                break
            except TrustgenError:
                time.sleep(1)
        loop.call_soon_threadsafe(self._idle.put_nowait, proc)

    def close(self) -> None:
        self.ready = False
        for p in self._procs:
            p.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
