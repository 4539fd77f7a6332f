"""Detector throughput on 512x512 JPEGs, decoding included, batched, on 2 threads; peak RSS.

    python benchmarks/detector_speed.py [--backend onnx|torch] [--images 64] [--repeats 5]

Prints a table and writes JSON (default ``benchmarks/results/detector_speed.json``). The number
reported is the median over repeats of images per second for read + decode + predict_proba.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from _results import add_output_options, destination  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now, from /proc (Linux); ``RssFile`` is the part that is pages of mapped
    files (torch's shared libraries), which varies with the page cache from run to run."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) / 1024


def make_jpegs(folder: Path, n: int) -> list[Path]:
    """n distinct 512x512 JPEG photos (quality 90) cut from scikit-image's sample photos."""
    import numpy as np
    from PIL import Image
    from skimage import data

    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.camera()]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        img = Image.fromarray(sources[i % len(sources)]).convert("RGB")
        scale = 512 / min(img.size) * (1 + rng.uniform(0, 0.2))
        img = img.resize((round(img.width * scale) + 1, round(img.height * scale) + 1))
        x, y = rng.integers(img.width - 511), rng.integers(img.height - 511)
        buf = io.BytesIO()
        img.crop((x, y, x + 512, y + 512)).save(buf, "JPEG", quality=90)
        paths.append(folder / f"bench{i:03d}.jpg")
        paths[-1].write_bytes(buf.getvalue())
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--backend", choices=("onnx", "torch"), default="onnx",
                    help="onnx: the shipped export on onnxruntime, what verify runs; torch: the "
                         "safetensors checkpoint")
    ap.add_argument("--forward-crops", type=int, default=None,
                    help="crops per forward pass (default: detectors.model.FORWARD_CROPS); "
                         "144 = one pass per batch of 16 images, the code before it was split")
    add_output_options(ap, "detector_speed.json")
    args = ap.parse_args(argv)
    args.out = destination(args, "detector_speed.json")
    from detectors.folders import open_image

    if args.backend == "torch":
        import timm  # noqa: F401  (imported here so its share of the memory is measured apart)
        import torch

        from detectors import SyntheticImageDetector, model

        if args.forward_crops:
            model.FORWARD_CROPS = args.forward_crops
        torch.set_num_threads(args.threads)
        det = SyntheticImageDetector.load(args.checkpoint)
        forward_crops, version = model.FORWARD_CROPS, torch.__version__
    else:
        import onnxruntime

        from detectors.inference import OnnxDetector

        det = OnnxDetector.load(args.checkpoint, threads=args.threads)
        forward_crops, version = None, onnxruntime.__version__
    rss_imports, rss_file_imports = _rss_mb(), _rss_mb("RssFile")
    rss_loaded = _rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_jpegs(Path(tmp), args.images)
        det.predict_proba([open_image(p) for p in paths[: args.batch_size]])  # warm-up
        rates, decode_share = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            decode = 0.0
            for i in range(0, len(paths), args.batch_size):
                t = time.perf_counter()
                images = [open_image(p) for p in paths[i:i + args.batch_size]]
                decode += time.perf_counter() - t
                det.predict_proba(images)
            total = time.perf_counter() - start
            rates.append(len(paths) / total)
            decode_share.append(decode / total)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "benchmark": "detector_speed", "model_id": det.model_id,
        "input": "512x512 JPEG q90, read + decode (trustgen.media) + predict_proba",
        "preprocessing": det.preprocessing_, "images": args.images, "repeats": args.repeats,
        "batch_size": args.batch_size, "threads": args.threads,
        "backend": args.backend, "forward_crops": forward_crops,
        "images_per_second_median": statistics.median(rates),
        "images_per_second_all": rates, "decode_share_median": statistics.median(decode_share),
        "peak_rss_mb": peak_mb, "rss_after_imports_mb": rss_imports,
        "rss_file_after_imports_mb": rss_file_imports,
        "rss_after_load_mb": rss_loaded, "runtime_version": version, "machine": platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "load_average_1min": __import__("os").getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    rows = [("images/s (median)", f"{result['images_per_second_median']:.1f}"),
            ("range over repeats", f"{min(rates):.1f} - {max(rates):.1f}"),
            ("decode share", f"{result['decode_share_median']:.0%}"),
            ("peak RSS", f"{peak_mb:.0f} MB"),
            ("backend", args.backend),
            ("RSS after importing the runtime and loading", f"{rss_imports:.0f} MB "
             f"({rss_file_imports:.0f} MB of it mapped library pages)"),
            ("RSS after loading the detector", f"{rss_loaded:.0f} MB"),
            ("threads / batch", f"{args.threads} / {args.batch_size}"),
            ("load average (1 min)", f"{result['load_average_1min']:.1f}")]
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  value\n{'-' * width}  -----")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
