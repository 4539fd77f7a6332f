"""Train, calibrate and measure the trace detector (``detectors.tracenet``) on ``detectors.realdata``.

    python -m detectors.traintrace [--data .detector-data] [--steps 800] [--overwrite]

trains the shipped detector on every family's training split, calibrates it on the calibration
split, evaluates it on the test split into ``detectors/reports/evaluation.json``
(``--evaluate CHECKPOINT``: only that). Leave-one-family-out: ``benchmarks/detector_lofo.py``
and ``trustgen detector eval --lofo`` (``detectors.lofo``).

Training images are *patches* drawn from a bank built once per source image (``patch_bank``):
a random native-resolution view, then the same random history for both classes (resizing down
or up, trustgen's watermark, JPEG, low-amplitude noise), then patches. Batches are half real,
half synthetic, and the synthetic half is drawn family by family, so trustgen's 128 own images
do not outweigh a five-image family.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .model import jpeg_roundtrip
from .realdata import OWN_FAMILIES, Source, all_sources, views

MARKED = OWN_FAMILIES[1]
#: Whether ``own-marked`` is trained on as a family (``build_bank``).
MARKED_FAMILY = True
#: History drawn alike for both classes, per view (probabilities).
HISTORY = {"resize": 0.3, "mark": 0.4, "jpeg": 0.5, "noise": 0.3}
DEFAULT_DATA = Path(".detector-data")
BANK_VIEW = 384  # side of the random view a bank round starts from (the mark needs >= 256)
PATCH = 80  # bank patches; training crops input_size (64) from them at a random offset
FILTERS = ("BILINEAR", "BICUBIC", "LANCZOS", "BOX")
#: Crops per side scored at inference: 3 x 3 of 64 px. 5 x 5 scored the same within noise
#: (``benchmarks/detector_trace_ablation.py``: real generators' AUC 0.738 against 0.747) at
#: 2.8 times the cost, which the speed target cannot afford on two cores.
CROP_GRID = 3


#: What ``format_control`` may see of a bank patch's history: whether its source was a JPEG
#: (or got one first), was resized, marked, JPEG-compressed, noised.
FLAGS = ("jpeg_before", "resized", "marked", "jpeg", "noise")


def _history(img, rng, p: dict) -> tuple[np.ndarray, list[bool]]:
    """One random processing history (the same distribution for every image, real or not):
    the pixels and which steps were taken (``FLAGS[1:]``)."""
    from PIL import Image

    from trustgen import watermark
    from trustgen.errors import WatermarkError

    flags = [rng.random() < p[k] for k in ("resize", "mark", "jpeg", "noise")]
    if flags[0]:
        f = rng.uniform(0.5, 0.9) if rng.random() < 0.5 else rng.uniform(1.2, 2.0)
        size = (max(64, round(img.width * f)), max(64, round(img.height * f)))
        img = img.resize(size, getattr(Image, FILTERS[rng.integers(len(FILTERS))]))
    if flags[1]:
        try:
            img = watermark.embed(img, f"{int(rng.integers(1 << 40)):012x}")
        except WatermarkError:  # under MIN_SIDE, or too saturated to carry the mark
            flags[1] = False
    if flags[2]:
        img = jpeg_roundtrip(img, int(rng.integers(65, 99)))
    a = np.asarray(img.convert("RGB"))
    if flags[3]:
        a = np.clip(a + rng.normal(0, rng.uniform(0.5, 3.5), a.shape), 0, 255).astype(np.uint8)
    return a, flags


def _mark_share(sources: list[Source]) -> float:
    """The share of synthetic training patches that carry the mark when ``own-marked`` is a
    family of its own (batches draw families evenly): what the real photos must match."""
    fams = {s.family for s in sources if s.label == 1}
    return (1 + (len(fams) - 1) * HISTORY["mark"]) / len(fams)


def _is_jpeg(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


def patch_bank(sources: list[Source], *, rounds: int = 4, per_round: int = 6, seed: int = 0,
               history=HISTORY, equalise_jpeg: bool = True, log=print) -> dict:
    """``PATCH``-pixel patches: ``rounds`` random views per source image, each with its own
    history, ``per_round`` patches from each. Returns arrays: patches, label, family, index.

    ``equalise_jpeg``: most real photos arrive as JPEGs and most fakes as PNGs, so a JPEG trace
    would say "real". A source that is not a JPEG first gets one (quality 80-98) with the
    probability that a source of the other class is a JPEG, so both classes have a JPEG in
    their history about equally often before the shared history (``_history``) is drawn.
    """
    from .folders import open_image

    rng = np.random.default_rng(seed)
    jpeg = np.array([_is_jpeg(s.path) for s in sources])
    label = np.array([s.label for s in sources])
    share = {c: float(jpeg[label == c].mean()) if (label == c).any() else 0.0 for c in (0, 1)}
    patches, owner, flags = [], [], []
    start = time.perf_counter()
    for k, src in enumerate(sources):
        img = open_image(src.path)
        for _ in range(rounds):
            w, h = img.size
            s = min(BANK_VIEW, w, h)
            x, y = int(rng.integers(w - s + 1)), int(rng.integers(h - s + 1))
            view = img.crop((x, y, x + s, y + s))
            before = bool(jpeg[k])
            if equalise_jpeg and not before and rng.random() < share[1 - src.label]:
                view, before = jpeg_roundtrip(view, int(rng.integers(80, 99))), True
            p = dict(history)
            if src.family == MARKED:  # marked already: marked twice, it would differ
                p["mark"] = 0.0
            elif src.label == 0 and "mark_real" in history:
                p["mark"] = history["mark_real"]
            a, steps = _history(view, rng, p)
            steps[1] = steps[1] or src.family == MARKED
            for _ in range(per_round):
                py = int(rng.integers(a.shape[0] - PATCH + 1))
                px = int(rng.integers(a.shape[1] - PATCH + 1))
                patches.append(a[py:py + PATCH, px:px + PATCH])
                owner.append(k)
                flags.append([before, *steps])
        if (k + 1) % 50 == 0:
            log(f"patch bank: {k + 1}/{len(sources)} images, {time.perf_counter() - start:.0f} s")
    owner = np.array(owner)
    return {"patches": np.stack(patches), "owner": owner, "flags": np.array(flags, bool),
            "group": np.array([sources[i].group for i in owner]),
            "label": np.array([sources[i].label for i in owner]),
            "family": np.array([sources[i].family for i in owner])}


def fit_trace(bank: dict, keep: np.ndarray, *, steps: int = 800, batch_size: int = 64,
              width: int = 24, lr: float = 2e-3, seed: int = 0, crop_grid: int = CROP_GRID,
              model_id: str, summary: dict, log=print):
    """A fitted (uncalibrated) ``SyntheticImageDetector`` with a ``TraceNet`` inside, trained on
    the bank's patches where ``keep`` is True."""
    import torch

    from .model import TRACENET, SyntheticImageDetector
    from .tracenet import TraceNet

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    label, family = bank["label"], bank["family"]
    real = np.flatnonzero(keep & (label == 0))
    fams = sorted(set(family[keep & (label == 1)]))
    by_family = [np.flatnonzero(keep & (family == f)) for f in fams]
    det = SyntheticImageDetector(arch=TRACENET, input_size=64, crop_grid=crop_grid,
                                 pretrained=None,
                                 steps=steps, batch_size=batch_size, lr=lr, augment=False,
                                 random_state=seed, model_id=model_id)
    net = TraceNet(width)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    half, s = batch_size // 2, det.input_size
    net.train()
    start = time.perf_counter()
    for step in range(steps):
        fake = [rng.choice(by_family[i]) for i in rng.integers(len(by_family), size=half)]
        idx = np.concatenate([rng.choice(real, half), fake])
        oy, ox = rng.integers(PATCH - s + 1, size=2)
        x = bank["patches"][idx, oy:oy + s, ox:ox + s]
        if rng.random() < 0.5:
            x = x[:, :, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255
        loss = torch.nn.functional.cross_entropy(net(x), torch.from_numpy(label[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step + 1}/{steps} loss {loss.item():.4f} "
                f"({time.perf_counter() - start:.0f} s)")
    det.model_ = net.eval()
    det.classes_ = np.array([0, 1])
    from .inference import CLASS_NAMES

    det.class_names_ = CLASS_NAMES
    det.preprocessing_ = {"input_size": s, "crop_grid": det.crop_grid, "width": width,
                          "crop": "native-resolution grid, reflect-padded, no resizing",
                          "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    det.calibration_ = {"method": "none", "scale": 1.0, "bias": 0.0}
    det.threshold_ = 0.5
    det.training_summary_ = {**summary, "families": fams,
                             "train_patches": {"real": len(real),
                                               "synthetic": sum(map(len, by_family))},
                             "train_images": {"real": len(set(bank["owner"][real])),
                                              "synthetic": len(set(bank["owner"][
                                                  np.concatenate(by_family)]))},
                             "steps": steps, "batch_size": batch_size, "arch": TRACENET,
                             "history": HISTORY}
    return det


def view_items(sources: list[Source]) -> list[tuple[Source, object]]:
    """(source, view) for every view of every source image (``realdata.views``)."""
    from .folders import open_image

    return [(src, v) for src in sources for v in views(open_image(src.path))]


def build_bank(data: Path, sources: list[Source], *, equalise_jpeg: bool = True,
               marked_family: bool = MARKED_FAMILY, log=print) -> dict:
    """The patch bank of the train-split sources, cached in ``data`` (rebuilt when the sources
    change).

    ``marked_family``: train on ``own-marked`` as a family of its own (what ``generate``
    writes), with the real photos marked as often as the fakes then are
    (``_mark_share``); otherwise ``own-marked`` is left out, being ``own-unmarked`` plus the
    mark, which the history adds to both classes alike.
    """
    train = [s for s in sources if s.split == "train" and (marked_family or s.family != MARKED)]
    import hashlib

    key = hashlib.sha256("\n".join([str(s.path) for s in train] + [
        json.dumps([HISTORY, BANK_VIEW, PATCH, FLAGS, equalise_jpeg, marked_family])]).encode()
    ).hexdigest()[:12]
    cache = data / f"bank-{key}.npz"
    if cache.is_file():
        got = dict(np.load(cache))
        log(f"patch bank from {cache}: {len(got['patches'])} patches")
        return got
    history = dict(HISTORY)
    if marked_family:
        history["mark_real"] = _mark_share(train)
    bank = patch_bank(train, equalise_jpeg=equalise_jpeg, history=history, log=log)
    np.savez(cache, **bank)
    return bank


def main(argv: list[str] | None = None) -> None:
    from . import evaluate
    from .model import CHECKPOINT, SyntheticImageDetector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evaluate", type=Path, default=None, metavar="CHECKPOINT",
                    help="evaluate this trained checkpoint instead of training")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint to write")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--model-id", default="trustgen-detector-trace-" + time.strftime("%Y-%m"))
    ap.add_argument("--no-equalise-jpeg", dest="equalise_jpeg", action="store_false",
                    help="ablation: no JPEG first for sources that are not JPEGs")
    ap.add_argument("--no-marked-family", dest="marked_family", action="store_false",
                    help="ablation: own-marked left out of training (the mark only as history)")
    ap.add_argument("--reports", type=Path, default=None,
                    help="folder for evaluation.json (default detectors/reports)")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    log = lambda m: print(m, flush=True)  # noqa: E731
    sources = all_sources(args.data)
    bank = build_bank(args.data, sources, equalise_jpeg=args.equalise_jpeg,
                      marked_family=args.marked_family, log=log)
    summary = {"data": "python -m detectors.realdata (shared realgen set, library and Debian "
                       "photos, trustgen's default model)",
               "equalise_jpeg": args.equalise_jpeg, "marked_family": args.marked_family,
               "sources": {s: sum(1 for x in sources if x.split == s)
                           for s in ("train", "calib", "test")}}
    if args.evaluate:
        det = SyntheticImageDetector.load(args.evaluate)
    else:
        det = fit_trace(bank, np.ones(len(bank["label"]), bool), steps=args.steps,
                        width=args.width, seed=args.seed,
                        model_id=args.model_id, log=log,
                        summary={**summary, "lofo": "benchmarks/results/detector_lofo.json"})
        calib = view_items([s for s in sources if s.split == "calib"])
        det.calibrate([v for _, v in calib], [s.label for s, _ in calib])
        log(f"calibrated on {len(calib)} views: threshold {det.threshold_:.4f}")
        det.save(args.out or CHECKPOINT, overwrite=args.overwrite)
    from .lofo import evaluate_views, history_control

    test = view_items([s for s in sources if s.split == "test"])
    report = evaluate_views(det, test, reps=args.reps, log=log)
    report["history_control"] = history_control(bank)
    out = (args.reports or evaluate.DEFAULT_OUT) / "evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    log(json.dumps({k: round(v["auc"], 4) for k, v in report["per_family"].items()}))


if __name__ == "__main__":
    sys.exit(main())
