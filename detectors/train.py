"""Train and calibrate a detector on a user's folders (``trustgen detector train --real DIR
--fake DIR``), splitting the images by source photo.

The shipped detector is trained by ``python -m detectors.traintrace`` instead.
"""

from __future__ import annotations

import time

from .folders import Item, group_bucket, items_from_dirs, open_image
from .model import SyntheticImageDetector


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
