"""How fast trustgen verifies: the library call, the moderation worker, the batch command, memory.

    python benchmarks/verify_speed.py [--images 60] [--repeats 5] [--batch-files 1000]
        [--memory-calls 10000] [--out benchmarks/results/verify_speed.json]

Inputs are 512x512 JPEGs cut from real photographs (scikit-learn's samples "china.jpg" and
"flower.jpg", CC BY 2.0), one third each: generated-style (watermarked, then signed with
``sign_generated``), watermarked only, plain. Every signal is on: C2PA read under the local
identity's trust anchor, watermark decode, the shipped detector.

Reported, each a median over ``--repeats`` passes after a warm-up pass:
- ``Verifier.verify_bytes`` images/s with 1 thread and with 2 threads sharing one Verifier
  (target >= 20 images/s), its CPU time per image (what an image costs however loaded the
  machine is), and the per-image cost of each signal on its own;
- ``examples/moderation_worker.moderate`` latency (median and 95th percentile, ms);
- ``trustgen verify DIR --workers 2 --jsonl --csv --report`` over ``--batch-files`` distinct
  files, wall clock including start-up (target >= 15 images/s);
- resident memory over ``--memory-calls`` calls to ``verify_bytes``: growth after a warm-up of
  500 calls (target: no growth beyond 50 MB).
The machine's load average is recorded: on a shared 2-core machine other jobs slow every figure.
"""

from __future__ import annotations

