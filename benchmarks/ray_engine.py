"""The Ray engine against the local engine on the same files, side by side in one run.

    python benchmarks/ray_engine.py [--files 10000] [--distinct 60] [--repeats 3] [--workers N]
        [--no-detector] [--quick] [--out PATH | --save]

Inputs: ``--files`` files, hard links to ``--distinct`` different 512x512 JPEGs cut from real
photographs (``verify_speed.make_images``: one third signed and watermarked, one third
watermarked, one third plain), so that every file is read, hashed and verified. Every signal
is on (C2PA under the local identity's anchor, watermark, detector) unless ``--no-detector``;
no resume cache. Both engines run through ``trustgen.batch.verify_files``, as
``trustgen verify --engine local|ray`` does: local with ``--workers`` threads sharing one
verifier, Ray with one actor per core (one verifier each), on this machine.

Each repeat runs, in rotating order: local; Ray with a session already up (the actor pool
starts inside the run); Ray from cold (``ray.init`` and shutdown inside the run, as a CLI run
pays). Reported, medians over repeats: wall time, images/s over the whole run, steady images/s
(over the second half of the verdicts: start-up left out), time to the first verdict, and
Ray's overhead per file against local (whole run and steady; negative: Ray is faster). ``--quick``: 240 files, 12 distinct, 2 repeats.
The machine's load average is recorded; on a shared machine other jobs slow every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_output_options, destination


def make_files(folder: Path, files: int, distinct: int, identity) -> list[Path]:
    """``files`` paths: hard links (copies where links fail) to ``distinct`` images."""
    from verify_speed import make_images

    sources = []
    for i, (kind, data) in enumerate(make_images(distinct, identity)):
        path = folder / f"src-{i:03d}-{kind}.jpg"
        path.write_bytes(data)
        sources.append(path)
    out = []
    for i in range(files):
        path = folder / f"{i:05d}.jpg"
        try:
            os.link(sources[i % distinct], path)
        except OSError:
            path.write_bytes(sources[i % distinct].read_bytes())
        out.append(path)
    return out


def timed_run(paths, options, **engine) -> dict:
    """One ``verify_files`` run: wall seconds, seconds to the first verdict, and the steady
    rate: over the second half of the verdicts, when every worker is busy and start-up (and
    the work done while waiting for the first verdict) is behind."""
    from trustgen.batch import verify_files

    stamps = []
    start = time.perf_counter()
    summary = verify_files(paths, options, on_verdict=lambda *_: stamps.append(time.perf_counter()),
                           **engine)
    wall = time.perf_counter() - start
    assert len(summary.verdicts) == len(paths) and summary.errors == 0, summary.errors
    half = len(stamps) // 2
    span = stamps[-1] - stamps[half]
    return {"wall_s": wall, "first_verdict_s": stamps[0] - start,
            "steady_images_per_s": (len(stamps) - 1 - half) / span if span > 0 else None,
            "labels": sorted({v.label for v in summary.verdicts})}


def median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return round(statistics.median(values), 4) if values else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--distinct", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count(),
                    help="local threads, and Ray actors (default: the machine's cores)")
    ap.add_argument("--no-detector", action="store_true")
    ap.add_argument("--quick", action="store_true", help="240 files, 12 distinct, 2 repeats")
    add_output_options(ap, "ray_engine.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.distinct, args.repeats = 240, 12, 2
    out = destination(args, "ray_engine.json")

    import logging

    import ray

    from trustgen.credentials import Identity
    from trustgen.engines import VerifierOptions

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="trustgen-ray-bench-") as tmp:
        os.environ["TRUSTGEN_HOME"] = str(Path(tmp) / "home")  # never the user's identity
        identity = Identity.init(os.environ["TRUSTGEN_HOME"])
        folder = Path(tmp) / "files"
        folder.mkdir()
        paths = make_files(folder, args.files, args.distinct, identity)
        options = VerifierOptions("default", detector=not args.no_detector)

        def session_up():
            ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
            try:
                return timed_run(paths, options, engine="ray")
            finally:
                ray.shutdown()

        kinds = {
            "local": lambda: timed_run(paths, options, workers=args.workers),
            # the session starts before the clock: timed_run measures the actor pool on
            "ray (session up)": session_up,
            "ray (cold start)": lambda: timed_run(paths, options, engine="ray"),
        }
        runs: dict[str, list[dict]] = {k: [] for k in kinds}
        order = list(kinds)
        for repeat in range(args.repeats):
            for kind in order[repeat % 3:] + order[:repeat % 3]:
                runs[kind].append(kinds[kind]())
                print(f"repeat {repeat + 1}/{args.repeats} {kind}: "
                      f"{runs[kind][-1]['wall_s']:.1f} s", file=sys.stderr)
        assert len({json.dumps(r["labels"]) for rs in runs.values() for r in rs}) == 1

    n = args.files
    table = {}
    for kind, rs in runs.items():
        wall = median(rs, "wall_s")
        table[kind] = {"wall_s": wall, "images_per_s": round(n / wall, 2),
                       "steady_images_per_s": median(rs, "steady_images_per_s"),
                       "first_verdict_s": median(rs, "first_verdict_s"), "runs": rs}
    local = table["local"]
    for kind in ("ray (session up)", "ray (cold start)"):
        row = table[kind]
        row["overhead_ms_per_file"] = round((row["wall_s"] - local["wall_s"]) / n * 1000, 3)
        if row["steady_images_per_s"] and local["steady_images_per_s"]:
            row["steady_overhead_ms_per_file"] = round(
                (1 / row["steady_images_per_s"] - 1 / local["steady_images_per_s"]) * 1000, 3)

    result = {
        "files": n, "distinct": args.distinct, "repeats": args.repeats, "workers": args.workers,
        "detector": not args.no_detector, "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "ray": ray.__version__, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "engines": table,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")

    print(f"{n} files, {args.workers} workers/actors, detector {'on' if result['detector'] else 'off'}, "
          f"medians of {args.repeats}; load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<18} {'wall s':>8} {'img/s':>8} {'steady/s':>9} {'first s':>8} "
          f"{'+ms/file':>9} {'steady +ms':>10}")
    for kind, row in table.items():
        print(f"{kind:<18} {row['wall_s']:>8.2f} {row['images_per_s']:>8.1f} "
              f"{row['steady_images_per_s'] or 0:>9.1f} {row['first_verdict_s']:>8.2f} "
              f"{row.get('overhead_ms_per_file', 0):>9.2f} {row.get('steady_overhead_ms_per_file', 0):>10.2f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
