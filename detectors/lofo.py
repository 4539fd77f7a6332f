"""Measure the trace detector per family, and leave-one-family-out.

``evaluate_views`` scores views (``realdata.views``) of labelled source images on the clean
images and after JPEG 75, a 0.5 downscale and Gaussian noise of sigma 3 applied to both
classes, and reports, for every family against all real views: AUC, AP, TPR at the shipped
threshold and at 1% FPR on this data's own ROC, ECE, with bootstrap 95% intervals that resample
source images (a view is not independent of its image's other views); the false-positive rate
at the threshold for each kind of real photo; and a format-only control.

``run_lofo`` holds each real generator family out in turn, and trustgen's two own families
together: trains on the other families' training split, calibrates on their calibration split,
and tests on every image of the held-out family against the test split's real photos.
"""

from __future__ import annotations

import numpy as np

from .evaluate import bootstrap, expected_calibration_error, metrics
from .realdata import OWN_FAMILIES, REAL_FAMILIES, Source

CONDITIONS = ("clean", "jpeg75", "downscale0.5", "noise3", "marked")
HOLDOUTS = tuple((f,) for f in REAL_FAMILIES) + (OWN_FAMILIES,)


def format_control(items: list[tuple[Source, object]]) -> dict:
    """Grouped 5-fold AUC of gradient boosting on the *source file's* format alone (container,
    JPEG quantisation, size): how much the raw data's format history gives the class away."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from .evaluate import format_features

    feats = {}
    X = np.array([feats.setdefault(s.path, format_features(s.path, with_bytes=False))
                  for s, _ in items])
    y = np.array([s.label for s, _ in items])
    groups = [s.group for s, _ in items]
    p = cross_val_predict(HistGradientBoostingClassifier(max_iter=100), X, y, groups=groups,
                          cv=GroupKFold(min(5, len(set(groups)))), method="predict_proba")[:, 1]
    return {"auc": float(roc_auc_score(y, p)),
            "features": ["is_jpeg", "is_png", "jpeg_luma_quant_mean", "width", "height"]}


def history_control(bank: dict) -> dict:
    """The same control on what training saw: grouped 5-fold AUC of gradient boosting on each
    bank patch's history flags (``traintrace.FLAGS``: JPEG before, resized, marked, JPEG,
    noise). About 0.5: no step of the history tells the classes apart."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from .traintrace import FLAGS

    X, y = bank["flags"].astype(float), bank["label"]
    p = cross_val_predict(HistGradientBoostingClassifier(max_iter=50), X, y,
                          groups=bank["group"], cv=GroupKFold(5), method="predict_proba")[:, 1]
    return {"auc": float(roc_auc_score(y, p)), "features": list(FLAGS),
            "share_by_class": {name: [float(X[y == c, i].mean()) for c in (0, 1)]
                               for i, name in enumerate(FLAGS)}}


def _scores(det, images, condition: str) -> np.ndarray:
    from .evaluate import degrade

    return det.predict_proba([degrade(im, condition) for im in images])[:, 1]


def evaluate_views(det, items: list[tuple[Source, object]], *, reps: int = 300,
                   conditions=CONDITIONS, control: bool = True, log=print) -> dict:
    y = np.array([s.label for s, _ in items])
    fam = np.array([s.family for s, _ in items])
    groups = np.array([s.group for s, _ in items])
    kinds = np.array([s.kind for s, _ in items])
    images = [v for _, v in items]
    t = det.threshold_
    families = sorted(set(fam[y == 1]))
    subsets = {f: (y == 0) | (fam == f) for f in families}
    real_gen = [f for f in families if f in REAL_FAMILIES]
    if real_gen:
        subsets["real generators"] = (y == 0) | np.isin(fam, real_gen)
    subsets["all"] = np.ones(len(y), bool)
    grid = {}
    for cond in conditions:
        p = _scores(det, images, cond)
        log(f"{cond}: scored {len(images)} views")
        grid[cond] = {}
        for name, m in subsets.items():
            grid[cond][name] = {**metrics(y[m], p[m], t),
                                "ci95": bootstrap(y[m], p[m], groups[m], t, reps=reps)}
        if cond == "clean":
            clean = p
    fpr_by_kind = {k: {"n": int((kinds == k).sum()),
                       "photos": len(set(groups[kinds == k])),
                       "fpr_at_threshold": float((clean[kinds == k] > t).mean())}
                   for k in sorted(set(kinds[y == 0]))}
    report = {
        "model_id": det.model_id, "threshold": t, "calibration": det.calibration_,
        "families_in_training": det.training_summary_.get("families", []),
        "data": {"views": len(y), "real_views": int((y == 0).sum()),
                 "synthetic_views": int((y == 1).sum()),
                 "source_images": len(set(groups)),
                 "real_photos": len(set(groups[y == 0])),
                 "views_per_family": {f: int((fam == f).sum()) for f in families},
                 "images_per_family": {f: len(set(groups[fam == f])) for f in families}},
        "bootstrap": {"unit": "source image", "reps": reps, "interval": "95% percentile"},
        "per_family": grid["clean"], "robustness": grid,
        "real_fpr_by_kind": fpr_by_kind,
        "ece_all": expected_calibration_error(y, clean),
        "training": det.training_summary_,
    }
    if control:
        report["format_control"] = format_control(items)
    return report


def run_lofo(bank: dict, sources: list[Source], args, *, summary: dict, log=print) -> dict:
    """Every held-out set of ``HOLDOUTS`` (or ``args.only``), one training each."""
    from .traintrace import fit_trace, view_items

    calib_all = view_items([s for s in sources if s.split == "calib"])
    test_real = view_items([s for s in sources if s.split == "test" and s.label == 0])
    runs = {}
    for held in HOLDOUTS:
        name = "+".join(held)
        if args.only and name not in args.only:
            continue
        log(f"== holding out {name}")
        keep = ~np.isin(bank["family"], held)
        det = fit_trace(bank, keep, steps=args.steps, width=args.width, seed=args.seed,
                        model_id=f"lofo-without-{name}", log=log,
                        summary={**summary, "held_out_families": list(held)})
        calib = [(s, v) for s, v in calib_all if s.family not in held]
        det.calibrate([v for _, v in calib], [s.label for s, _ in calib])
        test = test_real + view_items([s for s in sources if s.family in held])
        runs[name] = evaluate_views(det, test, reps=args.reps, control=False, log=log)
        runs[name]["held_out"] = list(held)
        pf = runs[name]["per_family"]
        log(" ".join(f"{f}: AUC {pf[f]['auc']:.3f} TPR@thr {pf[f]['tpr_at_threshold']:.3f}"
                     for f in held))
    return {"protocol": "leave one family out: trained and calibrated without the family, "
                        "tested on all its images against the test split's real photos",
            "steps": args.steps, "width": args.width, "seed": args.seed,
            "runs": runs, "pooled": pooled(runs)}


def pooled(runs: dict) -> dict:
    """Over all real-generator fakes, each scored by the run that held its family out: how many
    each run's own threshold catches, and the worst false-positive rate among the runs."""
    caught = total = 0
    fprs = []
    for run in runs.values():
        for f in run["held_out"]:
            if f in REAL_FAMILIES:
                m = run["per_family"][f]
                caught += m["tpr_at_threshold"] * m["n_synthetic"]
                total += m["n_synthetic"]
                fprs.append(m["fpr_at_threshold"])
    return {"real_generator_views": total,
            "tpr_at_threshold": caught / total if total else None,
            "max_fpr_at_threshold": max(fprs) if fprs else None}
