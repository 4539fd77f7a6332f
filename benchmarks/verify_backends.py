"""The slim verifier (detector on onnxruntime) against the torch detector, side by side.

    python benchmarks/verify_backends.py [--images 60] [--repeats 5] [--worker-calls 2000]
        [--out DIR | --save]

Same inputs as verify_speed.py (512x512 JPEGs from real photographs: signed, watermarked,
plain), every signal on (C2PA under the local identity's anchor, every default watermark
scheme, the detector). For each backend, in one run so that the machine's load hits both:
- ``Verifier.verify_bytes`` images/s with 1 and 2 threads sharing one Verifier (target >= 60
  on 2 threads), medians over ``--repeats`` passes after a warm-up;
- CPU ms per image of each signal on its own (c2pa, decode, watermark, detector);
- cold start: ``trustgen verify one.jpg`` in a fresh process, wall clock to its exit (target
  <= 2 s), and that process's peak RSS;
- worker RSS: a fresh process holding one Verifier, after ``--worker-calls`` calls (target
  <= 400 MB steady) and its growth after the first 10 %;
- the detector alone at onnxruntime intra-op threads 1 and 2 (what ``THREADS`` is set from).
torch runs with 1 intra-op thread (the verifier's callers are the threads). The machine's load
average is recorded; on a shared machine read the ratios, not the absolute figures.
Writes ``verify_backends.json`` to ``--out`` (default: a temporary folder; ``--save``:
benchmarks/results).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("onnx", "torch")


def _verify_speed():
    spec = importlib.util.spec_from_file_location("verify_speed",
                                                  REPO / "benchmarks" / "verify_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use_backend(backend: str) -> None:
    """Make verification load ``backend``'s detector (torch: the safetensors checkpoint)."""
    if backend == "torch":
        import importlib

        import torch

        from detectors.model import SyntheticImageDetector

        torch.set_num_threads(1)
        # the module, not ``trustgen.verify`` (the package's ``verify`` function shadows it)
        verify_module = importlib.import_module("trustgen.verify")
        verify_module._load_detector = SyntheticImageDetector.load  # the benchmark's switch


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``VmHWM``: its peak). Not ``ru_maxrss``, which keeps
    the parent's peak across fork and exec."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith(field + ":"))


# -- children: each measure that needs a fresh process -------------------------------------------

def child_cold(backend: str, path: str) -> None:
    use_backend(backend)
    from trustgen.cli import main

    sys.argv = ["trustgen", "verify", path]
    try:
        main()
    except SystemExit:
        pass
    print(json.dumps({"peak_rss_mb": round(rss_mb("VmHWM"), 1)}), file=sys.stderr)


def child_worker(backend: str, folder: str, calls: int) -> None:
    use_backend(backend)
    from trustgen.verify import Verifier

    images = [p.read_bytes() for p in sorted(Path(folder).glob("*.jpg"))]
    verifier = Verifier("default")
    early = None
    for i in range(calls):
        verifier.verify_bytes(images[i % len(images)])
        if i + 1 == max(1, calls // 10):
            early = rss_mb()
    print(json.dumps({"rss_early_mb": round(early, 1), "rss_final_mb": round(rss_mb(), 1),
                      "peak_rss_mb": round(rss_mb("VmHWM"), 1)}))


def _child(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", *args], check=False,
                          capture_output=True, text=True, env=os.environ)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"child {args[0]} failed: {proc.stderr[-2000:]}")
    return proc, wall


# -- in-process measures -------------------------------------------------------------------------

def throughput(verifier, images, threads: int) -> tuple[float, float]:
    """(images/s by the wall clock, CPU ms per image)."""
    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda data: verifier.verify_bytes(data), images))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(images) / wall, 1000 * cpu / len(images)


def signal_cpu_ms(verifier, images) -> dict:
    """Median CPU ms per image of each signal alone (one thread; onnxruntime's own threads
    count, as process CPU time)."""
    from trustgen.credentials.read import read_credentials
    from trustgen.media import decode_image
    from trustgen.watermark import detect

    gather = verifier.policy.gather
    steps = {
        "c2pa": lambda data, img: read_credentials(data, fmt="jpeg", trust=verifier.trust),
        "decode": lambda data, img: decode_image(data, rgb=True),
        "watermark": lambda data, img: detect(img, keys=verifier.watermark_keys,
                                              schemes=gather.watermark_schemes),
        "detector": lambda data, img: verifier.detector.predict_proba([img]),
    }
    costs = {name: [] for name in steps}
    for data in images:
        img = decode_image(data, rgb=True)
        for name, step in steps.items():
            t = time.process_time()
            step(data, img)
            costs[name].append(1000 * (time.process_time() - t))
    return {name: round(statistics.median(v), 2) for name, v in costs.items()}


def ort_threads(images, repeats: int) -> dict:
    """Detector ms per image (wall) at onnxruntime intra-op threads 1 and 2, one caller."""
    from detectors.inference import OnnxDetector
    from trustgen.media import decode_image

    decoded = [decode_image(d, rgb=True) for d in images]
    out = {}
    for threads in (1, 2):
        det = OnnxDetector.load(threads=threads)
        det.predict_proba(decoded[:2])
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            for img in decoded:
                det.predict_proba([img])
            runs.append(1000 * (time.perf_counter() - t) / len(decoded))
        out[f"intra_op_{threads}"] = round(statistics.median(runs), 2)
    return out


