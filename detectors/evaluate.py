"""Measure a detector on labelled images and write a JSON report plus plots.

    python -m detectors.evaluate [--data .detector-data/tiles/test] [--checkpoint FILE]
                                 [--out detectors/reports]

Reports AUC, AP, TPR at 1% FPR (on this data's own ROC) and at the shipped threshold, FPR and
balanced accuracy at the shipped threshold, expected calibration error; for all fakes, the
families seen in training, the held-out ones, and each family; on clean images and on a
robustness grid applied to both classes (JPEG 90/75/50, downscale 0.5, blur radius 1); with
bootstrap 95% intervals that resample source photos, not images, because tiles of one photo are
not independent. A control fits a classifier on format features alone (file type, JPEG
quantisation, width, height): about 0.5 AUC means the classes cannot be told apart by format.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from trustgen.evidence import is_synthetic

from .folders import Item, find_items, open_image
from .model import jpeg_roundtrip

CONDITIONS = ("clean", "jpeg90", "jpeg75", "jpeg50", "downscale0.5", "blur1")
TARGET_FPR = 0.01
DEFAULT_DATA = Path(".detector-data/tiles/test")
DEFAULT_OUT = Path(__file__).with_name("reports")


def degrade(img, condition: str):
    """One robustness condition, applied identically to real and synthetic images."""
    from PIL import Image, ImageFilter

    if condition == "clean":
        return img
    if condition.startswith("jpeg"):
        return jpeg_roundtrip(img, int(condition[4:]))
    if condition.startswith("downscale"):
        f = float(condition[9:])
        return img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))),
                          Image.LANCZOS)
    if condition.startswith("blur"):
        return img.filter(ImageFilter.GaussianBlur(float(condition[4:])))
    if condition == "marked":  # trustgen's watermark (public key), where the image carries it
        from trustgen import watermark
        from trustgen.errors import WatermarkError

        try:
            return watermark.embed(img.convert("RGB"), "00000000c0de")
        except WatermarkError:  # under MIN_SIDE, or too saturated to carry it: left as it is
            return img
    if condition.startswith("noise"):  # Gaussian, sigma in grey levels, the same draw per size
        a = np.asarray(img.convert("RGB"), dtype=np.float64)
        noise = np.random.default_rng(a.shape[0] * 7919 + a.shape[1]).normal(
            0, float(condition[5:]), a.shape)
        return Image.fromarray(np.clip(np.rint(a + noise), 0, 255).astype(np.uint8))
    raise ValueError(f"unknown condition {condition!r}")


def tpr_at_fpr(y, p, fpr: float = TARGET_FPR) -> float:
    """Best TPR whose FPR on these real images is at most ``fpr`` (an oracle threshold)."""
    from sklearn.metrics import roc_curve

    f, t, _ = roc_curve(y, p)
    return float(t[f <= fpr + 1e-12].max())


def expected_calibration_error(y, p, bins: int = 15) -> float:
    """ECE of p(synthetic) in equal-width bins, the classes weighted equally (the prior the
    probabilities are calibrated for)."""
    y = np.asarray(y)
    w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    idx = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += abs(np.sum(w[m] * (y[m] - p[m])))
    return float(total / w.sum())


def reliability(y, p, bins: int = 10) -> list[dict]:
    y = np.asarray(y)
    w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    idx = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    return [{"bin": [b / bins, (b + 1) / bins], "weight": float(w[idx == b].sum() / w.sum()),
             "mean_p": float(np.average(p[idx == b], weights=w[idx == b])),
             "frac_synthetic": float(np.average(y[idx == b], weights=w[idx == b]))}
            for b in range(bins) if (idx == b).any()]


def metrics(y, p, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y)
    pred = is_synthetic(p, threshold)
    tpr = float(pred[y == 1].mean())
    fpr = float(pred[y == 0].mean())
    return {"auc": float(roc_auc_score(y, p)), "ap": float(average_precision_score(y, p)),
            "tpr_at_1pct_fpr": tpr_at_fpr(y, p), "tpr_at_threshold": tpr,
            "fpr_at_threshold": fpr, "balanced_accuracy": (tpr + 1 - fpr) / 2,
            "ece": expected_calibration_error(y, p),
            "n_real": int((y == 0).sum()), "n_synthetic": int((y == 1).sum())}


def bootstrap(y, p, groups, threshold: float, *, reps: int, seed: int = 0) -> dict:
    """95% percentile intervals, resampling source photos (groups) with replacement."""
    y, p, groups = np.asarray(y), np.asarray(p), np.asarray(groups)
    names = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in names]
    rng = np.random.default_rng(seed)
    keys = ("auc", "ap", "tpr_at_1pct_fpr", "tpr_at_threshold", "fpr_at_threshold",
            "balanced_accuracy")
    draws = {k: [] for k in keys}
    for _ in range(reps):
        idx = np.concatenate([members[i] for i in rng.integers(len(names), size=len(names))])
        if len(np.unique(y[idx])) < 2:
            continue
        m = metrics(y[idx], p[idx], threshold)
        for k in keys:
            draws[k].append(m[k])
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            for k, v in draws.items() if v}


def format_features(path: Path, *, with_bytes: bool) -> list[float]:
    """What a format-only classifier may see: container, JPEG quantisation, dimensions."""
    from PIL import Image

    with Image.open(path) as img:
        q = getattr(img, "quantization", None) or {}
        feats = [float(img.format == "JPEG"), float(img.format == "PNG"),
                 float(np.mean(q[0])) if 0 in q else 0.0, float(img.width), float(img.height)]
        if with_bytes:
            feats.append(path.stat().st_size / (img.width * img.height))
    return feats


def format_control(items: list[Item]) -> dict:
    """Grouped 5-fold cross-validated AUC of gradient boosting on format features alone."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    y = np.array([i.label for i in items])
    groups = [i.group for i in items]
    if len(set(groups)) < 2:  # one source photo: fall back to single files
        groups = list(range(len(items)))
    folds = min(5, len(set(groups)))
    out = {}
    for name, with_bytes in (("format_only", False), ("format_plus_bytes_per_pixel", True)):
        X = np.array([format_features(i.path, with_bytes=with_bytes) for i in items])
        p = cross_val_predict(HistGradientBoostingClassifier(max_iter=100), X, y,
                              groups=groups, cv=GroupKFold(folds), method="predict_proba")[:, 1]
        out[name] = {"auc": float(roc_auc_score(y, p)),
                     "features": ["is_jpeg", "is_png", "jpeg_luma_quant_mean", "width", "height"]
                     + (["bytes_per_pixel"] if with_bytes else [])}
    return out


