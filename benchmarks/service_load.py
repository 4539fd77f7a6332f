"""The verification service under load: the highest request rate it serves within 250 ms.

    python benchmarks/service_load.py [--quick] [--rates 5,10,20,40] [--requests 10000]
        [--workers 1] [--verifiers 2] [--detector] [--out PATH | --save]

Starts ``trustgen serve --open`` on a free 127.0.0.1 port and drives it with a bounded asyncio
client (httpx): at each rate, in rising order, a fixed number of ``POST /v1/verify`` requests is
sent on an open-loop schedule (request i at i / rate seconds, whatever the answers), so a slow
server cannot slow the client down and hide its queue; latency counts from the scheduled time.
A step passes with a 95th percentile at most 250 ms and no error (any status but 200, a
connection failure, or more than ``--max-in-flight`` requests waiting). The ramp stops at the
first failing step. Then the same ramp with 10% hostile uploads mixed in (a decompression bomb,
a truncated JPEG, a JPEG with a damaged C2PA box, the fuzz run's PNG that costs c2pa-rs 1.8 GB);
``clean_p95_ms`` is the 95th percentile of the clean uploads among them, i.e. how much the
hostile ones slow everyone else.

Inputs: 512 x 512 JPEGs cut from scikit-learn's sample photographs, and C2PA-signed fixtures
from ../shared when present. The server's resident memory (the uvicorn processes and their
verification processes together) is sampled every half second: first, peak and last per step.
The server's CPU time per request (all its processes, user + system) is recorded too: it is
what a request costs however loaded the machine is, and 1000 / it x cores bounds the rate.
The machine's load average is recorded: on a shared 2-core machine other jobs slow every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_output_options, destination

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "fixtures" / "c2pa" / "files"
TARGET_P95_MS = 250.0


# -- inputs ------------------------------------------------------------------------------------

def photos(n: int) -> list[tuple[str, bytes]]:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_image

    out, rng = [], np.random.default_rng(0)
    for i in range(n):
        src = load_sample_image(("china.jpg", "flower.jpg")[i % 2])
        y, x = rng.integers(0, src.shape[0] - 400), rng.integers(0, src.shape[1] - 400)
        img = Image.fromarray(np.ascontiguousarray(src[y:y + 400, x:x + 400])).resize((512, 512))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        out.append((f"photo-{i}.jpg", buf.getvalue()))
    for name in ("C.jpg", "CA.jpg", "XCA.jpg"):
        if (SHARED / name).is_file():
            out.append((name, (SHARED / name).read_bytes()))
    return out


def hostile() -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(REPO / "tests"))
    from service.hostile import malformed_app11, png_bomb, truncated

    base = (SHARED / "C.jpg").read_bytes() if (SHARED / "C.jpg").is_file() else photos(1)[0][1]
    out = [("bomb.png", png_bomb()), ("truncated.jpg", truncated(base))]
    if base.find(b"\xff\xeb") > 0:
        out.append(("app11.jpg", malformed_app11(base)))
    fuzz = REPO / "benchmarks/results/fuzz-findings/verify-00002a6822e8d19e.png"
    if fuzz.is_file():
        out.append(("fuzz.png", fuzz.read_bytes()))
    return out


# -- the server and its memory -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, ()))
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its living descendants."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            self.samples.append(rss_mb(self.pid))

    def take(self) -> list[float]:
        out, self.samples = self.samples, []
        return out


def start_server(args) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "trustgen", "serve", "--open", "--port", str(port),
           "--workers", str(args.workers), "--verifiers", str(args.verifiers),
           "--rate", "1000000", "--burst", "1000000", "--queue", "10000", "--log-level", "warning"]
    if SHARED.is_dir():
        trust = SHARED.parent / "trust"
        cmd += ["--trust-anchors", str(trust / "test_cert_root_bundle.pem"),
                "--trust-config", str(trust / "store.cfg")]
    if not args.detector:
        cmd.append("--no-detector")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise SystemExit("server not ready in 300 s")


# -- the load ----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else None


async def step(url: str, rate: float, count: int, files, max_in_flight: int,
               hostile_names: frozenset = frozenset()) -> dict:
    """``count`` requests at ``rate``/s on an open-loop schedule; the latencies of the clean
    uploads among them are also reported on their own."""
    import httpx

    latencies: list[float] = []
    clean: list[float] = []
    errors: dict[str, int] = {}
    in_flight = 0
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def one(due: float, name: str, data: bytes):
            nonlocal in_flight
            in_flight += 1
            try:
                r = await client.post("/v1/verify", params={"filename": name}, content=data)
                if r.status_code != 200:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
            finally:
                in_flight -= 1
            latencies.append(time.perf_counter() - due)
            if name not in hostile_names:
                clean.append(latencies[-1])

        tasks, start = [], time.perf_counter()
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= max_in_flight:
                errors["client_overload"] = errors.get("client_overload", 0) + 1
                continue
            name, data = files[i % len(files)]
            tasks.append(asyncio.create_task(one(due, name, data)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    return {"rate": rate, "requests": count, "seconds": round(wall, 2),
            "achieved_rate": round(len(latencies) / wall, 2),
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1.0),
            "clean_p95_ms": percentile(clean, 0.95), "errors": sum(errors.values()),
            "error_kinds": errors}


def ramp(url, sampler, rates, count, files, max_in_flight, label, hostile_names=frozenset()) -> list[dict]:
    rows = []
    for rate in rates:
        sampler.take()
        cpu = cpu_seconds(sampler.pid)
        row = asyncio.run(step(url, rate, count, files, max_in_flight, hostile_names))
        cpu_ms = (cpu_seconds(sampler.pid) - cpu) * 1000 / count
        rss = sampler.take() or [float("nan")]
        row.update(mix=label, server_cpu_ms_per_request=round(cpu_ms, 1), rss_first_mb=round(rss[0]), rss_peak_mb=round(max(rss)),
                   rss_last_mb=round(rss[-1]),
                   passed=row["p95_ms"] <= TARGET_P95_MS and row["errors"] == 0)
        rows.append(row)
        print(f"  {label}: {rate:g}/s  p95 {row['p95_ms']} ms  errors {row['errors']}  "
              f"RSS {row['rss_first_mb']}->{row['rss_peak_mb']}->{row['rss_last_mb']} MB", flush=True)
        if not row["passed"]:
            break
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="defaults for a quick look: 150 requests a step, rates 2,5,10,20")
    ap.add_argument("--rates", default=None,
                    help="comma-separated requests/s, tried in rising order (default 5,10,20,40,60,80)")
    ap.add_argument("--requests", type=int, default=None, help="requests per step (default 10000)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--verifiers", type=int, default=2)
    ap.add_argument("--detector", action="store_true", help="run the synthetic-image detector too")
    ap.add_argument("--max-in-flight", type=int, default=256)
    add_output_options(ap, "service_load.json")
    args = ap.parse_args()
    args.requests = args.requests or (150 if args.quick else 10_000)
    args.rates = args.rates or ("2,5,10,20" if args.quick else "5,10,20,40,60,80")
    rates = [float(r) for r in args.rates.split(",")]
    from tabulate import tabulate

    clean = photos(10)
    bad = hostile()
    mixed = []
    for i in range(10 * len(bad)):  # one hostile upload in ten
        mixed.append(bad[i // 10] if i % 10 == 9 else clean[i % len(clean)])
    proc, url = start_server(args)
    sampler = Sampler(proc.pid)
    sampler.start()
    idle = rss_mb(proc.pid)
    try:
        rows = ramp(url, sampler, rates, args.requests, clean, args.max_in_flight, "clean")
        rows += ramp(url, sampler, rates, args.requests, mixed, args.max_in_flight, "10% hostile",
                     frozenset(name for name, _ in bad))
    finally:
        sampler.stop.set()
        proc.terminate()
        proc.wait(60)

    def best(mix):
        ok = [r["rate"] for r in rows if r["mix"] == mix and r["passed"]]
        return max(ok) if ok else None

    result = {
        "benchmark": "service_load", "target_p95_ms": TARGET_P95_MS,
        "requests_per_step": args.requests, "workers": args.workers, "verifiers": args.verifiers,
        "detector": args.detector, "quick": args.quick, "idle_rss_mb": round(idle),
        "highest_passing_rate": {"clean": best("clean"), "10% hostile": best("10% hostile")},
        "steps": rows, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    cols = ("mix", "rate", "requests", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "clean_p95_ms",
            "errors",
            "server_cpu_ms_per_request",
            "rss_first_mb", "rss_peak_mb", "rss_last_mb", "passed")
    print(tabulate([[r[c] for c in cols] for r in rows], cols, tablefmt="simple"))
    print(f"highest rate with p95 <= {TARGET_P95_MS:g} ms and no error: "
          f"{result['highest_passing_rate']}  (idle RSS {result['idle_rss_mb']} MB, "
          f"load average {result['load_average'][0]:.1f} on {os.cpu_count()} CPUs)")
    out = destination(args, "service_load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
