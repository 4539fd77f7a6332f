"""Fuzz trustgen with hostile files: the long run behind issue 16's reliability claim.

    python benchmarks/fuzz.py [--inputs 20000] [--workers 2] [--seed 0] [--time-limit 10]
        [--memory-cap-mb 4096] [--memory-budget-mb 1024] [--targets verify,watermark,...]
        [--out benchmarks/results/fuzz.json] [--crashers DIR] [--work DIR]
    python benchmarks/fuzz.py --replay CRASHER [--work DIR]   # one saved input, with its traceback
    kill -USR1 PID   # stop early: the chunks under way finish and the report says how many ran

Input ``i`` is a function of ``--seed`` and ``i`` alone: a target, a seed file and one to three
mutations (tests/fuzz/mutations.py, shared with the property tests), so any finding is
reproduced from its index, and the driver regenerates the input itself when a worker hangs or
dies on it. The seed files (small images of every decodable format, files signed by a
development identity, the C2PA conformance files and their manifests moved into small images,
bombs, the shipped policies) are built once into ``--work`` and reused, so a rerun with the
same work folder and seed runs the same inputs (signatures differ between work folders).

Targets and what counts against them:
- ``verify``: ``Verifier(detector=False).verify_bytes(data)``; ``verify+detector`` the same
  with the shipped detector, on a slice. Any exception escaping is a *crash*; an ``error``
  verdict naming an internal exception ("verification crashed: OverflowError: ...") is a
  *traceback* (the verifier caught it, but it is still a bug); a verdict whose ``to_dict`` breaks the JSON Schema, does not round-trip or is not
  strict JSON is an *invalid output*.
- ``detect``: ``media.decode_image`` then ``SyntheticImageDetector.load().predict_proba``, as
  ``detectors.score_files`` does; ``watermark``: ``decode_image`` then ``watermark.detect``;
  ``policy``: ``Policy.load`` on a mutated shipped policy. A crash is an exception other than
  ``TrustgenError`` (for ``policy``: other than ``PolicyError``).
- For every target: a *hang* is an input still running after ``--time-limit`` seconds (the
  worker is killed and restarted); *died* is a worker killed by a signal (a segfault, an
  abort); *memory error* a ``MemoryError`` under the cap (``RLIMIT_AS`` at the worker's address
  space after warm-up plus ``--memory-cap-mb``); *over budget* an input whose resident memory
  rose more than ``--memory-budget-mb`` above what the worker held just before it (the kernel's
  exact high-water mark, reset before each input).
Inputs that finished are counted ``ok`` or ``rejected`` (a ``TrustgenError``, or an ``error``
verdict that is not a traceback), with the most common rejection reasons.

Each worker runs single-threaded (torch, OpenCV, BLAS) so ``--workers`` matches the cores.
Most inputs fail fast at decoding and most seed images are under the watermark reader's 64 px,
so an input costs about 6 ms of CPU on average: 1,000,000 take about 50 minutes on two idle
cores (the report's ``estimated_s_for_1m_inputs_from_cpu``; its wall-clock estimate counts
whatever else the machine was running).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))  # mutations.py, shared with the property tests
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _results.py, when loaded by path

import mutations
from _results import add_output_options, destination  # noqa: E402

#: Share of the inputs each target gets: most go through the full verifier without the detector
#: (its network costs more than everything else together); a slice runs with it.
TARGETS = {"verify": 0.62, "verify+detector": 0.02, "detect": 0.05, "watermark": 0.11,
           "policy": 0.20}
#: Share of the image inputs drawn from each seed family: full-size conformance files and bombs
#: cost seconds each, so they get few inputs (bombs: about 800 in a million).
FAMILIES = {"raster": 0.55, "signed": 0.27, "transplant": 0.1625, "fixture": 0.0165,
            "bomb": 0.001}
ROUNDS = {0: 0.03, 1: 0.62, 2: 0.23, 3: 0.12}  # mutations per input (0: the seed itself)
CHUNK = 20  # inputs handed to a worker at a time
KEEP_PER_CLASS = 5  # reproducing inputs saved per finding class
FINDINGS = ("crash", "traceback", "invalid-output", "memory-error", "hang", "died", "over-budget")
C2PA_FIXTURES = REPO.parent / "shared" / "fixtures" / "c2pa" / "files"


def _weighted(rng: random.Random, table: dict):
    return rng.choices(list(table), weights=list(table.values()))[0]


# --- the corpus and the inputs -------------------------------------------------------------------


class Corpus:
    """The seed files, built once into ``folder`` and read back by every process."""

    def __init__(self, folder: Path):
        index = json.loads((folder / "corpus.json").read_text())
        self.seeds = [mutations.Seed(name, (folder / file).read_bytes()) for name, file in index]
        self.by_family: dict[str, list] = collections.defaultdict(list)
        for seed in self.seeds:
            self.by_family[seed.family].append(seed)
        self.images = tuple(s.data for s in self.seeds if s.family in ("raster", "signed"))
        digest = hashlib.sha256()
        for seed in self.seeds:
            digest.update(seed.name.encode() + b"\0" + hashlib.sha256(seed.data).digest())
        self.sha256 = digest.hexdigest()

    @staticmethod
    def build(folder: Path, identity) -> None:
        seeds = (mutations.raster_seeds() + mutations.signed_seeds(identity)
                 + (mutations.fixture_seeds(C2PA_FIXTURES) if C2PA_FIXTURES.is_dir() else [])
                 + mutations.bomb_seeds() + mutations.policy_seeds())
        folder.mkdir(parents=True, exist_ok=True)
        index = []
        for k, seed in enumerate(seeds):
            file = f"{k:03d}-{seed.name.replace('/', '-')}"
            (folder / file).write_bytes(seed.data)
            index.append([seed.name, file])
        (folder / "corpus.json").write_text(json.dumps(index, indent=1))


def make_input(corpus: Corpus, seed: int, index: int, targets: dict) -> dict:
    """Input ``index`` of the run with ``seed``: its target, bytes, seed file and mutations."""
    rng = random.Random(f"trustgen-fuzz:{seed}:{index}")
    target = _weighted(rng, targets)
    rounds = _weighted(rng, ROUNDS)
    if target == "policy":
        source = rng.choice(corpus.by_family["policy"])
        data, names = mutations.mutate_policy(source.data, rng, rounds=max(rounds, 1))
    else:
        families = {f: w for f, w in FAMILIES.items() if corpus.by_family.get(f)}
        source = rng.choice(corpus.by_family[_weighted(rng, families)])
        data, names = mutations.mutate_image(source.data, rng, rounds=rounds, others=corpus.images)
    return {"index": index, "target": target, "data": data, "seed_file": source.name,
            "mutations": names}


# --- running one input ---------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0][:300]


def _frames(tb) -> list[str]:
    """The innermost frames of a traceback, paths shortened to the package."""
    out = []
    for frame in traceback.extract_tb(tb)[-5:]:
        path = re.sub(r"^.*/(site-packages|trustgen|detectors|benchmarks)/", r"\1/", frame.filename)
        out.append(f"{path}:{frame.lineno} {frame.name}")
    return out


class Runner:
    """What a worker holds: the verifiers, the detector, the schema validator, a policy folder."""

    def __init__(self, targets: dict, work: Path, name: str):
        import jsonschema

        from trustgen.evidence import verdict_schema
        from trustgen.verify import Verifier

        self.verifiers = {"verify": Verifier("default", detector=False)}
        self.detector = None
        if any(t in targets for t in ("verify+detector", "detect")):
            from detectors import SyntheticImageDetector

            self.detector = SyntheticImageDetector.load()
            self.verifiers["verify+detector"] = Verifier("default", detector=self.detector)
        schema = verdict_schema()
        self.validator = jsonschema.validators.validator_for(schema)(schema)
        self.folder = work / name
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "key.bin").write_bytes(bytes(range(32)))
        home = Path(os.environ["TRUSTGEN_HOME"])
        (self.folder / "anchors.pem").write_bytes((home / "root-ca.pem").read_bytes())
        self.policy_path = self.folder / "policy.toml"

    def run(self, target: str, data: bytes) -> tuple[str, dict]:
        """(outcome, detail): outcome ``ok``, ``rejected`` or a finding kind."""
        try:
            return self._run(target, data)
        except MemoryError:
            return "memory-error", {"type": "MemoryError", "message": ""}
        except Exception as err:  # noqa: BLE001 - classifying exactly this is the point
            from trustgen.errors import PolicyError, TrustgenError

            allowed = PolicyError if target == "policy" else TrustgenError
            if isinstance(err, allowed) and not target.startswith("verify"):
                return "rejected", {"type": type(err).__name__, "message": _first_line(err)}
            return "crash", {"type": type(err).__name__, "message": _first_line(err),
                             "frames": _frames(err.__traceback__)}

    def _run(self, target: str, data: bytes) -> tuple[str, dict]:
        import numpy as np

        if target.startswith("verify"):
            return self._verdict(self.verifiers[target].verify_bytes(data))
        if target == "policy":
            from trustgen.policy import Policy

            self.policy_path.write_bytes(data)
            Policy.load(self.policy_path)
            return "ok", {}
        from trustgen.media import decode_image

        image = decode_image(data, path="input", rgb=target == "detect")
        if target == "detect":
            p = float(self.detector.predict_proba([image])[0, 1])
            if not 0.0 <= p <= 1.0:
                return "invalid-output", {"type": "probability", "message": repr(p)}
            return "ok", {}
        from trustgen import watermark

        found = watermark.detect(image)
        if found.p_value is not None and not (0.0 <= found.p_value <= 1.0 and np.isfinite(found.p_value)):
            return "invalid-output", {"type": "p_value", "message": repr(found.p_value)}
        return "ok", {}

    def _verdict(self, verdict) -> tuple[str, dict]:
        from trustgen.evidence import Verdict

        problem = None
        try:
            as_dict = verdict.to_dict()
            self.validator.validate(as_dict)
            json.dumps(as_dict, allow_nan=False)
            if Verdict.from_dict(as_dict) != verdict:
                problem = "does not round-trip through to_dict/from_dict"
        except Exception as err:  # noqa: BLE001 - any failure here is the finding
            problem = f"{type(err).__name__}: {_first_line(err)}"
        if problem:
            return "invalid-output", {"type": "verdict", "message": problem}
        error, manifest = verdict.evidence.error, verdict.evidence.c2pa
        notes = {"c2pa_error": _first_line(manifest.reason or "")} if manifest and manifest.state == "error" else {}
        if error is None:
            return "ok", {"label": verdict.label, **notes}
        crashed = re.search(r"crashed: (\w+)(?:: ?(.*))?", error)
        if crashed:
            kind = "memory-error" if crashed.group(1) == "MemoryError" else "traceback"
            return kind, {"type": crashed.group(1), "message": _first_line(crashed.group(2) or ""), **notes}
        return "rejected", {"type": "error verdict", "message": _first_line(error), **notes}


def _status_kb(*fields: str) -> list[int]:
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in fields:
                values[key] = int(rest.split()[0])
    return [values[f] for f in fields]


def _reset_peak() -> bool:
    """Reset the kernel's resident-memory high-water mark (VmHWM) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def worker_main(wid: int, conn, config: dict) -> None:
    """Run the chunks the parent sends, one result message per input."""
    work = Path(config["work"])
    log = os.open(work / f"worker-{wid}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)  # native decoders' and c2pa's chatter stays out of the table
    import warnings

    warnings.simplefilter("ignore")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    targets = config["targets"]
    if "verify+detector" in targets or "detect" in targets:
        import torch

        torch.set_num_threads(1)
    corpus = Corpus(work / "corpus")
    runner = Runner(targets, work, f"worker-{wid}")
    for target in targets:  # warm-up: lazy imports, c2pa contexts, the network's first call
        seed = corpus.by_family["policy" if target == "policy" else "signed"][0]
        runner.run(target, seed.data)
    resettable = _reset_peak()
    baseline, vm = _status_kb("VmRSS", "VmSize")
    cap = vm * 1024 + config["memory_cap_mb"] * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    conn.send(("ready", wid, baseline, resettable))
    while True:
        chunk = conn.recv()
        if chunk is None:
            return
        for index in range(*chunk):
            item = make_input(corpus, config["seed"], index, targets)
            _reset_peak()
            (before,) = _status_kb("VmRSS")
            start, cpu = time.perf_counter(), time.process_time()
            outcome, detail = runner.run(item["target"], item["data"])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            peak, rss = _status_kb("VmHWM", "VmRSS")
            if outcome in FINDINGS:
                detail["data"] = item["data"]
            conn.send(("result", index, item["target"], outcome, seconds, cpu,
                       max(0, peak - before), rss, detail))


# --- the parent: hand out work, watch the clock, count --------------------------------------------


class Tally:
    """Counts per target, finding classes with their examples, the slowest and largest inputs."""

    def __init__(self, crashers: Path, corpus: Corpus, config: dict):
        self.crashers, self.corpus, self.config = crashers, corpus, config
        self.targets: dict[str, dict] = {}
        self.classes: dict[tuple, dict] = {}
        self.rejections: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.c2pa_errors: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def target(self, name: str) -> dict:
        return self.targets.setdefault(name, {
            "inputs": 0, "ok": 0, "rejected": 0, **{k: 0 for k in FINDINGS}, "seconds": 0.0,
            "cpu_seconds": 0.0,
            "max_seconds": 0.0, "max_seconds_input": None, "max_rss_above_before_mb": 0.0,
            "max_rss_input": None, "labels": collections.Counter()})

    def add(self, index: int, target: str, outcome: str, seconds: float, cpu: float,
            peak_kb: int, detail: dict) -> None:
        t = self.target(target)
        t["inputs"] += 1
        t[outcome] += 1
        t["seconds"] += seconds
        t["cpu_seconds"] += cpu
        if seconds > t["max_seconds"]:
            t["max_seconds"], t["max_seconds_input"] = seconds, index
        if peak_kb / 1024 > t["max_rss_above_before_mb"]:
            t["max_rss_above_before_mb"], t["max_rss_input"] = peak_kb / 1024, index
        if "label" in detail:
            t["labels"][detail["label"]] += 1
        if "c2pa_error" in detail:
            self.c2pa_errors[target][_normalise(detail["c2pa_error"])] += 1
        if outcome == "rejected":
            self.rejections[target][_normalise(f"{detail['type']}: {detail['message']}")] += 1
        elif outcome in FINDINGS:
            self.finding(index, target, outcome, detail)
        if peak_kb / 1024 > self.config["memory_budget_mb"] and outcome != "memory-error":
            t["over-budget"] += 1
            self.finding(index, target, "over-budget",
                         {"type": "rss", "message": f"{peak_kb / 1024:.0f} MB above the RSS before it"})

    def finding(self, index: int, target: str, kind: str, detail: dict) -> None:
        data = detail.get("data")
        if data is None:  # a hang or a death: the worker could not say; regenerate the input
            data = make_input(self.corpus, self.config["seed"], index, self.config["targets"])["data"]
        key = (target, kind, detail.get("type", ""), _normalise(detail.get("message", "")))
        entry = self.classes.setdefault(key, {
            "target": target, "kind": kind, "type": key[2], "message": detail.get("message", ""),
            "count": 0, "first_input": index, "frames": detail.get("frames", []), "files": []})
        entry["count"] += 1
        if len(entry["files"]) < KEEP_PER_CLASS:
            item = make_input(self.corpus, self.config["seed"], index, self.config["targets"])
            name = f"{target}-{hashlib.sha256(data).hexdigest()[:16]}{_extension(target, data)}"
            self.crashers.mkdir(parents=True, exist_ok=True)
            (self.crashers / name).write_bytes(data)
            entry["files"].append({"file": name, "input": index, "seed_file": item["seed_file"],
                                   "mutations": item["mutations"]})


def _normalise(message: str) -> str:
    """A message with its numbers and addresses blanked, so one defect is one class."""
    return re.sub(r"0x[0-9a-fA-F]+|\d+", "N", message)[:200]


def _extension(target: str, data: bytes) -> str:
    if target == "policy":
        return ".toml"
    from trustgen.media import lookup, sniff_format

    fmt = lookup(sniff_format(data))
    return fmt.extension if fmt else ".bin"


class Worker:
    def __init__(self, wid: int, ctx, config: dict):
        self.wid, self.ctx, self.config = wid, ctx, config
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker_main, args=(self.wid, child, self.config),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.chunk: tuple[int, int] | None = None
        self.next_index = 0
        self.since = time.monotonic()

    def give(self, chunk: tuple[int, int] | None) -> None:
        self.chunk = chunk
        self.conn.send(chunk)
        if chunk is not None:
            self.next_index, self.since = chunk[0], time.monotonic()

    def kill(self) -> None:
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join()
        self.conn.close()


def run(args) -> dict:
    from tabulate import tabulate

    from trustgen.credentials import Identity

    work = args.work.resolve()
    home = work / "home"
    os.environ["TRUSTGEN_HOME"] = str(home)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    identity = Identity.load(home) if (home / "signing-key.pem").is_file() else Identity.init(home)
    if args.fresh_corpus or not (work / "corpus" / "corpus.json").is_file():
        Corpus.build(work / "corpus", identity)
    corpus = Corpus(work / "corpus")
    targets = {t: w for t, w in TARGETS.items() if t in args.targets}
    config = {"work": str(work), "seed": args.seed, "targets": targets,
              "memory_cap_mb": args.memory_cap_mb, "memory_budget_mb": args.memory_budget_mb}
    tally = Tally(args.crashers.resolve(), corpus, config)
    chunks = collections.deque((a, min(a + CHUNK, args.inputs)) for a in range(0, args.inputs, CHUNK))
    ctx = multiprocessing.get_context("spawn")
    started = time.monotonic()
    workers = [Worker(w, ctx, config) for w in range(args.workers)]
    baselines, resettable, last_rss, restarts = {}, True, {}, 0
    done = last_report = 0
    stopped = []  # SIGUSR1: hand out no more work, finish the chunks under way, report honestly

    def stop(*_):
        stopped.append(done)
        chunks.clear()

    signal.signal(signal.SIGUSR1, stop)
    while any(w.proc is not None for w in workers):
        live = {w.conn: w for w in workers if w.proc is not None}
        for conn in wait(list(live), timeout=0.2):
            w = live[conn]
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                continue  # the death is handled below
            if msg[0] == "ready":
                w.ready = True
                baselines.setdefault(w.wid, msg[2])
                resettable &= msg[3]
                w.give(chunks.popleft() if chunks else None)
            else:
                _, index, target, outcome, seconds, cpu, peak_kb, rss, detail = msg
                tally.add(index, target, outcome, seconds, cpu, peak_kb, detail)
                last_rss[w.wid] = rss
                done += 1
                w.next_index, w.since = index + 1, time.monotonic()
                if index + 1 == w.chunk[1]:
                    w.give(chunks.popleft() if chunks else None)
        now = time.monotonic()
        for w in workers:
            if w.proc is None:
                continue
            if w.chunk is None and w.ready:
                w.proc.join(timeout=0)
                if not w.proc.is_alive():
                    w.proc = None
                continue
            hung = w.chunk is not None and now - w.since > args.time_limit
            dead = not w.proc.is_alive()
            if not w.ready:
                if dead or now - w.since > 600:
                    raise SystemExit(f"worker {w.wid} did not start; see {work}/worker-{w.wid}.log")
                continue
            if not (hung or dead):
                continue
            while w.conn.poll():  # results sent before it died, or just before the deadline
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    break
                tally.add(*msg[1:7], msg[8])
                done += 1
                w.next_index, hung = msg[1] + 1, False
            if not (hung or dead) or w.chunk is None:
                continue
            index = w.next_index
            w.kill()
            if index < w.chunk[1]:
                target = make_input(corpus, args.seed, index, targets)["target"]
                kind = "hang" if hung else "died"
                why = (f"still running after {args.time_limit:g} s" if hung
                       else f"worker ended by {_signal_name(w.proc.exitcode)}")
                tally.add(index, target, kind, now - w.since if hung else 0.0, 0.0, 0,
                          {"type": kind, "message": why})
                done += 1
                if index + 1 < w.chunk[1]:
                    chunks.appendleft((index + 1, w.chunk[1]))
            restarts += 1
            w.start()
        if now - last_report > 15:
            last_report = now
            found = sum(c["count"] for c in tally.classes.values())
            print(f"  {done}/{args.inputs} inputs, {done / (now - started):.1f}/s, "
                  f"{found} findings, {restarts} restarts", file=sys.stderr, flush=True)
    for w in workers:
        if w.proc is not None:
            w.proc.join()
    wall = time.monotonic() - started

    rows, per_target = [], {}
    for name in targets:
        t = tally.target(name)
        labels = t.pop("labels")
        per_target[name] = {
            **{k: v for k, v in t.items() if k not in ("seconds", "cpu_seconds")},
            "cpu_ms_per_input": round(1000 * t["cpu_seconds"] / t["inputs"], 2) if t["inputs"] else None,
            "max_seconds": round(t["max_seconds"], 3),
            "max_rss_above_before_mb": round(t["max_rss_above_before_mb"], 1),
            "inputs_per_s_one_worker": round(t["inputs"] / t["seconds"], 1) if t["seconds"] else None,
            "labels": dict(labels.most_common()),
            "top_rejections": dict(tally.rejections[name].most_common(12)),
            "top_c2pa_errors": dict(tally.c2pa_errors[name].most_common(12)),
        }
        rows.append([name, t["inputs"], t["ok"], t["rejected"], t["crash"], t["traceback"],
                     t["invalid-output"], t["hang"], t["died"], t["memory-error"],
                     t["over-budget"], f"{t['max_rss_above_before_mb']:.0f}",
                     f"{t['max_seconds']:.2f}", per_target[name]["inputs_per_s_one_worker"]])
    print(tabulate(rows, headers=["target", "inputs", "ok", "rejected", "crash", "traceback",
                                  "invalid", "hang", "died", "MemoryError", "over budget",
                                  "max RSS MB", "max s", "inputs/s (1 worker)"]))
    classes = sorted(tally.classes.values(), key=lambda c: (FINDINGS.index(c["kind"]), -c["count"]))
    for c in classes:
        print(f"  {c['kind']:<14} {c['target']:<16} x{c['count']:<5} {c['type']}: "
              f"{c['message'][:90]}  [{c['files'][0]['file'] if c['files'] else ''}]")
    rate = done / wall
    totals = {k: sum(t[k] for t in per_target.values()) for k in ("inputs", *FINDINGS)}
    cpu = sum(t["cpu_seconds"] for t in tally.targets.values())
    return {
        "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:]),
        "seed": args.seed, "inputs": done, "inputs_requested": args.inputs,
        "stopped_early": bool(stopped), "workers": args.workers,
        "time_limit_s": args.time_limit, "memory_cap_mb": args.memory_cap_mb,
        "memory_budget_mb": args.memory_budget_mb, "target_shares": targets,
        "family_shares": FAMILIES, "wall_s": round(wall, 1), "inputs_per_s": round(rate, 1),
        "estimated_s_for_1m_inputs": round(1e6 / rate) if rate else None,
        # what the inputs cost in CPU, spread over the workers: the same estimate on a machine
        # nobody else is using (this one's load average is in "machine")
        "estimated_s_for_1m_inputs_from_cpu": round(1e6 * cpu / done / args.workers) if done else None,
        "worker_restarts": restarts,
        "rss_baseline_mb": {w: round(kb / 1024, 1) for w, kb in baselines.items()},
        "rss_drift_mb": max((round((last_rss[w] - baselines[w]) / 1024, 1) for w in last_rss),
                            default=None),
        "peak_method": "VmHWM reset per input" if resettable else "VmHWM (not resettable here)",
        "totals": totals, "targets": per_target,
        "findings": classes,
        "corpus": {"seeds": len(corpus.seeds), "sha256": corpus.sha256,
                   "families": {f: len(s) for f, s in corpus.by_family.items()}},
        "machine": _machine(),
    }


def _signal_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return f"exit status {code}"


def _machine() -> dict:
    from importlib.metadata import version

    from trustgen import __version__

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
            "trustgen": __version__, "commit": commit + ("+changes" if dirty else ""),
            "pillow": version("pillow"), "c2pa": version("c2pa-python"),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# --- replaying one saved input ---------------------------------------------------------------------


def replay(path: Path, work: Path) -> int:
    """Run a saved input through the target its name starts with, printing what escapes."""
    os.environ["TRUSTGEN_HOME"] = str(work.resolve() / "home")
    target = next((t for t in sorted(TARGETS, key=len, reverse=True) if path.name.startswith(t + "-")), None)
    if target is None:
        raise SystemExit(f"{path}: the file name does not start with a target ({', '.join(TARGETS)})")
    data = path.read_bytes()
    runner = Runner({target: 1.0}, work.resolve(), "replay")
    outcome, detail = runner.run(target, data)
    print(f"{target}: {outcome}: {detail.get('type', '')}: {detail.get('message', '')}")
    for frame in detail.get("frames", []):
        print("   ", frame)
    if outcome == "traceback":  # the verifier turned it into a verdict: catch it in flight
        raised = _traced(lambda: runner.run(target, data), detail["type"])
        if raised:
            traceback.print_exception(*raised)
    return 0 if outcome in ("ok", "rejected") else 1


def _traced(call, type_name: str):
    """The last exception named ``type_name`` seen propagating while ``call()`` ran, with the
    traceback from the outermost frame it reached, or None."""
    seen = []

    def tracer(frame, event, arg):
        if event == "exception" and arg[0].__name__ == type_name:
            seen.append(arg)
        return tracer

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return seen[-1] if seen else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per input")
    ap.add_argument("--memory-cap-mb", type=int, default=4096,
                    help="address space each worker may add after warm-up (RLIMIT_AS)")
    ap.add_argument("--memory-budget-mb", type=int, default=1024,
                    help="resident memory one input may add (issue 16's target: 1 GB)")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    type=lambda s: [t for t in s.split(",") if t])
    add_output_options(ap, "fuzz.json")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "trustgen-fuzz",
                    help="seed files and the identity that signed them, reused between runs")
    ap.add_argument("--crashers", type=Path, default=None,
                    help="where reproducing inputs go (default: WORK/crashers)")
    ap.add_argument("--fresh-corpus", action="store_true", help="rebuild the seed files")
    ap.add_argument("--replay", type=Path, help="run one saved input and show its traceback")
    args = ap.parse_args(argv)
    args.out = destination(args, "fuzz.json")
    if args.replay:
        return replay(args.replay, args.work)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown or not args.targets:
        ap.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    args.crashers = args.crashers or args.work / "crashers"
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['inputs']} inputs in {report['wall_s']} s ({report['inputs_per_s']}/s; "
          f"1,000,000 would take ~{math.ceil(report['estimated_s_for_1m_inputs'] / 60)} min); "
          f"wrote {args.out}")
    return 1 if any(report["totals"][k] for k in FINDINGS) else 0


if __name__ == "__main__":
    sys.exit(main())
