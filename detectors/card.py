"""Fill the measured figures of MODEL_CARD.md from the JSON reports, so none is typed by hand.

    python -m detectors.card

Rewrites the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` markers from
``detectors/reports/evaluation.json``, ``detectors/reports/previous/evaluation.json`` (the
previous shipped detector on the same test data), ``benchmarks/results/detector_speed*.json``
and ``benchmarks/results/detector_ablation.json``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
CARD = HERE / "MODEL_CARD.md"
EVALUATION = HERE / "reports" / "evaluation.json"
PREVIOUS = HERE / "reports" / "previous" / "evaluation.json"
SPEED = HERE.parent / "benchmarks" / "results" / "detector_speed.json"
ABLATION = SPEED.with_name("detector_ablation.json")
SPEED_1THREAD = SPEED.with_name("detector_speed_1thread.json")


def _ci(m: dict, key: str) -> str:
    lo, hi = m["ci95"].get(key, [float("nan")] * 2)
    return f"{m[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def _table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _versus(report: dict, previous: dict) -> str:
    """This detector against the previous shipped one, on the same test data."""
    rows = []
    for cond in report["robustness"]:
        for subset in ("seen", "held_out"):
            new, old = report["robustness"][cond][subset], previous["robustness"][cond][subset]
            rows.append((cond, subset, f"{old['auc']:.4f} -> {new['auc']:.4f}",
                         f"{old['tpr_at_threshold']:.3f} -> {new['tpr_at_threshold']:.3f}",
                         f"{old['fpr_at_threshold']:.3f} -> {new['fpr_at_threshold']:.3f}"))
    return _table(("condition (both classes)", "fakes", "AUC", "TPR at threshold",
                   "FPR at threshold"), rows)


def _ablation(ablation: dict) -> str:
    """Medians over seeds of each retrained variant (benchmarks/detector_ablation.py)."""
    median = ablation["median"]
    names = list(median)
    rows = [(label, *(f"{median[n][label]:.4f}" for n in names)) for label in median[names[0]]]
    return _table((f"median over seeds {ablation['seeds']}", *names), rows)


def sections(report: dict, speeds: list[dict], previous: dict | None = None,
             ablation: dict | None = None) -> dict[str, str]:
    clean, rob = report["clean"], report["robustness"]
    seen, held = clean["seen"], clean.get("held_out")
    jpeg75 = rob["jpeg75"]["seen"]
    target_rows = [
        ("seen families, held-out photos: AUC", ">= 0.99", _ci(seen, "auc")),
        ("seen families: TPR at 1% FPR (this data's ROC)", ">= 0.90", _ci(seen, "tpr_at_1pct_fpr")),
        ("seen families: TPR at the shipped threshold (what `detect` flags)",
         "(none; for comparison)",
         f"{seen['tpr_at_threshold']:.3f} (FPR on test real photos "
         f"{seen['fpr_at_threshold']:.3f})"),
        ("held-out families, all together: AUC", ">= 0.90",
         _ci(held, "auc") if held else "not measured"),
        *[(f"held-out family `{f}`: AUC", ">= 0.90", _ci(m, "auc"))
          for f, m in report["per_family"].items() if not m["seen_in_training"]],
        ("seen families after JPEG 75 (both classes): AUC", ">= 0.95", _ci(jpeg75, "auc")),
        ("ECE, seen families (classes weighted equally)", "<= 0.05", f"{seen['ece']:.3f}"),
        ("ECE, all test images, held-out families included", "<= 0.05",
         f"{clean['all']['ece']:.3f}"),
    ]
    for speed in speeds:
        target_rows += [
            (f"512x512 JPEG, decode included, batch {speed['batch_size']}, "
             f"{speed['threads']} thread(s): images/s (median)", ">= 50",
             f"{speed['images_per_second_median']:.1f} "
             f"(load average {speed['load_average_1min']:.1f})"),
            (f"peak memory (RSS), {speed['threads']} thread(s)", "<= 1 GB",
             f"{speed['peak_rss_mb']:.0f} MB, of which importing torch and timm "
             f"{speed.get('rss_after_imports_mb', float('nan')):.0f} MB "
             f"({speed.get('rss_file_after_imports_mb', float('nan')):.0f} MB mapped library "
             "pages, which vary with the page cache): "
             f"{'met' if speed['peak_rss_mb'] <= 1000 else '**not met**'}"),
        ]
    fam_rows = [(f, "seen" if m["seen_in_training"] else "**held out**", m["n_real"],
                 m["n_synthetic"], _ci(m, "auc"), f"{m['ap']:.3f}", _ci(m, "tpr_at_1pct_fpr"),
                 f"{m['tpr_at_threshold']:.3f}", f"{m['ece']:.3f}")
                for f, m in report["per_family"].items()]
    rob_rows = [(cond, subset, _ci(m, "auc"),
                 f"{m['tpr_at_1pct_fpr']:.3f}", f"{m['tpr_at_threshold']:.3f}",
                 f"{m['fpr_at_threshold']:.3f}", f"{m['balanced_accuracy']:.3f}")
                for cond, subsets in rob.items() for subset, m in subsets.items()]
    fc = report["format_control"]
    data = report["data"]
    train = report.get("training", {})
    out = {"versus": _versus(report, previous)} if previous else {}
    if ablation:
        out["ablation"] = _ablation(ablation)
    return out | {
        "targets": _table(("measure (test photos never seen in training)", "target",
                           "measured [95% CI over source photos]"), target_rows),
        "families": _table(("family", "in training", "real", "synthetic", "AUC [95% CI]", "AP",
                            "TPR@1%FPR [95% CI]", "TPR at shipped threshold", "ECE"), fam_rows),
        "robustness": _table(("condition (both classes)", "fakes", "AUC [95% CI]", "TPR@1%FPR",
                              "TPR at threshold", "FPR at threshold", "balanced accuracy"),
                             rob_rows),
        "control": _table(("classifier input", "grouped 5-fold AUC"), [
            (", ".join(v["features"]), f"{v['auc']:.3f}") for v in fc.values()]),
        "data": _table(("", "value"), [
            ("model id", report["model_id"]),
            ("threshold (calibrated p(synthetic))", f"{report['threshold']:.4f}"),
            ("calibration", f"{report['calibration']['method']}: scale "
             f"{report['calibration']['scale']:.3f}, bias {report['calibration']['bias']:.3f}"),
            ("training images (real / synthetic)",
             " / ".join(str(v) for v in train.get("train_images", {}).values())),
            ("calibration images (real / synthetic)",
             " / ".join(str(v) for v in train.get("calibration_images", {}).values())),
            ("test images (real / synthetic)", f"{data['n_real']} / {data['n_synthetic']}"),
            ("source photos: train / calib / test groups",
             f"{train.get('train_groups')} / {train.get('calib_groups')} / "
             f"{data['n_source_groups']}"),
            ("families in training", ", ".join(data["seen_families"])),
            ("held-out families (test only)", ", ".join(data["held_out_families"])),
            ("training steps x batch", f"{train.get('steps')} x {train.get('batch_size')}"),
        ]),
    }


def main() -> None:
    report = json.loads(EVALUATION.read_text())
    speeds = [json.loads(p.read_text()) for p in (SPEED, SPEED_1THREAD) if p.is_file()]
    previous, ablation = (json.loads(p.read_text()) if p.is_file() else None
                          for p in (PREVIOUS, ABLATION))
    text = CARD.read_text()
    for name, body in sections(report, speeds, previous, ablation).items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{CARD}: no begin/end markers for {name!r}")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    CARD.write_text(text)
    print(f"updated {CARD}")


if __name__ == "__main__":
    sys.exit(main())
