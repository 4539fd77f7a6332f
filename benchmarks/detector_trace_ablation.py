"""What the trace detector's choices buy: the shipped recipe against variants, on the test split.

    python benchmarks/detector_trace_ablation.py [--steps 800] [--save]

Variants: ``grid-5x5`` (the recipe of ``python -m detectors.traintrace``, scoring 5 x 5 crops);
``grid-3x3`` (the same weights scoring 3 x 3 crops, recalibrated: what ships);
``no-jpeg-equalising`` (5 x 5; sources that are not JPEGs keep their history, so the real
photos' JPEG traces say "real"). Each variant is calibrated on the calibration split and measured
on the test split, clean and after JPEG 75 on both classes. A diagnosis, not a model selection.
Writes ``detector_trace_ablation.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from _results import add_output_options, destination  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--reps", type=int, default=200)
    add_output_options(ap, "detector_trace_ablation.json")
    args = ap.parse_args(argv)
    import torch

    from detectors.lofo import evaluate_views
    from detectors.realdata import all_sources
    from detectors.traintrace import build_bank, fit_trace, view_items

    torch.set_num_threads(1)
    out = destination(args, "detector_trace_ablation.json")
    sources = all_sources(args.data)
    calib = view_items([s for s in sources if s.split == "calib"])
    test = view_items([s for s in sources if s.split == "test"])
    results = {}

    def measure(name, det):
        det.calibrate([v for _, v in calib], [s.label for s, _ in calib])
        r = evaluate_views(det, test, reps=args.reps, conditions=("clean", "jpeg75"),
                           control=False)
        results[name] = {"per_family": r["per_family"], "robustness": r["robustness"],
                         "threshold": r["threshold"], "ece_all": r["ece_all"]}
        print(name, json.dumps({f: round(m["auc"], 3) for f, m in r["per_family"].items()}),
              flush=True)

    for name, equalise in (("grid-5x5", True), ("no-jpeg-equalising", False)):
        bank = build_bank(args.data, sources, equalise_jpeg=equalise)
        det = fit_trace(bank, bank["label"] >= 0, steps=args.steps, crop_grid=5,
                        model_id=name, summary={"variant": name})
        measure(name, det)
        if name == "grid-5x5":
            nine = copy.deepcopy(det)
            nine.crop_grid = nine.preprocessing_["crop_grid"] = 3
            measure("grid-3x3", nine)
    out.write_text(json.dumps({"benchmark": "detector_trace_ablation", "steps": args.steps,
                               "variants": results}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
