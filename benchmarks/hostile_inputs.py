"""Memory and time per hostile input: the audit's bombs, huge headers, extreme aspect ratios and
images at the limits (issue 16), through ``Verifier("default").verify_bytes`` (detector on) and
``trustgen watermark embed``.

    python benchmarks/hostile_inputs.py [--code DIR] [--section after] [--timeout 120]
        [--cap-gb 6] [--only CASE ...] [--out benchmarks/results/hostile_inputs.json]

Each file is built in a temporary folder and run in a fresh subprocess, so each figure is one
file's: the child loads trustgen (the verifier with its detector, or the CLI) and warms it on a
small image, takes its resident memory as the idle baseline, resets the peak (``VmHWM``, via
``/proc/self/clear_refs``), does the work and reports the peak above the baseline and the
seconds. Its address space is capped at the baseline's plus ``--cap-gb`` (``RLIMIT_AS``), so
code that would take the machine down fails with ``MemoryError`` instead, reported as over the
cap; ``--timeout`` ends a child that runs too long.

``--code DIR`` runs another checkout's trustgen (``PYTHONPATH=DIR``) and ``--section`` names the
results in the JSON file, which keeps the other sections: the before/after table in
``benchmarks/results/hostile_inputs.json`` comes from

    git worktree add /tmp/before <old revision>
    python benchmarks/hostile_inputs.py --code /tmp/before --section before
    python benchmarks/hostile_inputs.py --section after

Targets (``trustgen.media.Budget``): every case under 1 GB above the baseline and under 10 s on
the 2-core machine, each one either verified in full or refused with an ``error`` naming the
limit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from _results import add_output_options, destination  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASKS = ("verify", "embed")


# -- the audit's files ---------------------------------------------------------------------------

# The fuzz corpus (tests/fuzz/mutations.py) builds the same files, but imports today's trustgen;
# this script also runs against older checkouts (--code), so it keeps its own builders.
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width: int, height: int) -> bytes:
    """A black greyscale PNG, compressed a band at a time (never held whole: 1 x 60 M is 116 KB)."""
    comp = zlib.compressobj(9)
    rows = max(1, 2**20 // (width + 1))
    idat = b"".join(comp.compress(bytes((width + 1) * min(rows, height - y)))
                    for y in range(0, height, rows)) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _gradient(width: int, height: int):
    """An RGB image of smooth gradients: compresses to a few hundred KB at 8192 x 8192."""
    import numpy as np
    from PIL import Image

    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = x
    rgb[..., 1] = y
    rgb[..., 2] = (x + y) / 2
    return Image.fromarray(rgb)


def _save(image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _flat_webp(width: int, height: int) -> bytes:
    from PIL import Image

    return _save(Image.new("RGB", (width, height), (120, 130, 140)), "WEBP", lossless=True)


def jpeg_header_bomb(width: int = 8000, height: int = 8000) -> bytes:
    """A 16 x 16 JPEG whose frame header claims ``width`` x ``height`` (633 bytes)."""
    from PIL import Image

    data = bytearray(_save(Image.new("RGB", (16, 16), (50, 60, 70)), "JPEG", quality=75))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def wide_at_limits() -> bytes:
    """The most pixels at the widest aspect ratio the budget allows: the watermark reader's
    working grid is largest here."""
    from trustgen.media import budget

    b = budget()
    short = int((b.max_pixels / b.max_aspect) ** 0.5)
    return _save(_gradient(short * b.max_aspect, short), "PNG", compress_level=1)


CASES = {
    # name: (what it is, builder)
    "png_1x16M": ("grey PNG, 1 x 16,000,000", lambda: grey_png(1, 16_000_000)),
    "png_1x60M": ("grey PNG, 1 x 60,000,000", lambda: grey_png(1, 60_000_000)),
    "png_8192": ("RGB PNG, 8192 x 8192 (64 M pixels: the limit)",
                 lambda: _save(_gradient(8192, 8192), "PNG")),
    "jpeg_8192": ("RGB JPEG, 8192 x 8192 (64 M pixels: the limit)",
                  lambda: _save(_gradient(8192, 8192), "JPEG", quality=90)),
    "png_wide_at_limits": ("RGB PNG at the pixel and aspect limits", wide_at_limits),
    "webp_16383x4096": ("lossless WebP, 16383 x 4096, one colour (2.6 KB)",
                        lambda: _flat_webp(16383, 4096)),
    "webp_4096": ("lossless WebP, 4096 x 4096, one colour: the WebP pixel limit",
                  lambda: _flat_webp(4096, 4096)),
    "jpeg_header_bomb": ("JPEG of 16 x 16 whose header claims 8000 x 8000", jpeg_header_bomb),
    "png_bomb_20000": ("grey PNG, 20000 x 20000 (400 M pixels, over the limit)",
                       lambda: grey_png(20000, 20000)),
}


# -- the child: one file, one task ------------------------------------------------------------

def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(task: str, path: str, cap_gb: float) -> dict:
    """Warm up, measure the idle baseline, then run ``task`` on ``path`` once."""
    warm = Path(tempfile.mkdtemp(prefix="hostile-warm-")) / "warm.png"
    warm.write_bytes(_save(_gradient(512, 384), "PNG"))
    if task == "verify":
        from trustgen.verify import Verifier

        verifier = Verifier("default")
        verifier.verify_bytes(warm.read_bytes(), filename=str(warm))

        def work():
            verdict = verifier.verify_bytes(Path(path).read_bytes(), filename=path)
            reason = verdict.reasons[0].text if verdict.reasons else ""
            return f"{verdict.label}: {reason}"
    else:
        from trustgen.cli import cli

        def embed(src: Path) -> str:
            out = src.with_name(src.stem + "-marked" + src.suffix)  # same format, as a user would
            try:
                code = cli.main(["watermark", "embed", str(src), "-o", str(out), "--overwrite"],
                                standalone_mode=False)
            except SystemExit as stop:  # an error: one line on stderr, then exit 2
                code = stop.code
            return f"exit {code or 0}"

        embed(warm)

        def work():
            return embed(Path(path))
    baseline = _status("VmRSS")
    cap = int((_status("VmSize") + cap_gb * 1024) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # VmHWM := VmRSS
    except OSError:
        pass
    start, cpu = time.perf_counter(), _cpu()
    try:
        outcome = work()
    except MemoryError:
        outcome = f"MemoryError: over the {cap_gb:g} GB cap"
    finally:
        shutil.rmtree(warm.parent, ignore_errors=True)
    return {"seconds": round(time.perf_counter() - start, 2), "cpu_s": round(_cpu() - cpu, 2),
            "peak_mb": round(_status("VmHWM") - baseline), "baseline_mb": round(baseline),
            "outcome": outcome}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the parent ------------------------------------------------------------------------------

def run_case(task: str, path: Path, code: Path, timeout: float, cap_gb: float) -> dict:
    """One child run; an empty ``TRUSTGEN_HOME``, so no local identity is found."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", task, str(path),
           "--cap-gb", str(cap_gb)]
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "PYTHONPATH": str(code), "TRUSTGEN_HOME": home,
                   "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                  cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"seconds": None, "cpu_s": None, "peak_mb": None,
                "outcome": f"timeout after {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        killed = " (killed)" if done.returncode < 0 else ""
        return {"seconds": round(time.perf_counter() - start, 1), "cpu_s": None, "peak_mb": None,
                "outcome": f"crashed{killed}: {last[:200]}"}
    result = json.loads(lines[-1])
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("trustgen: error:")]
    if errors:
        result["outcome"] += f" ({errors[-1][:200]})"
    return result


