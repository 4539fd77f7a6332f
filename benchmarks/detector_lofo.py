"""Leave-one-family-out evaluation of the trace detector: each real generator family, and
trustgen's own (marked and unmarked) together, held out in turn.

    python benchmarks/detector_lofo.py [--data .detector-data] [--steps 1200] [--save]

Needs the data set of ``python -m detectors.realdata``. Each held-out set costs one training
(about 3-5 minutes on one thread). Prints one row per family and condition and writes JSON
(``detector_lofo.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _results import add_output_options, destination  # noqa: E402


def rows(report: dict) -> list[tuple]:
    """Held-out family x condition: AUC [CI], TPR at the run's threshold, TPR@1%FPR, FPR."""
    out = []
    for run in report["runs"].values():
        for fam in run["held_out"]:
            for cond, by in run["robustness"].items():
                m = by[fam]
                lo, hi = m["ci95"].get("auc", [float("nan")] * 2)
                out.append((fam, cond, m["n_real"], m["n_synthetic"],
                            f"{m['auc']:.3f} [{lo:.3f}, {hi:.3f}]",
                            f"{m['tpr_at_threshold']:.3f}", f"{m['tpr_at_1pct_fpr']:.3f}",
                            f"{m['fpr_at_threshold']:.3f}", f"{m['ece']:.3f}"))
    return out


def print_table(report: dict) -> None:
    head = ("held-out family", "condition", "real", "synth", "AUC [95% CI]", "TPR@thr",
            "TPR@1%FPR", "FPR@thr", "ECE")
    body = rows(report)
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    for r in [head, tuple("-" * w for w in widths), *body]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    p = report["pooled"]
    print(f"pooled over real-generator fakes (each at its own run's threshold): TPR "
          f"{p['tpr_at_threshold']:.3f}, worst FPR on test photos {p['max_fpr_at_threshold']:.3f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--only", nargs="*", default=None, help="held-out sets, e.g. sd1 dalle2")
    ap.add_argument("--no-equalise-jpeg", dest="equalise_jpeg", action="store_false")
    ap.add_argument("--no-marked-family", dest="marked_family", action="store_false",
                    help="own-marked left out of training (the mark only as history)")
    ap.add_argument("--reps", type=int, default=300)
    add_output_options(ap, "detector_lofo.json")
    args = ap.parse_args(argv)
    import torch

    from detectors.lofo import run_lofo
    from detectors.realdata import all_sources
    from detectors.traintrace import build_bank

    torch.set_num_threads(1)
    out = destination(args, "detector_lofo.json")
    sources = all_sources(args.data)
    bank = build_bank(args.data, sources, equalise_jpeg=args.equalise_jpeg,
                      marked_family=args.marked_family)
    args.width, args.seed = 24, 0
    report = run_lofo(bank, sources, args, summary={"equalise_jpeg": args.equalise_jpeg,
                                                    "marked_family": args.marked_family})
    report["benchmark"] = "detector_lofo"
    out.write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