import argparse
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


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def make_images(n: int, identity, seed: int = 0) -> list[tuple[str, bytes]]:
    """``n`` distinct 512x512 JPEGs: (kind, bytes), kinds cycling signed / watermarked / plain."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_image

    from trustgen.credentials.sign import sign_generated
    from trustgen.evidence import Provenance
    from trustgen.media import encode_image
    from trustgen.watermark import embed, new_content_id

    rng = np.random.default_rng(seed)
    photos = [load_sample_image(name) for name in ("china.jpg", "flower.jpg")]
    signer, key = identity.signer(), identity.watermark_key
    out = []
    for i in range(n):
        arr = photos[i % 2]
        side = int(rng.integers(320, min(arr.shape[:2]) + 1))
        top = int(rng.integers(0, arr.shape[0] - side + 1))
        left = int(rng.integers(0, arr.shape[1] - side + 1))
        image = Image.fromarray(arr[top:top + side, left:left + side]).resize((512, 512), Image.LANCZOS)
        kind = ("signed", "watermarked", "plain")[i % 3]
        if kind == "plain":
            out.append((kind, encode_image(image, "jpeg")))
            continue
        cid = new_content_id()
        data = encode_image(embed(image, cid, key=key), "jpeg")
        if kind == "signed":
            prov = Provenance(content_id=cid, model_id="benchmark", model_sha256="0" * 64,
                              pipeline="DDIMPipeline", scheduler="DDIMScheduler", steps=50,
                              guidance_scale=None, seed=i, width=512, height=512, prompt_sha256=None)
            data = sign_generated(data, "jpeg", prov, signer)
        out.append((kind, data))
    return out


def throughput(verifier, images, threads: int) -> tuple[float, float]:
    """(images/s by the wall clock, CPU ms per image). The CPU time is what one image costs
    whatever else the machine runs; the wall-clock rate is what this machine delivered now."""
    start, cpu = time.perf_counter(), time.process_time()
    if threads == 1:
        for _, data in images:
            verifier.verify_bytes(data)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda item: verifier.verify_bytes(item[1]), images))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(images) / wall, 1000 * cpu / len(images)


def signal_costs(verifier, images) -> dict:
    """Median ms per image of each signal alone (decode included in watermark and detector)."""
    from trustgen.credentials.read import read_credentials
    from trustgen.media import decode_image
    from trustgen.watermark import detect

    costs: dict[str, list[float]] = {"c2pa_read": [], "decode": [], "watermark": [], "detector": []}
    for _, data in images:
        t0 = time.perf_counter()
        read_credentials(data, fmt="jpeg", trust=verifier.trust)
        t1 = time.perf_counter()
        image = decode_image(data).convert("RGB")
        t2 = time.perf_counter()
        detect(image, keys=verifier.watermark_keys, schemes=verifier.policy.gather.watermark_schemes)
        t3 = time.perf_counter()
        verifier.detector.predict_proba([image])
        t4 = time.perf_counter()
        for name, dt in zip(costs, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            costs[name].append(dt * 1000)
    return {name: round(statistics.median(v), 1) for name, v in costs.items()}


def moderation_latency(images, repeats: int) -> dict:
    spec = importlib.util.spec_from_file_location("moderation_worker", REPO / "examples" / "moderation_worker.py")
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    for _, data in images:  # warm-up
        worker.moderate(data)
    latencies, actions = [], {}
    for _ in range(repeats):
        for kind, data in images:
            decision = worker.moderate(data)
            latencies.append(decision["latency_ms"])
            actions[kind] = decision["action"]
    latencies.sort()
    return {"median_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "calls": len(latencies), "action_by_kind": actions}


def batch_run(identity, files: int, workdir: Path) -> dict:
    folder = workdir / "inbox"
    folder.mkdir()
    for i, (kind, data) in enumerate(make_images(files, identity, seed=1)):
        (folder / f"{i:05d}-{kind}.jpg").write_bytes(data)
    out = workdir / "out"
    cmd = [sys.executable, "-c", "from trustgen.cli import main; main()", "verify", str(folder),
           "--workers", "2", "--no-progress", "--jsonl", str(out / "out.jsonl"),
           "--csv", str(out / "out.csv"), "--report", str(out / "report.html")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"batch command failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rows = (out / "out.jsonl").read_text().splitlines()
    return {"files": files, "rows": len(rows), "wall_s": round(wall, 1),
            "images_per_s": round(files / wall, 1), "summary": proc.stderr.strip().splitlines()[-1],
            "report_mb": round((out / "report.html").stat().st_size / 2**20, 1)}


def memory_run(verifier, images, calls: int, warmup: int = 500) -> dict:
    samples = []
    for i in range(calls):
        verifier.verify_bytes(images[i % len(images)][1])
        if i + 1 == warmup or (i + 1) % 500 == 0:
            samples.append((i + 1, round(rss_mb(), 1)))
    base = next(mb for n, mb in samples if n == warmup)
    return {"calls": calls, "warmup_calls": warmup, "rss_after_warmup_mb": base,
            "rss_final_mb": samples[-1][1],
            "max_growth_mb": round(max(mb for n, mb in samples if n >= warmup) - base, 1),
            "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-files", type=int, default=1000)
    ap.add_argument("--memory-calls", type=int, default=10000)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "verify_speed.json")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory(prefix="trustgen-verify-bench-") as tmp:
        os.environ["TRUSTGEN_HOME"] = str(Path(tmp) / "home")  # never the user's identity
        from trustgen.credentials import Identity
        from trustgen.verify import Verifier

        identity = Identity.init(os.environ["TRUSTGEN_HOME"])
        images = make_images(args.images, identity)
        load = [os.getloadavg()[0]]
        t0 = time.perf_counter()
        verifier = Verifier("default")
        load_s = time.perf_counter() - t0
        labels = {}
        for kind, data in images:  # warm-up, and a check that each kind is read as intended
            labels.setdefault(kind, set()).add(verifier.verify_bytes(data).label)
        single = [throughput(verifier, images, 1) for _ in range(args.repeats)]
        double = [throughput(verifier, images, 2) for _ in range(args.repeats)]
        costs = signal_costs(verifier, images)
        moderation = moderation_latency(images, args.repeats)
        load.append(os.getloadavg()[0])
        batch = batch_run(identity, args.batch_files, Path(tmp)) if args.batch_files else None
        load.append(os.getloadavg()[0])
        memory = memory_run(verifier, images, args.memory_calls) if args.memory_calls else None
        load.append(os.getloadavg()[0])

    result = {
        "benchmark": "verify_speed",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch_threads": args.torch_threads,
                    "load_average_1min": [round(x, 2) for x in load]},
        "images": {"count": len(images), "size": "512x512", "format": "jpeg",
                   "labels_by_kind": {k: sorted(v) for k, v in labels.items()}},
        "detector": str(verifier.detector.model_id), "verifier_load_s": round(load_s, 2),
        "verify_bytes_images_per_s": {"threads_1": round(statistics.median(r for r, _ in single), 1),
                                      "threads_2": round(statistics.median(r for r, _ in double), 1),
                                      "repeats": args.repeats},
        "verify_bytes_cpu_ms_per_image": round(statistics.median(c for _, c in single), 1),
        "signal_ms_per_image": costs,
        "moderation_worker": moderation,
        "batch_command": batch,
        "memory": memory,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")

    rows = [
        ("verify_bytes, 1 thread", f"{result['verify_bytes_images_per_s']['threads_1']} images/s", ">= 20"),
        ("verify_bytes, 2 threads", f"{result['verify_bytes_images_per_s']['threads_2']} images/s", ">= 20"),
        ("verify_bytes, CPU time", f"{result['verify_bytes_cpu_ms_per_image']} ms/image", ""),
        *[(f"  {k} alone", f"{v} ms/image", "") for k, v in costs.items()],
        ("moderation worker latency", f"{moderation['median_ms']} ms median, {moderation['p95_ms']} ms p95", ""),
    ]
    if batch:
        rows.append((f"batch command, {batch['files']} files", f"{batch['images_per_s']} images/s "
                     f"({batch['wall_s']} s)", ">= 15"))
    if memory:
        rows.append((f"memory over {memory['calls']} calls", f"+{memory['max_growth_mb']} MB after warm-up "
                     f"(RSS {memory['rss_after_warmup_mb']} MB)", "<= 50 MB"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  result  (target)")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value}" + (f"  ({target})" if target else ""))
    print(f"load average during the run: {result['machine']['load_average_1min']}; wrote {args.out}")


if __name__ == "__main__":
    main()