def evaluate(det, items: list[Item], *, reps: int = 500, log=print) -> tuple[dict, dict]:
    """The report, plus the raw clean scores the plots are drawn from."""
    seen = set(det.training_summary_.get("families", []))
    y = np.array([i.label for i in items])
    fam = np.array([i.family for i in items])
    groups = np.array([i.group for i in items])
    images = [open_image(i.path) for i in items]
    t = det.threshold_
    subsets = {"all": np.ones(len(items), bool),
               "seen": (y == 0) | np.isin(fam, list(seen)),
               "held_out": (y == 0) | ((y == 1) & ~np.isin(fam, list(seen)))}
    families = sorted(set(fam[y == 1]))
    grid, scores = {}, {}
    for cond in CONDITIONS:
        start = time.perf_counter()
        p = det.predict_proba([degrade(im, cond) for im in images])[:, 1]
        scores[cond] = p
        log(f"{cond}: scored {len(images)} images in {time.perf_counter() - start:.0f} s")
        grid[cond] = {}
        for name, m in subsets.items():
            if (y[m] == 1).any() and (y[m] == 0).any():
                grid[cond][name] = {**metrics(y[m], p[m], t),
                                    "ci95": bootstrap(y[m], p[m], groups[m], t, reps=reps)}
    p = scores["clean"]
    per_family = {}
    for f in families:
        m = (y == 0) | (fam == f)
        per_family[f] = {"seen_in_training": f in seen, **metrics(y[m], p[m], t),
                         "ci95": bootstrap(y[m], p[m], groups[m], t, reps=reps)}
    report = {
        "model_id": det.model_id, "threshold": t, "target_fpr": TARGET_FPR,
        "preprocessing": det.preprocessing_, "calibration": det.calibration_,
        "data": {"n_images": len(items), "n_real": int((y == 0).sum()),
                 "n_synthetic": int((y == 1).sum()), "n_source_groups": len(set(groups)),
                 "families": families, "seen_families": sorted(seen & set(families)),
                 "held_out_families": sorted(set(families) - seen)},
        "bootstrap": {"unit": "source photo", "reps": reps, "interval": "95% percentile"},
        "clean": grid["clean"], "per_family": per_family, "robustness": grid,
        "reliability": reliability(y, p), "format_control": format_control(items),
        "training": det.training_summary_,
    }
    return report, {"y": y, "family": fam, "scores": scores}


