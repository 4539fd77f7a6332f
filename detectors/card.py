"""Fill the measured figures of MODEL_CARD.md from the JSON reports, so none is typed by hand.

    python -m detectors.card

Rewrites the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` markers from
``detectors/reports/evaluation.json`` (``python -m detectors.traintrace``: the shipped
detector on the test split), ``benchmarks/results/detector_lofo.json`` (leave one family out),
``benchmarks/results/detector_speed.json`` and ``detector_trace_ablation.json``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from .realdata import REAL_FAMILIES as REAL

HERE = Path(__file__).parent
CARD = HERE / "MODEL_CARD.md"
EVALUATION = HERE / "reports" / "evaluation.json"
SPEED = HERE.parent / "benchmarks" / "results" / "detector_speed.json"
LOFO = SPEED.with_name("detector_lofo.json")
#: The same protocol for other recipes: {column: file}.
LOFO_VARIANTS = {"without own-marked as a family": SPEED.with_name(
    "detector_lofo_no_marked_family.json")}
SPECTRAL = SPEED.with_name("detector_spectral_baseline.json")
ABLATION = SPEED.with_name("detector_trace_ablation.json")


def _ci(m: dict, key: str) -> str:
    lo, hi = m["ci95"].get(key, [float("nan")] * 2)
    return f"{m[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def _table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _row(name: str, cond: str, m: dict) -> tuple:
    return (name, cond, m["n_real"], m["n_synthetic"], _ci(m, "auc"),
            f"{m['tpr_at_threshold']:.3f}", _ci(m, "tpr_at_1pct_fpr"),
            f"{m['fpr_at_threshold']:.3f}", f"{m['ece']:.3f}")


_HEAD = ("family", "condition (both classes)", "real views", "synthetic views", "AUC [95% CI]",
         "TPR at threshold", "TPR@1%FPR [95% CI]", "FPR at threshold", "ECE")


def _lofo(lofo: dict) -> str:
    """Each held-out family, scored by the run trained and calibrated without it."""
    rows = [_row(f"`{f}`", cond, by[f]) for run in lofo["runs"].values()
            for f in run["held_out"] for cond, by in run["robustness"].items()]
    return _table(("held-out family", *_HEAD[1:]), rows)


def _frontier(lofo: dict, variants: dict[str, dict], spectral: dict | None) -> str:
    """Held-out AUC (clean) per family: the shipped recipe, other recipes, the baseline."""
    def auc(report: dict, f: str) -> str:
        run = next((r for r in report["runs"].values() if f in r["held_out"]), None)
        return _ci(run["per_family"][f], "auc") if run else "not run"

    held = [f for run in lofo["runs"].values() for f in run["held_out"]]
    rows = [(f"`{f}`", auc(lofo, f), *(auc(v, f) for v in variants.values()),
             f"{spectral['held_out'][f]['auc']:.4f}" if spectral and f in spectral["held_out"]
             else "not run") for f in held]
    pooled = [lofo, *variants.values()]
    rows.append(("pooled TPR at threshold (worst FPR)", *(
        f"{r['pooled']['tpr_at_threshold']:.3f} ({r['pooled']['max_fpr_at_threshold']:.3f})"
        for r in pooled), "(no threshold)"))
    return _table(("held-out family", "shipped recipe", *variants,
                   "spectral-peak baseline (AUC)"), rows)


def _ablation(ablation: dict) -> str:
    """Test-split AUC per family of each variant (``benchmarks/detector_trace_ablation.py``)."""
    names = list(ablation["variants"])
    fams = list(next(iter(ablation["variants"].values()))["per_family"])
    rows = [(f"AUC clean `{f}`", *(f"{ablation['variants'][n]['per_family'][f]['auc']:.3f}"
                                   for n in names)) for f in fams]
    rows += [(f"AUC JPEG 75 `{f}`", *(
        f"{ablation['variants'][n]['robustness']['jpeg75'][f]['auc']:.3f}" for n in names))
        for f in fams]
    return _table(("test split", *names), rows)


def sections(report: dict, speeds: list[dict], lofo: dict | None = None,
             ablation: dict | None = None) -> dict[str, str]:
    rob = report["robustness"]
    out: dict[str, str] = {}
    target_rows = []
    if lofo:
        held = {f: run for run in lofo["runs"].values() for f in run["held_out"]}
        target_rows += [(f"held-out family `{f}`: AUC", ">= 0.90",
                         _ci(run["per_family"][f], "auc")) for f, run in held.items()]
        p = lofo["pooled"]
        target_rows.append((
            "all real-generator fakes, each at its own run's threshold: TPR (FPR on the "
            "test photos)", ">= 0.50 (<= 0.01)",
            f"{p['tpr_at_threshold']:.3f} (worst run {p['max_fpr_at_threshold']:.3f})"))
        target_rows += [(f"held-out family `{f}` after JPEG 75: AUC", ">= 0.85",
                         _ci(run["robustness"]["jpeg75"][f], "auc"))
                        for f, run in held.items() if f in REAL]
        out["lofo"] = _lofo(lofo)
    marked = rob["clean"].get("own-marked")
    if marked:
        target_rows.append(("shipped detector, trustgen's own marked generations (test "
                            "split): TPR at threshold", ">= 0.90",
                            f"{marked['tpr_at_threshold']:.3f}"))
    target_rows.append(("shipped detector, ECE over all test views", "<= 0.05",
                        f"{report['ece_all']:.3f}"))
    for speed in speeds:
        target_rows.append((
            f"512x512 JPEG, decode included, {speed.get('backend', 'torch')}, batch "
            f"{speed['batch_size']}, {speed['threads']} thread(s): images/s (median)", ">= 50",
            f"{speed['images_per_second_median']:.1f} (load average "
            f"{speed['load_average_1min']:.1f}; peak RSS {speed['peak_rss_mb']:.0f} MB)"))
    out["targets"] = _table(("measure", "target", "measured [95% CI over source images]"),
                            target_rows)
    out["families"] = _table(_HEAD, [_row(f"`{f}`", cond, m) for cond, by in rob.items()
                                     for f, m in by.items()])
    out["kinds"] = _table(("real photos", "views", "photos", "flagged at the threshold"), [
        (k, v["n"], v["photos"], f"{v['fpr_at_threshold']:.3f}")
        for k, v in report["real_fpr_by_kind"].items()])
    hc, fc = report["history_control"], report["format_control"]
    out["control"] = _table(("classifier input", "grouped 5-fold AUC"), [
        ("training patches' history: " + ", ".join(hc["features"]), f"{hc['auc']:.3f}"),
        ("test views' source file: " + ", ".join(fc["features"]), f"{fc['auc']:.3f}")])
    train = report.get("training", {})
    data = report["data"]
    cal = report["calibration"]
    out["data"] = _table(("", "value"), [
        ("model id", report["model_id"]),
        ("threshold (calibrated p(synthetic))", f"{report['threshold']:.4f}"),
        ("calibration", f"{cal['method']}: scale {cal['scale']:.3f}, bias {cal['bias']:.3f}, "
                        f"on {len(cal.get('real_probabilities', []))} real views"),
        ("training source images (real / synthetic)",
         " / ".join(str(v) for v in train.get("train_images", {}).values())),
        ("families in training", ", ".join(report["families_in_training"])),
        ("test views (real / synthetic), source images, real photos",
         f"{data['real_views']} / {data['synthetic_views']}, {data['source_images']}, "
         f"{data['real_photos']}"),
        ("test source images per family", ", ".join(
            f"{f} {n}" for f, n in data["images_per_family"].items())),
        ("training steps x batch", f"{train.get('steps')} x {train.get('batch_size')}"),
    ])
    if ablation:
        out["ablation"] = _ablation(ablation)
    return out


def main() -> None:
    report = json.loads(EVALUATION.read_text())
    speeds = [json.loads(p.read_text()) for p in (SPEED,) if p.is_file()]
    lofo, ablation, spectral = (json.loads(p.read_text()) if p.is_file() else None
                                for p in (LOFO, ABLATION, SPECTRAL))
    found = {k: json.loads(p.read_text()) for k, p in LOFO_VARIANTS.items() if p.is_file()}
    parts = sections(report, speeds, lofo, ablation)
    if lofo:
        parts["frontier"] = _frontier(lofo, found, spectral)
    text = CARD.read_text()
    for name, body in parts.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{CARD}: no begin/end markers for {name!r}")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    CARD.write_text(text)
    print(f"updated {CARD}")


if __name__ == "__main__":
    sys.exit(main())
