"""``trustgen detect`` and ``trustgen detector eval|train``, plugged into the ``trustgen`` command
through the ``trustgen.commands`` entry point group, so trustgen never imports this package.

Thin: parse, call one function of this package, render with trustgen's output helpers so the
output matches the other commands. torch and timm load only inside the command bodies.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from trustgen.cli._render import echo, error_line, json_line, table
from trustgen.errors import InputError, TrustgenError


def _set_threads(threads: int) -> None:
    from .model import _torch

    _torch()[0].set_num_threads(threads)


@click.command("detect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="A detector checkpoint instead of the shipped one.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--map", "map_out", type=click.Path(path_type=Path), default=None,
              help="With one FILE: write its per-crop scores drawn over it to this PNG.")
def detect_command(files, as_json, checkpoint, threads, map_out):
    """Probability that each image FILE is synthetic, its label at the shipped threshold
    (1% false positives on real photos), its most synthetic crop's probability and box
    (x,y,w,h) and the model id. A bad file is reported and skipped; the exit code is then 2."""
    from .scoring import label, score_files

    if map_out is not None and len(files) != 1:
        raise InputError(f"--map draws one image; {len(files)} files were given", path=map_out)
    if checkpoint is not None and checkpoint.suffix.lower() != ".onnx":
        _set_threads(threads)  # a torch checkpoint; the shipped detector runs on onnxruntime
    failed, rows = False, []
    for path, ev in score_files(files, checkpoint, threads=threads):
        if isinstance(ev, TrustgenError):
            failed = True
            error_line(str(ev))
            continue
        if as_json:
            json_line({"path": str(path), "probability": round(ev.probability, 6),
                       "threshold": round(ev.threshold, 6), "label": label(ev),
                       "region_probability": round(ev.region_probability, 6),
                       "region_box": list(ev.region_box), "model": ev.model})
        else:
            rows.append((path, f"{ev.probability:.4f}", label(ev),
                         f"{ev.region_probability:.4f}", ",".join(map(str, ev.region_box)),
                         ev.model))
        if map_out is not None:
            _write_map(path, checkpoint, threads, map_out)
    if rows:
        table(rows, ("path", "p(synthetic)", "label", "most synthetic crop", "its box",
                     "model"))
    if failed:
        click.get_current_context().exit(2)


def _write_map(path: Path, checkpoint, threads: int, out: Path) -> None:
    from .folders import open_image
    from .inference import load_detector
    from .regionmap import write_map

    summary = write_map(load_detector(checkpoint, threads=threads), open_image(path), out)
    echo(f"wrote {out}: {summary['crops']} crops, {summary['above_threshold']} above the "
         f"threshold, the most synthetic {summary['max_probability']:.4f} at "
         f"{','.join(map(str, summary['max_box']))}", err=True)


@click.group("detector")
def detector_command():
    """Evaluate or train the synthetic-image detector."""


@detector_command.command("eval")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Folder with 0_real/ and 1_fake/ (or GenImage / CNNDetection layouts). "
                   "Default: the test split of `python -m detectors.realdata`'s data set.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None)
@click.option("--lofo", is_flag=True,
              help="Leave one family out: retrain without each real generator family (and "
                   "without trustgen's own two) and test on it; minutes per family.")
@click.option("--steps", type=int, default=1200, show_default=True,
              help="Training steps per held-out family (--lofo).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write the report (JSON) here; with --data, a folder for evaluation.json, "
                   "roc.png and reliability.png.")
@click.option("--reps", type=int, default=300, show_default=True, help="Bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--threads", type=int, default=2, show_default=True)
def eval_command(data, checkpoint, lofo, steps, out, reps, as_json, threads):
    """AUC, TPR at the shipped threshold and at 1% FPR, FPR, ECE, with bootstrap intervals over
    source images: for every family, clean and after JPEG 75, a 0.5 downscale and noise of
    sigma 3 on both classes."""
    from .model import SyntheticImageDetector

    _set_threads(threads)
    if data is not None:
        _eval_folder(data, checkpoint, out, reps, as_json)
        return
    from .lofo import evaluate_views, run_lofo
    from .realdata import all_sources
    from .traintrace import DEFAULT_DATA, build_bank, view_items

    if not (DEFAULT_DATA / "sources.json").is_file():
        raise InputError("no --data given and no built data set here; "
                         "run `python -m detectors.realdata` first", path=DEFAULT_DATA)
    log = lambda m: echo(m, err=True)  # noqa: E731
    sources = all_sources(DEFAULT_DATA)
    if lofo:
        import argparse

        _set_threads(1)
        args = argparse.Namespace(steps=steps, width=24, seed=0, reps=reps, only=None)
        report = run_lofo(build_bank(DEFAULT_DATA, sources, log=log), sources, args,
                          summary={}, log=log)
        runs = {f: run for run in report["runs"].values() for f in run["held_out"]}
    else:
        det = SyntheticImageDetector.load(checkpoint)
        report = evaluate_views(det, view_items([s for s in sources if s.split == "test"]),
                                reps=reps, log=log)
        runs = {f: report for f in report["per_family"] if f not in ("all",)}
    if out is not None:
        from trustgen.media import atomic_write

        atomic_write(out, json.dumps(report, indent=1).encode(), overwrite=True)
    if as_json:
        json_line(report)
        return
    rows = []
    for fam, run in runs.items():
        for cond, by in run["robustness"].items():
            m = by[fam]
            lo, hi = m["ci95"].get("auc", (float("nan"), float("nan")))
            rows.append((fam, cond, m["n_real"], m["n_synthetic"],
                         f"{m['auc']:.4f} [{lo:.3f}, {hi:.3f}]", f"{m['tpr_at_threshold']:.3f}",
                         f"{m['tpr_at_1pct_fpr']:.3f}", f"{m['fpr_at_threshold']:.3f}",
                         f"{m['ece']:.3f}"))
    table(rows, ("family" + (" (held out)" if lofo else ""), "condition", "real", "synth",
                 "AUC [95% CI]", "TPR@thr", "TPR@1%FPR", "FPR@thr", "ECE"))
    if lofo:
        p = report["pooled"]
        click.echo(f"pooled over real-generator fakes, each at its run's threshold: TPR "
                   f"{p['tpr_at_threshold']:.3f}, worst FPR {p['max_fpr_at_threshold']:.3f}")
    else:
        click.echo(f"ECE over all test views {report['ece_all']:.3f}; format-only control AUC "
                   f"{report['format_control']['auc']:.3f}; model {det.model_id}, threshold "
                   f"{det.threshold_:.4f}")


def _eval_folder(data: Path, checkpoint, out, reps: int, as_json: bool) -> None:
    """A folder of labelled images (``detectors.evaluate``): every family, every condition."""
    from .evaluate import CONDITIONS, run
    from .model import SyntheticImageDetector

    det = SyntheticImageDetector.load(checkpoint)
    report = run(det, data, out, reps=reps, log=lambda m: echo(m, err=True))
    if as_json:
        json_line(report)
        return
    rows = []
    for cond in CONDITIONS:
        for subset, m in report["robustness"][cond].items():
            rows.append((cond, subset, m["n_real"], m["n_synthetic"], f"{m['auc']:.4f}",
                         f"{m['ap']:.4f}", f"{m['tpr_at_1pct_fpr']:.3f}",
                         f"{m['fpr_at_threshold']:.3f}", f"{m['balanced_accuracy']:.3f}",
                         f"{m['ece']:.3f}"))
    for fam, m in report["per_family"].items():
        rows.append(("clean", fam, m["n_real"], m["n_synthetic"], f"{m['auc']:.4f}",
                     f"{m['ap']:.4f}", f"{m['tpr_at_1pct_fpr']:.3f}",
                     f"{m['fpr_at_threshold']:.3f}", f"{m['balanced_accuracy']:.3f}",
                     f"{m['ece']:.3f}"))
    table(rows, ("condition", "fakes", "real", "synth", "AUC", "AP", "TPR@1%FPR",
                 "FPR@thr", "bal.acc", "ECE"))
    fc = report["format_control"]["format_only"]["auc"]
    click.echo(f"format-only control AUC {fc:.3f}; model {det.model_id}, threshold "
               f"{det.threshold_:.4f}")


@detector_command.command("train")
@click.option("--real", "real_dir", required=True, type=click.Path(path_type=Path))
@click.option("--fake", "fake_dir", required=True, type=click.Path(path_type=Path),
              help="Synthetic images; subfolders name generator families.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Checkpoint file to write (.safetensors).")
@click.option("--steps", type=int, default=400, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--input-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=5e-4, show_default=True)
@click.option("--calib-fraction", type=float, default=0.25, show_default=True,
              help="Share of source photos held out to calibrate the threshold.")
@click.option("--pretrained/--no-pretrained", default=True, show_default=True,
              help="Start from ImageNet weights (needs trustgen[train]).")
@click.option("--model-id", default="trustgen-detector-custom", show_default=True)
@click.option("--overwrite", is_flag=True)
@click.option("--threads", type=int, default=2, show_default=True)
def train_command(real_dir, fake_dir, out, steps, batch_size, input_size, lr, calib_fraction,
                  pretrained, model_id, overwrite, threads):
    """Fine-tune a detector on your images and calibrate its threshold to 1% FPR.

    \b
    Images are split by source photo, never by file: a file's source photo is
    its name up to "__" (photo1__0.png, photo1__blur.jpg), else its name without
    extension, so --real DIR/photo1.png and --fake DIR/blur/photo1.png stay
    together. Name a fake after the real photo it was made from. Subfolders of
    --fake name generator families. Calibration needs at least 100 real images
    for a 1% FPR threshold to mean anything; fewer give a warning."""
    from .train import train_folders

    _set_threads(threads)
    det = train_folders(real_dir, fake_dir, out, calib_fraction=calib_fraction,
                        overwrite=overwrite, log=lambda m: echo(m, err=True),
                        steps=steps, batch_size=batch_size, input_size=input_size, lr=lr,
                        pretrained="imagenet" if pretrained else None, model_id=model_id)
    echo(f"wrote {out} ({det.model_id}, threshold {det.threshold_:.4f})")
