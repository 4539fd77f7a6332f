"""``trustgen detect`` and ``trustgen detector eval|train``, plugged into the ``trustgen`` command
through the ``trustgen.commands`` entry point group, so trustgen never imports this package.

Thin: parse, call one function of this package, render with trustgen's output helpers so the
output matches the other commands. torch and timm load only inside the command bodies.
"""

from __future__ import annotations

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
def detect_command(files, as_json, checkpoint, threads):
    """Probability that each image FILE is synthetic, its label at the shipped threshold
    (1% false positives on real photos) and the model id. A bad file is reported and skipped;
    the exit code is then 2."""
    from .scoring import label, score_files

    if checkpoint is not None and checkpoint.suffix.lower() != ".onnx":
        _set_threads(threads)  # a torch checkpoint; the shipped detector runs on onnxruntime
    failed, rows = False, []
    for path, ev in score_files(files, checkpoint, threads=threads):
        if isinstance(ev, TrustgenError):
            failed = True
            error_line(str(ev))
        elif as_json:
            json_line({"path": str(path), "probability": round(ev.probability, 6),
                       "threshold": round(ev.threshold, 6), "label": label(ev),
                       "model": ev.model})
        else:
            rows.append((path, f"{ev.probability:.4f}", label(ev), ev.model))
    if rows:
        table(rows, ("path", "p(synthetic)", "label", "model"))
    if failed:
        click.get_current_context().exit(2)


@click.group("detector")
def detector_command():
    """Evaluate or train the synthetic-image detector."""


@detector_command.command("eval")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Folder with 0_real/ and 1_fake/ (or GenImage / CNNDetection layouts). "
                   "Default: the test split built by `python -m detectors.data`.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for evaluation.json, roc.png and reliability.png.")
@click.option("--reps", type=int, default=500, show_default=True, help="Bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--threads", type=int, default=2, show_default=True)
def eval_command(data, checkpoint, out, reps, as_json, threads):
    """AUC, AP, TPR at 1% FPR, balanced accuracy, ECE, per family and under degradations."""
    from .evaluate import CONDITIONS, DEFAULT_DATA, run
    from .model import SyntheticImageDetector

    if data is None:
        data = DEFAULT_DATA
        if not data.is_dir():
            raise InputError("no --data given and no built data set here; "
                             "run `python -m detectors.data` first", path=data)
    _set_threads(threads)
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
