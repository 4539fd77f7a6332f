"""What do the training augmentations buy, and what do they cost? Retrain without each, compare.

    python benchmarks/detector_ablation.py [--data .detector-data] [--seeds 0 1 2]  # ~40 min

Each variant is trained like the shipped detector (``python -m detectors.train`` defaults: same
data and steps) but for one augmentation change, at several seeds (``random_state``: batch
order, augmentation draws, head initialisation; the shipped detector is seed 0 of ``shipped``
and is loaded, not retrained), calibrated on the calibration split and measured on the test
split: AUC per fake family, clean and after JPEG 75 on both classes, and the share of 32 smoothed
real tiles (the probe of ``detector_limits.py``: blur, down-and-up resizing, median) flagged at
the variant's own threshold. A diagnosis, not a model selection: nothing here changes what ships,
since choosing by the held-out families' scores would spend them. Prints a table (medians over
seeds); writes benchmarks/results/detector_ablation.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from detector_limits import SMOOTHING, real_tiles  # the script's folder is on sys.path
from _results import add_output_options, destination  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {"shipped": True, "no-jpeg": {"jpeg": 0.0}, "no-smoothing": {"resize": 0.0, "blur": 0.0}}


def family_aucs(det, items, condition: str) -> dict[str, float]:
    """AUC per fake family, each against all real test images."""
    from sklearn.metrics import roc_auc_score

    from detectors.evaluate import degrade
    from detectors.folders import open_image

    p = det.predict_proba([degrade(open_image(i.path), condition) for i in items])[:, 1]
    fam = np.array([i.family for i in items])
    real = p[fam == "real"]
    return {f: float(roc_auc_score(np.r_[np.zeros(real.size), np.ones((fam == f).sum())],
                                   np.r_[real, p[fam == f]]))
            for f in sorted(set(fam) - {"real"})}


def smoothed_reals_flagged(det) -> float:
    tiles = real_tiles()
    smoothed = [op(t) for op in SMOOTHING.values() for t in tiles]
    return float(np.mean(det.predict_proba(smoothed)[:, 1] > det.threshold_))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / ".detector-data")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    add_output_options(ap, "detector_ablation.json")
    args = ap.parse_args(argv)
    import torch

    from detectors import SyntheticImageDetector
    from detectors.folders import find_items
    from detectors.train import fit_and_calibrate

    torch.set_num_threads(args.threads)
    tiles = args.data / "tiles"
    test = find_items(tiles / "test")
    shipped = SyntheticImageDetector.load()
    keep = ("arch", "input_size", "crop_grid", "steps", "batch_size", "lr")
    runs = []
    for name, augment in VARIANTS.items():
        for seed in args.seeds:
            if name == "shipped" and seed == shipped.random_state:
                det = shipped
            else:
                det = fit_and_calibrate(
                    find_items(tiles / "train"), find_items(tiles / "calib"), log=lambda m: None,
                    augment=augment, random_state=seed, model_id=f"ablation-{name}-{seed}",
                    **{k: shipped.get_params()[k] for k in keep})
            runs.append({"variant": name, "augment": augment, "seed": seed,
                         "threshold": det.threshold_,
                         "auc": {c: family_aucs(det, test, c) for c in ("clean", "jpeg75")},
                         "smoothed_reals_flagged": smoothed_reals_flagged(det)})
            print(f"{name} seed {seed}: vit_patch {runs[-1]['auc']['clean']['vit_patch']:.4f}, "
                  f"smoothed reals flagged {runs[-1]['smoothed_reals_flagged']:.3f}", flush=True)

    def median(name, get):
        return statistics.median(get(r) for r in runs if r["variant"] == name)

    rows = {"smoothed real tiles flagged": lambda r: r["smoothed_reals_flagged"]}
    for cond in ("clean", "jpeg75"):
        for f in sorted(runs[0]["auc"][cond]):
            rows[f"AUC {cond} {f}"] = lambda r, c=cond, f=f: r["auc"][c][f]
    print(f"median over seeds {args.seeds}")
    print(f"{'':30s}" + "".join(f"{n:>14s}" for n in VARIANTS))
    for label, get in rows.items():
        print(f"{label:30s}" + "".join(f"{median(n, get):14.4f}" for n in VARIANTS))
    path = destination(args, "detector_ablation.json")
    path.write_text(json.dumps({"command": "python benchmarks/detector_ablation.py",
                                "seeds": args.seeds, "test_images": len(test), "runs": runs,
                                "median": {n: {label: median(n, get) for label, get in rows.items()}
                                           for n in VARIANTS}}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
