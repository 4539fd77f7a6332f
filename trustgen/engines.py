"""Where a batch's per-file work runs: threads of this process, or actors of a Ray cluster.

Both engines run the same function on each file (``examine``: read, hash, skip what the
resume cache holds, verify, and turn any failure into that file's ``error`` verdict) and yield
results in input order; only where it runs differs. The Ray engine builds one ``Verifier`` per
actor from ``VerifierOptions`` (data that pickles: a verifier's loaded detector does not travel),
sends paths and receives verdicts as JSON, so every node must see the input files at the same
paths (a shared filesystem). Ray is imported only here, only when the Ray engine runs.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Container, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DependencyError, TrustgenError, one_line

if TYPE_CHECKING:
    from .evidence import Verdict
    from .verify import Verifier

#: The engine names ``verify --engine`` and ``verify_files(engine=...)`` accept.
ENGINES = ("local", "ray")

#: Files per Ray task: small enough to balance slow files across actors and to show
#: progress, large enough that Ray's per-task cost (about 2 ms) stays well under 1%.
RAY_BATCH_SIZE = 16

#: What a result is turned into where it lands: ``settle(path, cache key, verdict)``, the
#: verdict ``None`` when the key was in the cache.
Settle = Callable[[Path, "str | None", "Verdict | None"], Any]


class VerifierOptions:
    """What a ``Verifier`` is built from: ``Verifier.from_options``'s arguments (those of
    ``trustgen verify``), kept as data that pickles so that each Ray actor builds its own
    verifier once; a built verifier's detector does not travel."""

    def __init__(self, policy: Any = "default", **options: Any):
        self.policy = policy
        self.options = options

    def __repr__(self) -> str:
        return f"VerifierOptions({self.policy!r}, **{self.options!r})"

    def build(self) -> Verifier:
        from .verify import Verifier

        return Verifier.from_options(self.policy, **self.options)


def examine(path: Path, verifier, *, cached: Container[str] = (), detached: bytes | None = None,
            detached_sha: str | None = None) -> tuple[str | None, Verdict | None]:
    """One file's ``(cache key, verdict)``; the verdict is ``None`` when ``cached`` holds the key.

    Any failure, including an unexpected crash inside a decoder, becomes the file's ``error``
    verdict (with no key). A reading with a detached manifest is keyed by the file's and the
    manifest's hashes together.
    """
    from .errors import file_error
    from .media import load

    if path.is_dir():
        return None, verifier.error(path, f"{path}: folder holds no image files")
    try:
        media = load(path)
    except Exception as err:  # noqa: BLE001 - one file's failure is its own row
        return None, verifier.error(path, str(file_error(err, path)))
    key = media.sha256 if detached_sha is None else f"{media.sha256}+{detached_sha}"
    if key in cached:
        return key, None
    return key, verifier.verify(media, detached=detached)  # crashes become error verdicts