def _rev(code: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "trustgen",
                            "detectors"], capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() + ("+changes" if dirty else "")) if done.returncode == 0 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose trustgen runs")
    ap.add_argument("--section", default="after", help="name of these results in --out")
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="run these cases only")
    ap.add_argument("--tasks", nargs="*", choices=TASKS, default=list(TASKS))
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--cap-gb", type=float, default=6.0)
    add_output_options(ap, "hostile_inputs.json")
    ap.add_argument("--child", nargs=2, metavar=("TASK", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out = destination(args, "hostile_inputs.json")
    if args.child:
        print(json.dumps(child(*args.child, args.cap_gb)))
        return

    sys.path.insert(0, str(REPO))  # the files are built with this checkout's budget
    rows = []
    print(f"{'case':20} {'task':6} {'bytes':>9} {'peak MB':>8} {'s':>6} {'cpu s':>6}  outcome",
          flush=True)
    for name in args.only or CASES:
        what, build = CASES[name]
        data = build()
        folder = Path(tempfile.mkdtemp(prefix="hostile-"))
        path = folder / f"{name}.{_extension(data)}"
        path.write_bytes(data)
        for task in args.tasks:
            result = run_case(task, path, args.code.resolve(), args.timeout, args.cap_gb)
            rows.append({"case": name, "what": what, "bytes": len(data), "task": task, **result})
            peak, secs, cpu = ("-" if result[k] is None else result[k]
                               for k in ("peak_mb", "seconds", "cpu_s"))
            print(f"{name:20} {task:6} {len(data):>9} {peak:>8} {secs:>6} {cpu:>6}  "
                  f"{result['outcome'][:100]}", flush=True)
        shutil.rmtree(folder)  # the file, and the marked copy embed wrote beside it

    from trustgen.media import budget

    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.update({
        "benchmark": "hostile_inputs",
        "command": "python benchmarks/hostile_inputs.py --code DIR --section NAME",
        "targets": {"peak_mb_above_idle": 1024, "seconds": 10},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
    })
    report[args.section] = {"code": str(args.code), "revision": _rev(args.code),
                            "budget": asdict(budget()) if args.code.resolve() == REPO else None,
                            "timeout_s": args.timeout, "cap_gb": args.cap_gb, "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


def _extension(data: bytes) -> str:
    return {b"\x89P": "png", b"\xff\xd8": "jpg", b"RI": "webp"}[data[:2]]


if __name__ == "__main__":
    main()
