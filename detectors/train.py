"""Train, calibrate and save a detector; for the shipped one, also evaluate it.

    python -m detectors.train --data .detector-data [--steps 800] [--out FILE] [--overwrite]

``--data`` is a folder built by ``python -m detectors.data``: it trains on ``tiles/train``,
calibrates on ``tiles/calib`` (other source photos) and evaluates on ``tiles/test`` into
``detectors/reports/``. ``trustgen detector train --real DIR --fake DIR`` uses ``train_folders``,
which splits the user's images by source photo instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .folders import Item, find_items, group_bucket, items_from_dirs, open_image
from .model import CHECKPOINT, SyntheticImageDetector


def _load(items: list[Item]):
    return [open_image(i.path) for i in items], [i.label for i in items]


def fit_and_calibrate(train: list[Item], calib: list[Item], *, summary: dict | None = None,
                      log=print, **params) -> SyntheticImageDetector:
    """Fit on ``train``, calibrate the probability and threshold on ``calib``."""
    families = sorted({i.family for i in train if i.label == 1})
    summary = {**(summary or {}), "families": families,
               "train_groups": len({i.group for i in train}),
               "calib_groups": len({i.group for i in calib})}
    start = time.perf_counter()
    images, y = _load(train)
    det = SyntheticImageDetector(**params).fit(images, y, summary=summary)
    log(f"trained on {len(images)} images in {time.perf_counter() - start:.0f} s")
    images, y = _load(calib)
    n_real, target = y.count(0), det.target_fpr
    if n_real * target < 1:
        log(f"warning: only {n_real} real calibration images: a threshold at "
            f"{target:.0%} FPR needs at least {round(1 / target)} to mean anything; "
            "add real images or raise --calib-fraction")
    det.calibrate(images, y)
    log(f"calibrated on {len(images)} images: threshold {det.threshold_:.4f}")
    return det


def train_folders(real_dir, fake_dir, out, *, calib_fraction: float = 0.25,
                  overwrite: bool = False, log=print, **params) -> SyntheticImageDetector:
    """Train from a folder of real and one of synthetic images, holding out source photos
    (file-name prefix before ``__``, else the file name without extension) for calibration."""
    from trustgen.errors import InputError
    from trustgen.media import check_writable

    check_writable(out, overwrite=overwrite)
    items = items_from_dirs(real_dir, fake_dir)
    cut = int(calib_fraction * 1000)
    is_calib = {g: group_bucket(g, 1000) < cut for g in {i.group for i in items}}
    train = [i for i in items if not is_calib[i.group]]
    calib = [i for i in items if is_calib[i.group]]
    for name, part in (("training", train), ("calibration", calib)):
        if {i.label for i in part} != {0, 1}:
            raise InputError(f"too few source photos: the {name} split lacks a class; "
                             "add images or change --calib-fraction", path=real_dir)
    det = fit_and_calibrate(train, calib, log=log, summary={
        "data": {"real": str(real_dir), "synthetic": str(fake_dir)}}, **params)
    det.save(out, overwrite=overwrite)
    return det


def main(argv: list[str] | None = None) -> None:
    from . import evaluate

    ap = argparse.ArgumentParser(description="Train the shipped detector on the built data set.")
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    ap.add_argument("--out", type=Path, default=CHECKPOINT)
    ap.add_argument("--reports", type=Path, default=evaluate.DEFAULT_OUT)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--crop-grid", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--model-id", default="trustgen-detector-effl0-" + time.strftime("%Y-%m"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    manifest = json.loads((args.data / "photos.json").read_text())
    summary = {"data": "python -m detectors.data (trustgen-made generators on sample photos)",
               "held_out_families": manifest["held_out_families"],
               "photos": len(manifest["photos"]),
               "photo_sources": sorted({p["group"].split("-")[0] for p in manifest["photos"]})}
    log = lambda m: print(m, flush=True)  # noqa: E731
    det = fit_and_calibrate(find_items(args.data / "tiles" / "train"),
                            find_items(args.data / "tiles" / "calib"), summary=summary, log=log,
                            steps=args.steps, batch_size=args.batch_size,
                            input_size=args.input_size, crop_grid=args.crop_grid, lr=args.lr,
                            model_id=args.model_id,
                            verbose=1)
    det.save(args.out, overwrite=args.overwrite)
    log(f"saved {args.out}")
    report = evaluate.run(det, args.data / "tiles" / "test", args.reports, log=log)
    log(json.dumps({k: round(v["auc"], 4) for k, v in report["clean"].items()}))


if __name__ == "__main__":
    sys.exit(main())
