"""The slim install (``pip install trustgen``, no extras) against the full one: no torch in it,
its size, and the same verdicts on the shared C2PA fixtures.

    python benchmarks/slim_install.py [--venv /tmp/trustgen-slim] [--rebuild]
        [--fixtures ../shared/fixtures/c2pa] [--out DIR | --save]

Builds (once, or again with ``--rebuild``) a virtual environment with ``pip install REPO`` and no
extras, checks that none of the torch stack was pulled in, measures both environments on disk,
then runs ``trustgen verify --json`` with every signal on over every fixture file three ways:
the slim environment, this (full) environment, and this environment with the torch detector.
Verdict, action, C2PA state and codes and the watermark reading must be equal, and the
detector probabilities within 1e-4. Also times ``trustgen verify one.jpg`` cold in each
environment. Exits 1 when a verdict differs or a forbidden package is installed. Writes
``slim_install.json`` to ``--out`` (default: a temporary folder; ``--save``: benchmarks/results).
The machine may be shared: the times are comparable side by side only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "torchvision", "diffusers", "transformers", "timm", "invisible-watermark",
             "safetensors", "triton")
#: Runs ``trustgen verify --json ...`` in the full environment with the torch detector.
TORCH_RUNNER = """
import sys
sys.path.insert(0, %r)
from verify_backends import use_backend
use_backend("torch")
from trustgen.cli import main
sys.argv = ["trustgen", *sys.argv[1:]]
main()
""" % str(REPO / "benchmarks")


def tree_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return round(total / 2**20, 1)


def build(venv: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, str(REPO)], check=True)
    return round(time.perf_counter() - start, 1)


def installed(venv: Path) -> list[str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(p["name"].lower() for p in json.loads(out))


def verify(cmd: list[str], files: list[Path], trust: Path, env: dict) -> tuple[dict, float]:
    """{file name: verdict JSON} and the wall time of the run."""
    args = ["verify", "--json", "--no-progress", "--trust-anchors",
            str(trust / "test_cert_root_bundle.pem"), "--trust-config", str(trust / "store.cfg")]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, *args, *map(str, files)], check=False, capture_output=True,
                          text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1, 2) or not proc.stdout.strip():
        raise RuntimeError(f"{cmd[0]} verify failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {Path(r["path"]).name: r for r in rows}, wall


def summary(row: dict) -> dict:
    c2pa, wm, det = row.get("c2pa") or {}, row.get("watermark") or {}, row.get("detector") or {}
    return {"verdict": row["verdict"], "action": row["action"], "c2pa": c2pa.get("state"),
            "codes": sorted(c2pa.get("codes") or []), "watermark": wm.get("detected"),
            "content_id": wm.get("content_id"), "detector": det.get("probability")}


def same(a: dict, b: dict) -> bool:
    pa, pb = a.pop("detector"), b.pop("detector")
    close = (pa is None) == (pb is None) and (pa is None or abs(pa - pb) <= 1e-4)
    a["detector"], b["detector"] = pa, pb
    return close and {k: v for k, v in a.items() if k != "detector"} == \
        {k: v for k, v in b.items() if k != "detector"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "trustgen-slim")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--fixtures", type=Path, default=REPO.parent / "shared" / "fixtures" / "c2pa")
    ap.add_argument("--repeats", type=int, default=3, help="cold starts per environment")
    ap.add_argument("--out", type=Path, default=None, help="folder for slim_install.json")
    ap.add_argument("--save", action="store_true", help="write to benchmarks/results")
    args = ap.parse_args()
    out_dir = REPO / "benchmarks" / "results" if args.save else args.out or Path(tempfile.mkdtemp())

    build_s = build(args.venv) if args.rebuild or not (args.venv / "bin" / "trustgen").exists() \
        else None
    packages = installed(args.venv)
    forbidden = [p for p in FORBIDDEN if p in packages]
    files = sorted(p for p in (args.fixtures / "files").iterdir()
                   if p.suffix.lower() in (".jpg", ".png", ".webp", ".svg"))
    ways = {"slim": [str(args.venv / "bin" / "trustgen")],
            "full": [sys.executable, "-m", "trustgen"],
            "full-torch": [sys.executable, "-c", TORCH_RUNNER]}
    with tempfile.TemporaryDirectory(prefix="trustgen-slim-home-") as home:
        env = {**os.environ, "TRUSTGEN_HOME": home}
        runs = {way: verify(cmd, files, args.fixtures / "trust", env) for way, cmd in ways.items()}
        cold = {way: statistics.median(verify(cmd, files[:1], args.fixtures / "trust", env)[1]
                                       for _ in range(args.repeats)) for way, cmd in ways.items()}
    table = []
    for f in files:
        rows = {way: summary(runs[way][0][f.name]) for way in ways}
        table.append({"file": f.name, **rows,
                      "same": all(same(rows["slim"], rows[w]) for w in ("full", "full-torch"))})
    result = {
        "benchmark": "slim_install", "venv": str(args.venv), "build_s": build_s,
        "forbidden_installed": forbidden, "packages": len(packages),
        "size_mb": {"slim": tree_mb(args.venv), "full": tree_mb(Path(sys.prefix))},
        "cold_start_s": {w: round(v, 2) for w, v in cold.items()},
        "verify_all_s": {w: round(r[1], 2) for w, r in runs.items()},
        "load_average_1min": round(os.getloadavg()[0], 2), "files": table,
        "all_same": all(r["same"] for r in table),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "slim_install.json"
    path.write_text(json.dumps(result, indent=1) + "\n")

    width = max(len(r["file"]) for r in table)
    print(f"{'file':<{width}}  {'slim verdict':<24}  {'full':<24}  {'full, torch':<24}  "
          f"p(slim)   same")
    for r in table:
        p = r["slim"]["detector"]
        print(f"{r['file']:<{width}}  {r['slim']['verdict']:<24}  {r['full']['verdict']:<24}  "
              f"{r['full-torch']['verdict']:<24}  {'-' if p is None else f'{p:.5f}':<8} "
              f"{'yes' if r['same'] else 'NO'}")
    sizes = result["size_mb"]
    print(f"\nsize on disk: slim {sizes['slim']} MB, full {sizes['full']} MB"
          f"; {result['packages']} packages in the slim environment; forbidden there: "
          f"{forbidden or 'none'}")
    print("cold start, `trustgen verify one file` (median of %d): " % args.repeats
          + ", ".join(f"{w} {v:.2f} s" for w, v in result["cold_start_s"].items()))
    print(f"load average {result['load_average_1min']} (shared machine: compare side by side); "
          f"wrote {path}")
    return 0 if result["all_same"] and not forbidden else 1


if __name__ == "__main__":
    sys.exit(main())