def plot(report: dict, raw: dict, out: Path) -> list[Path]:
    """ROC per family (clean, and JPEG 75 for all fakes) and the reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    y, fam, scores = raw["y"], raw["family"], raw["scores"]
    fig, ax = plt.subplots(figsize=(5, 5))
    for f in report["data"]["families"]:
        m = (y == 0) | (fam == f)
        fpr, tpr, _ = roc_curve(y[m], scores["clean"][m])
        tag = "seen" if report["per_family"][f]["seen_in_training"] else "held out"
        ax.plot(fpr, tpr, label=f"{f} ({tag}) AUC {report['per_family'][f]['auc']:.3f}")
    fpr, tpr, _ = roc_curve(y, scores["jpeg75"])
    auc75 = report["robustness"]["jpeg75"]["all"]["auc"]
    ax.plot(fpr, tpr, "k--", label=f"all fakes, JPEG 75 AUC {auc75:.3f}")
    ax.axvline(TARGET_FPR, color="grey", lw=0.5)
    ax.set(xscale="log", xlim=(1e-3, 1), xlabel="false-positive rate (real photos)",
           ylabel="true-positive rate", title=report["model_id"])
    ax.legend(fontsize=7, loc="lower right")
    roc_path = out / "roc.png"
    fig.tight_layout()
    fig.savefig(roc_path, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    rel = report["reliability"]
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
    ax.plot([r["mean_p"] for r in rel], [r["frac_synthetic"] for r in rel], "o-")
    ax.set(xlabel="predicted p(synthetic)", ylabel="fraction synthetic (classes weighted equally)",
           title=f"reliability, ECE {report['clean']['all']['ece']:.3f}")
    rel_path = out / "reliability.png"
    fig.tight_layout()
    fig.savefig(rel_path, dpi=110)
    plt.close(fig)
    return [roc_path, rel_path]


def run(det, data: Path, out: Path | None, *, reps: int = 500, log=print) -> dict:
    """Evaluate on a folder (GenImage: its val/ part); with ``out``, also write
    evaluation.json, roc.png and reliability.png."""
    report, raw = evaluate(det, find_items(data, split="val"), reps=reps, log=log)
    report["data"]["path"] = str(data)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report["plots"] = [p.name for p in plot(report, raw, out)]
        (out / "evaluation.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> None:
    from . import SyntheticImageDetector

    ap = argparse.ArgumentParser(description="Evaluate a synthetic-image detector.")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    det = SyntheticImageDetector.load(args.checkpoint)
    report = run(det, args.data, args.out, reps=args.reps, log=lambda m: print(m, flush=True))
    print(json.dumps({k: report["clean"][k]["auc"] for k in report["clean"]}))


if __name__ == "__main__":
    sys.exit(main())