def detector_for(backend: str):
    if backend == "torch":
        use_backend("torch")
        from detectors.model import SyntheticImageDetector

        return SyntheticImageDetector.load()
    from detectors.inference import OnnxDetector

    return OnnxDetector.load()


def run_backends(backends, images, args, folder: Path) -> dict:
    """Every measure, the backends taking turns within each repeat, so that a change in the
    machine's load hits them alike."""
    from trustgen.verify import Verifier

    verifiers, out = {}, {}
    for b in backends:
        t = time.perf_counter()
        verifiers[b] = Verifier("default", detector=detector_for(b))
        out[b] = {"detector": repr(verifiers[b].detector),
                  "verifier_load_s": round(time.perf_counter() - t, 2),
                  "labels": sorted({verifiers[b].verify_bytes(d).label for d in images})}
    runs = {b: {"single": [], "double": [], "cold": []} for b in backends}
    first = str(sorted(folder.glob("*.jpg"))[0])
    for _ in range(args.repeats):
        for b in backends:
            runs[b]["single"].append(throughput(verifiers[b], images, 1))
            runs[b]["double"].append(throughput(verifiers[b], images, 2))
            runs[b]["cold"].append(_child("cold", b, first))
    for b in backends:
        r = runs[b]
        out[b].update({
            "images_per_s": {"threads_1": round(statistics.median(x for x, _ in r["single"]), 1),
                             "threads_2": round(statistics.median(x for x, _ in r["double"]), 1)},
            "cpu_ms_per_image": round(statistics.median(c for _, c in r["single"]), 1),
            "signal_cpu_ms_per_image": signal_cpu_ms(verifiers[b], images),
            "cold_start_s": round(statistics.median(w for _, w in r["cold"]), 2),
            "cold_start_peak_rss_mb": statistics.median(
                json.loads(p.stderr.strip().splitlines()[-1])["peak_rss_mb"] for p, _ in r["cold"]),
        })
    for b in backends:
        worker = _child("worker", b, str(folder), str(args.worker_calls))[0].stdout
        out[b]["worker"] = {"calls": args.worker_calls, **json.loads(worker)}
    return out


def _signal(name: str, result: dict) -> float:
    return result["signal_cpu_ms_per_image"][name]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--worker-calls", type=int, default=2000)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--out", type=Path, default=None, help="folder for verify_backends.json")
    ap.add_argument("--save", action="store_true", help="write to benchmarks/results")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        return child_cold(*rest) if kind == "cold" else child_worker(rest[0], rest[1], int(rest[2]))
    out_dir = REPO / "benchmarks" / "results" if args.save else args.out or Path(tempfile.mkdtemp())

    with tempfile.TemporaryDirectory(prefix="trustgen-backends-") as tmp:
        os.environ["TRUSTGEN_HOME"] = str(Path(tmp) / "home")  # never the user's identity
        from trustgen.credentials import Identity

        identity = Identity.init(os.environ["TRUSTGEN_HOME"])
        images = [data for _, data in _verify_speed().make_images(args.images, identity)]
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i, data in enumerate(images):
            (folder / f"{i:04d}.jpg").write_bytes(data)
        load = [os.getloadavg()[0]]
        results = run_backends(args.backends.split(","), images, args, folder)
        load.append(os.getloadavg()[0])
        threads = ort_threads(images, args.repeats) if "onnx" in results else None

    result = {"benchmark": "verify_backends",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(),
                          "load_average_1min": [round(x, 2) for x in load]},
              "images": {"count": len(images), "size": "512x512", "format": "jpeg"},
              "repeats": args.repeats, "backends": results, "onnx_detector_ms_by_threads": threads}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "verify_backends.json"
    path.write_text(json.dumps(result, indent=1) + "\n")

    names = list(results)
    rows = [("verify_bytes images/s, 1 thread", lambda r: r["images_per_s"]["threads_1"], ""),
            ("verify_bytes images/s, 2 threads", lambda r: r["images_per_s"]["threads_2"], ">= 60"),
            ("CPU ms/image, all signals", lambda r: r["cpu_ms_per_image"], ""),
            *[(f"  CPU ms/image, {s}", functools.partial(_signal, s), "")
              for s in ("c2pa", "decode", "watermark", "detector")],
            ("cold start to first verdict, s", lambda r: r["cold_start_s"], "<= 2"),
            ("cold start peak RSS, MB", lambda r: r["cold_start_peak_rss_mb"], ""),
            (f"worker RSS after {args.worker_calls} calls, MB",
             lambda r: r["worker"]["rss_final_mb"], "<= 400"),
            ("worker RSS growth after 10% of calls, MB",
             lambda r: round(r["worker"]["rss_final_mb"] - r["worker"]["rss_early_mb"], 1), "")]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  " + "  ".join(f"{n:>8}" for n in names) + "  target")
    for label, get, target in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{get(results[n]):>8}" for n in names)
              + f"  {target}")
    if threads:
        print(f"onnx detector ms/image by intra-op threads: {threads}")
    print(f"load average during the run: {result['machine']['load_average_1min']} "
          f"(a shared machine: compare the columns, not the absolute figures); wrote {path}")


if __name__ == "__main__":
    main()