class LocalEngine:
    """Threads of this process sharing one verifier (a ``Verifier`` is thread-safe)."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = workers

    def run(self, paths: Sequence[Path], verifier, *, cached: Container[str] = (),
            detached: bytes | None = None, settle: Settle) -> Iterator:
        from .media import sha256_hex

        detached_sha = None if detached is None else sha256_hex(detached)

        def one(path: Path):
            return settle(path, *examine(path, verifier, cached=cached, detached=detached,
                                         detached_sha=detached_sha))

        if self.workers <= 1:
            yield from map(one, paths)
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="trustgen-verify")
        try:
            yield from pool.map(one, paths)
        finally:  # interrupted: finish (and cache) what is running, drop what has not started
            pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """A Ray Data actor pool, one ``Verifier`` per actor, built once from ``options``.

    With no ``address`` Ray starts on this machine with all its cores (and stops after the
    run); ``address`` is a running cluster's (``ray start --head`` prints it; ``auto`` finds
    one on this machine). When this process already runs Ray (``ray.init`` was called), that
    session is used as it is. ``actors`` defaults to one per CPU of the cluster.
    Each result is settled (cached) on this machine as it arrives, so an interrupted run
    keeps every verdict it received.
    """

    name = "ray"

    def __init__(self, options: VerifierOptions, *, address: str | None = None,
                 actors: int | None = None, batch_size: int = RAY_BATCH_SIZE):
        if not isinstance(options, VerifierOptions):
            raise ConfigError("the Ray engine builds a verifier in each worker: pass "
                              "trustgen.engines.VerifierOptions, not a Verifier")
        self.options = options
        self.address = address
        self.actors = actors
        self.batch_size = batch_size

    def run(self, paths: Sequence[Path], verifier, *, cached: Container[str] = (),
            detached: bytes | None = None, settle: Settle) -> Iterator:
        """Results in input order; ``verifier`` (this machine's) checks that every actor
        built the same one (same fingerprint: trustgen version, policy, anchors, detector)."""
        from .evidence import Verdict
        from .media import budget

        ray = require_ray()
        paths = list(paths)
        if not paths:
            return
        with _session(ray, self.address), _quiet(ray):
            actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
            env = {k: os.environ[k] for k in ("TRUSTGEN_HOME",) if k in os.environ}
            items = [{"index": i, "path": os.fsencode(p)} for i, p in enumerate(paths)]
            setup = {"options": self.options, "fingerprint": verifier.fingerprint,
                     "cached": frozenset(cached), "detached": detached, "budget": budget(),
                     "cwd": os.getcwd()}
            with warnings.catch_warnings():  # max_restarts: no named parameter yet (Ray 2.60)
                warnings.simplefilter("ignore")
                dataset = ray.data.from_items(items).map_batches(
                    _RayWorker, fn_constructor_kwargs=setup, batch_size=self.batch_size,
                    batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                    num_cpus=1, runtime_env={"env_vars": env} if env else None,
                    # an actor that dies (a node lost, a native crash) fails the run, which
                    # resumes from the cache; restarting would retry a crashing file forever
                    max_restarts=0)
            done: dict[int, Any] = {}
            upto = 0
            batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
            try:
                for batch in batches:
                    for index, key, text, problem in zip(batch["index"], batch["key"],
                                                         batch["verdict"], batch["problem"]):
                        if problem:
                            raise ConfigError(f"a Ray worker cannot verify: {problem}")
                        verdict = Verdict.from_json(text) if text else None
                        done[int(index)] = settle(paths[index], key or None, verdict)
                    while upto in done:
                        yield done.pop(upto)
                        upto += 1
            except ray.exceptions.RayError as err:
                raise TrustgenError(f"the Ray run failed: {_cause(err)}; verdicts received so "
                                    "far are in the resume cache (--jsonl): run again to resume"
                                    ) from None
            finally:  # stopped early (an error, an interrupt): stop the actor pool now
                batches.close()


class _RayWorker:
    """One Ray actor: builds its verifier once, then examines batches of paths.

    A verifier that cannot be built, or that differs from the one on the machine that started
    the run (another trustgen version or policy on that node), is reported with every batch
    instead of raised, so that the run stops with one line rather than Ray's retries.
    """

    def __init__(self, *, options, fingerprint, cached, detached, budget, cwd):
        from .media import set_budget, sha256_hex

        with contextlib.suppress(OSError):  # relative paths are the driver's
            os.chdir(cwd)
        set_budget(budget)
        self.cached, self.detached = cached, detached
        self.detached_sha = None if detached is None else sha256_hex(detached)
        self.problem = ""
        try:
            self.verifier = options.build()
        except TrustgenError as err:
            self.problem = str(err)
            return
        if self.verifier.fingerprint != fingerprint:
            from ._version import __version__

            self.problem = (f"its verifier differs from this machine's (trustgen {__version__} "
                            "there; check the version, policy and anchors on every node)")

    def __call__(self, batch: dict) -> dict:
        keys, verdicts = [], []
        for raw in batch["path"]:
            if self.problem:
                key, verdict = None, None
            else:
                key, verdict = examine(Path(os.fsdecode(raw)), self.verifier, cached=self.cached,
                                       detached=self.detached, detached_sha=self.detached_sha)
            keys.append(key or "")
            verdicts.append("" if verdict is None else verdict.to_json())
        return {"index": batch["index"], "key": keys, "verdict": verdicts,
                "problem": [self.problem] * len(keys)}


def require_ray():
    """The ``ray`` module, or a ``DependencyError`` saying how to install it."""
    try:
        import ray
        import ray.data  # the extra installs ray[data]
    except ImportError:
        raise DependencyError("the ray engine needs `pip install 'trustgen[ray]'`") from None
    return ray


@contextlib.contextmanager
def _session(ray, address: str | None):
    """Ray for one run: the caller's session if there is one, else a new one stopped after.

    Quiet: no dashboard, workers' output kept in Ray's logs (under the system temp folder),
    and Ray's own messages only when they are errors.
    """
    if ray.is_initialized():
        yield
        return
    import logging

    if address:
        _check_reachable(address)
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:  # "local" ignores RAY_ADDRESS: no --ray-address means this machine's cores
            ray.init(address="local", include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = ("; a cluster with token authentication (Ray's default) also needs "
                "RAY_AUTH_MODE=token and its token here" if address and address != "auto"
                and "RAY_AUTH_MODE" not in os.environ else "")
        raise ConfigError(f"cannot start or reach {where}: {_cause(err).split('. ')[0]}{hint}"
                          ) from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Refuse an address nothing listens on within seconds: Ray itself retries for minutes."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not (sep and port.isdigit()):
        return  # "auto", or a form Ray checks itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: "
                          f"{err.strerror or err}") from None


@contextlib.contextmanager
def _quiet(ray):
    """No progress bars or execution notes from Ray Data on stderr: trustgen shows its own."""
    import logging

    context, logger = ray.data.DataContext.get_current(), logging.getLogger("ray.data")
    saved = context.enable_progress_bars, logger.level
    context.enable_progress_bars = False
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.enable_progress_bars = saved[0]
        logger.setLevel(saved[1])


def _cause(err: BaseException) -> str:
    """Ray's error folded to one line, its first line only (the rest is a remote traceback)."""
    text = str(getattr(err, "cause", None) or err).strip().splitlines()
    return one_line(text[0] if text else type(err).__name__)[:300]
