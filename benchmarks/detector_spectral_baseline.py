"""A hand-made baseline under the same leave-one-family-out protocol: spectral peaks of the
high-pass residual, where an 8x-upsampling decoder leaves periodic traces.

    python benchmarks/detector_spectral_baseline.py [--data .detector-data] [--save]

Per view: the grey Laplacian residual's power spectrum, averaged over the view's 64 px tiles;
features are the log-power prominence of 13 periodic frequencies (periods 8, 4, 8/3 and 2,
horizontal, vertical, diagonal) over their neighbourhood, and six radial bands. A gradient-
boosting classifier is trained on the training and calibration splits of every family but the
held-out one and tested on that family's views against the test split's real photos (AUC only:
no calibration). It is the comparison the trace network's leave-one-family-out table needs, not
a shipped detector. Writes ``detector_spectral_baseline.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _results import add_output_options, destination  # noqa: E402

PEAKS = ((8, 0), (0, 8), (8, 8), (16, 0), (0, 16), (16, 16), (32, 0), (0, 32), (32, 32),
         (24, 0), (0, 24), (8, 16), (16, 8))
BANDS = ((0, .1), (.1, .2), (.2, .3), (.3, .4), (.4, .5), (.5, .8))


def features(image, n: int = 64) -> list[float]:
    a = np.asarray(image.convert("L"), dtype=np.float64)
    r = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    power, k = np.zeros((n, n)), 0
    for y in range(0, r.shape[0] - n + 1, n):
        for x in range(0, r.shape[1] - n + 1, n):
            tile = r[y:y + n, x:x + n]
            power += np.abs(np.fft.fft2(tile - tile.mean())) ** 2
            k += 1
    if k == 0:  # smaller than one tile
        tile = np.pad(r, ((0, max(0, n - r.shape[0])), (0, max(0, n - r.shape[1]))))[:n, :n]
        power, k = np.abs(np.fft.fft2(tile - tile.mean())) ** 2, 1
    p = np.log(power / k + 1e-6)
    out = []
    for i, j in PEAKS:
        around = [p[(i + di) % n, (j + dj) % n] for di in (-2, -1, 1, 2) for dj in range(-2, 3)]
        out.append(p[i, j] - np.median(around))
    radius = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :])
    out += [p[(radius >= lo) & (radius < hi)].mean() for lo, hi in BANDS]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    add_output_options(ap, "detector_spectral_baseline.json")
    args = ap.parse_args(argv)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from detectors.lofo import HOLDOUTS
    from detectors.realdata import all_sources
    from detectors.traintrace import MARKED, view_items

    out = destination(args, "detector_spectral_baseline.json")
    items = view_items(all_sources(args.data))
    X = np.array([features(v) for _, v in items])
    y = np.array([s.label for s, _ in items])
    fam = np.array([s.family for s, _ in items])
    split = np.array([s.split for s, _ in items])
    result = {}
    for held in HOLDOUTS:
        train = ((y == 0) & (split != "test")) | ((y == 1) & ~np.isin(fam, held)
                                                   & (fam != MARKED))
        clf = HistGradientBoostingClassifier(max_iter=200, max_depth=3, class_weight="balanced",
                                             random_state=0).fit(X[train], y[train])
        for f in held:
            test = ((y == 0) & (split == "test")) | (fam == f)
            p = clf.predict_proba(X[test])[:, 1]
            result[f] = {"auc": float(roc_auc_score(y[test], p)),
                         "n_real": int((y[test] == 0).sum()), "n_synthetic": int((fam == f).sum())}
            print(f"{f:14s} held out: AUC {result[f]['auc']:.3f}", flush=True)
    out.write_text(json.dumps({"benchmark": "detector_spectral_baseline", "features":
                               len(PEAKS) + len(BANDS), "held_out": result}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
