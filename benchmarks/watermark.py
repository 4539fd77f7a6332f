"""Watermark benchmark (issues 4, 17): robustness, quality, speed and false alarms of every scheme.

    nice -n 10 .venv/bin/python benchmarks/watermark.py --save     # full run (hours, one core)
    .venv/bin/python benchmarks/watermark.py --quick               # smoke run, ~15 min (rivaGan)
    .venv/bin/python benchmarks/watermark.py --quick --schemes trustgen,dwtDct   # a few minutes
    # re-run trustgen only (sizes 256, 512, 1024; 18 ids/keys per photo) and the false-alarm
    # run, carrying the other schemes' rows over from the existing JSON (meta.reruns says which):
    nice -n 10 .venv/bin/python benchmarks/watermark.py --merge --schemes trustgen --save

Photos: the sample photographs shipped inside scikit-image, scikit-learn and matplotlib (never
downloaded), centre-cropped to squares of 256 (what ``trustgen generate``'s default model
samples), 512 and 1024 (``--sides``, ``--photos`` to run part of it). Each scheme marks each
photo (trustgen through the public ``embed``, read-back included, with 18 content ids and keys
per photo, so 306 trials per cell; dwtDct and dwtDctSvd with ``--trials`` fresh ids and keys;
rivaGan with its keyed presence word; sdxl by diffusers' own ``StableDiffusionXLWatermarker``),
then every attack of the grid is applied and the mark read back: the web's handling (``BASIC``:
JPEG, WebP, downscale, crop, blur, noise, brightness, contrast, a crop/downscale/JPEG chain) and
issue 17's geometric changes (``GEOMETRIC``: rotations by 1-45 degrees cropped to the largest
rectangle inside or inside a black border, mirror, aspect 0.8 and 1.2, perspective moving each
corner by 2% or 5% of the side, and a screenshot: rescaled 0.8 inside a 40 px border). trustgen
is scored through the public ``detect(image, keys=[key])`` with its default schemes, exactly
what a caller gets (same Bonferroni count); the comparison schemes through their own reader
under the right key plus the public key, as ``detect(schemes=[s])``.

Reported per scheme and attack: exact payload recovery (detected at the default false-alarm
threshold *and* the right content id; rivaGan and sdxl carry no id, so detected), bit accuracy
of the payload bits (content id for the id-carrying schemes), mean PSNR, and the median embed and
detect time on one thread, and for trustgen the full default ``detect`` on the *unmarked* photo
(the worst case: every registration is tried), and ``detect_public``. Times are thread CPU time
(``time.thread_time``), because the machine is shared and wall time there measures the
neighbours; wall medians are recorded too.
False alarms: ``detect`` with default schemes, and the key-less ``detect_public``, on >= 10,000
unmarked images (random crops, rescalings and JPEG versions of the photos, a third of them also
rotated, mirrored, squashed, warped or framed as a screenshot, plus procedural images: smooth
noise, gradients, stripes and checkerboards of random period, and ``--generated`` outputs of the
default model, ``TrustedPipeline.from_pretrained().sample(seeds=[i], num_inference_steps=20)``,
cached in ``--generated-cache``), with the empirical P(p < a) for the p-values.

Writes watermark.json, watermark.md (the tables) and watermark.png (recovery against JPEG
quality, downscale factor and rotation angle, cropped and bordered, per scheme at 512 px) to a
scratch folder, or to benchmarks/results with ``--save``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance, ImageFilter, ImageOps  # noqa: E402

from trustgen.errors import WatermarkError  # noqa: E402

from trustgen import watermark as wm  # noqa: E402
from trustgen.watermark import payload  # noqa: E402
from _results import add_output_options, destination  # noqa: E402

SKIMAGE = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel",
           "motorcycle_left", "hubble_deep_field", "retina", "immunohistochemistry", "moon",
           "coins")
SCHEMES = ("trustgen", "dwtDct", "dwtDctSvd", "rivaGan", "sdxl")
#: rivaGan takes seconds per image on one thread: it runs on the first few photos only.
PHOTO_LIMIT = {("rivaGan", 256): 6, ("rivaGan", 512): 6, ("rivaGan", 1024): 3}


# --- photos and attacks -------------------------------------------------------------------------

def photos() -> dict[str, np.ndarray]:
    """Name -> uint8 RGB array, from the data folders of installed packages (no downloads)."""
    import matplotlib
    import sklearn
    from skimage import data

    out = {}
    for name in SKIMAGE:
        arr = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
        out[name] = np.stack([arr] * 3, -1) if arr.ndim == 2 else arr[:, :, :3]
    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    for name in ("china", "flower"):
        out[name] = np.asarray(Image.open(folder / f"{name}.jpg").convert("RGB"))
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    out["grace_hopper"] = np.asarray(Image.open(hopper).convert("RGB"))
    return out


def square(arr: np.ndarray, side: int) -> Image.Image:
    """Centre-crop to a square and resize to ``side`` (Lanczos)."""
    h, w = arr.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return Image.fromarray(arr[y:y + s, x:x + s]).resize((side, side), Image.LANCZOS)


def _codec(img: Image.Image, fmt: str, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, fmt, quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def jpeg(img, quality):
    return _codec(img, "JPEG", quality)


def scale(img, factor):
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(size, Image.BICUBIC)


def crop(img, keep):
    w, h = round(img.width * keep), round(img.height * keep)
    x, y = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((x, y, x + w, y + h))


def noise(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def inscribed(w: int, h: int, angle: float) -> tuple[int, int]:
    """The largest axis-aligned rectangle inside a ``w`` x ``h`` one turned by ``angle`` degrees."""
    a = math.radians(abs(angle) % 180)
    a = min(a, math.pi - a)
    sin_a, cos_a = math.sin(a), math.cos(a)
    long_side, short_side = max(w, h), min(w, h)
    if short_side <= 2 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        x = 0.5 * short_side
        wr, hr = (x / sin_a, x / cos_a) if w >= h else (x / cos_a, x / sin_a)
    else:
        cos_2a = cos_a * cos_a - sin_a * sin_a
        wr, hr = (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a
    return int(wr), int(hr)


def rotate_crop(img, angle):
    """Turned (bicubic), then cut to the largest rectangle inside: a straightened photo."""
    turned = img.rotate(angle, Image.BICUBIC, expand=True)
    w, h = inscribed(img.width, img.height, angle)
    x, y = (turned.width - w) // 2, (turned.height - h) // 2
    return turned.crop((x + 1, y + 1, x + w - 1, y + h - 1))


def rotate_border(img, angle):
    """Turned (bicubic) inside a black border: a tilted scan or a rotated repost."""
    return img.rotate(angle, Image.BICUBIC, expand=True, fillcolor=(0, 0, 0))


def aspect(img, factor):
    return img.resize((img.width, max(1, round(img.height * factor))), Image.BICUBIC)


def perspective(img, shift):
    """Each corner moved by ``shift`` of the shorter side in a random direction (seeded by the
    pixels, so every image gets its own warp and a rerun the same one), black outside."""
    import cv2
    import zlib

    arr = np.asarray(img.convert("RGB"))
    rng = np.random.default_rng(zlib.crc32(arr[::16, ::16].tobytes()))
    w, h = img.size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    turn = rng.uniform(0, 2 * np.pi, 4)
    dst = src + np.float32(np.stack([np.cos(turn), np.sin(turn)], 1) * shift * min(w, h))
    out = cv2.warpPerspective(arr, cv2.getPerspectiveTransform(src, dst), (w, h),
                              flags=cv2.INTER_CUBIC)
    return Image.fromarray(out)


def screenshot(img, factor=0.8, border=40):
    """Shown at ``factor`` on a white page: rescaled, inside a ``border`` px margin."""
    small = scale(img, factor)
    page = Image.new("RGB", (small.width + 2 * border, small.height + 2 * border), "white")
    page.paste(small.convert("RGB"), (border, border))
    return page


ANGLES = (1, 3, 5, 10, 15, 30, 45)
#: Issue 17's geometric attacks, beside the web's handling (``BASIC``).
GEOMETRIC = {
    **{f"rot{a}crop": partial(rotate_crop, angle=a) for a in ANGLES},
    **{f"rot{a}border": partial(rotate_border, angle=a) for a in ANGLES},
    "mirror": ImageOps.mirror,
    "aspect0.8": lambda im: aspect(im, 0.8),
    "aspect1.2": lambda im: aspect(im, 1.2),
    "persp2": lambda im: perspective(im, 0.02),
    "persp5": lambda im: perspective(im, 0.05),
    "screenshot": screenshot,
}
BASIC = {
    "none": lambda im: im,
    "jpeg50": lambda im: jpeg(im, 50),
    "webp75": lambda im: _codec(im, "WEBP", 75),
    "scale0.5": lambda im: scale(im, 0.5),
    "crop0.8": lambda im: crop(im, 0.8),
    "blur1": lambda im: im.filter(ImageFilter.GaussianBlur(1)),
    "noise4": lambda im: noise(im, 4),
    "bright1.3": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "contrast0.7": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
    "chain": lambda im: jpeg(scale(crop(im, 0.9), 0.75), 75),
}
ATTACKS = {**BASIC, **GEOMETRIC}
CURVES = {
    "jpeg_quality": ([90, 70, 50, 40, 30, 20], jpeg),
    "scale": ([1.0, 0.75, 0.5, 0.35, 0.25], scale),
    "rotation_crop": ([0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45], rotate_crop),
    "rotation_border": ([0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45], rotate_border),
}


# --- one scheme, one image ----------------------------------------------------------------------

def _single_thread_rivagan():
    """Give imwatermark's rivaGan one-thread ONNX sessions (its loader uses every core)."""
    import onnxruntime
    from imwatermark.rivaGan import RivaWatermark

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    folder = Path(sys.modules["imwatermark"].__file__).parent
    RivaWatermark.encoder = onnxruntime.InferenceSession(
        str(folder / "rivagan_encoder.onnx"), opts, providers=["CPUExecutionProvider"])
    RivaWatermark.decoder = onnxruntime.InferenceSession(
        str(folder / "rivagan_decoder.onnx"), opts, providers=["CPUExecutionProvider"])


def _sdxl_embed(img: Image.Image) -> Image.Image:
    """Exactly what diffusers' SDXL pipelines do to their output."""
    import torch
    from diffusers.pipelines.stable_diffusion_xl.watermark import StableDiffusionXLWatermarker

    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 127.5 - 1
    y = StableDiffusionXLWatermarker().apply_watermark(x)
    out = ((y / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round()
    return Image.fromarray(out.astype(np.uint8))


def _timed(fn):
    w, t = time.perf_counter(), time.thread_time()
    out = fn()
    return out, 1000 * (time.thread_time() - t), 1000 * (time.perf_counter() - w)


def _embed(scheme, img, cid, key):
    """(marked, thread ms, wall ms); trustgen through the public ``embed`` (it reads back)."""
    if scheme == "sdxl":
        return _timed(lambda: _sdxl_embed(img))
    if scheme == "trustgen":
        try:
            return _timed(lambda: wm.embed(img, cid, key=key, scheme=scheme))
        except WatermarkError:  # refused: score the unchecked mark, which will count as lost
            pass
    return _timed(lambda: wm._embed_unchecked(img, cid, key=key, scheme=scheme))


def _read(scheme, img, cid, key):
    """(exact recovery, payload bit accuracy).

    trustgen: the public ``detect(img, keys=[key])`` with its default schemes; the bit accuracy
    of a miss comes from trustgen's own best decoding. Other schemes: their reader under the key
    and the public key, as ``detect(keys=[key], schemes=[scheme])``.
    """
    rgb = np.asarray(img.convert("RGB"))
    if scheme == "trustgen":
        ev = wm.detect(img, keys=[key])
        if ev.detected and ev.scheme == "trustgen" and ev.content_id == cid:
            return True, 1.0
        guess = ev.content_id if ev.detected and ev.scheme == "trustgen" else None
        if guess is None:
            readings = wm.get_scheme(scheme).read(rgb, [key])
            guess = readings[0].content_id if readings else None
        if guess is None:
            return False, 0.5
        return False, 1 - bin(int(guess, 16) ^ int(cid, 16)).count("1") / payload.ID_BITS
    readings = wm.get_scheme(scheme).read(rgb, [key, wm.PUBLIC_KEY])
    if not readings:
        return False, 0.5
    detected = min(r.p_value for r in readings) * len(readings) <= wm.FALSE_ALARM
    own = readings[0]
    if scheme in ("rivaGan", "sdxl"):
        n = 32 if scheme == "rivaGan" else 48
        return detected and own.p_value == min(r.p_value for r in readings), 1 - own.bit_errors / n
    wrong = bin(int(own.content_id, 16) ^ int(cid, 16)).count("1")
    return detected and wrong == 0, 1 - wrong / payload.ID_BITS


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    return float(10 * np.log10(255**2 / max(np.mean((x - y) ** 2), 1e-12)))


# --- the runs -----------------------------------------------------------------------------------

def grid(pics, sides, trials, schemes, log, own_trials=18):
    rng = np.random.default_rng(2024)
    rows = []
    for side in sides:
        for scheme in schemes:
            n_trials = {"rivaGan": 1, "sdxl": 1, "trustgen": own_trials}.get(scheme, trials)
            limit = PHOTO_LIMIT.get((scheme, side), len(pics))
            for name, arr in list(pics.items())[:limit]:
                img = square(arr, side)
                unmarked_ms = None
                if scheme == "trustgen":
                    ukey = rng.bytes(32)
                    wm.detect(img, keys=[ukey])  # warm
                    unmarked_ms = float(np.median(
                        [_timed(lambda: wm.detect(img, keys=[ukey]))[1] for _ in range(3)]))
                for trial in range(n_trials):
                    cid, key = wm.new_content_id(), rng.bytes(32)
                    marked, embed_ms, embed_wall = _embed(scheme, img, cid, key)
                    row = {"side": side, "scheme": scheme, "photo": name, "psnr": psnr(img, marked),
                           "embed_ms": embed_ms, "embed_wall_ms": embed_wall, "attacks": {}}
                    if scheme == "trustgen":  # the mark alone, without embed's read-back
                        row["embed_bare_ms"] = _timed(
                            lambda: wm._embed_unchecked(img, cid, key=key, scheme=scheme))[1]
                    if unmarked_ms is not None:
                        row["detect_unmarked_ms"] = unmarked_ms
                    _, row["detect_ms"], row["detect_wall_ms"] = _timed(
                        lambda: _read(scheme, marked, cid, key))
                    for attack, fn in ATTACKS.items():
                        row["attacks"][attack] = _read(scheme, fn(marked), cid, key)
                    if side == 512 and trial == 0:
                        row["curves"] = {c: [_read(scheme, f(marked, v), cid, key)[0] for v in vals]
                                         for c, (vals, f) in CURVES.items()}
                    rows.append(row)
                    log(f"{side} {scheme:9s} {name:20s} psnr {row['psnr']:.2f} "
                        f"ok {sum(v[0] for v in row['attacks'].values())}/{len(ATTACKS)}")
    return rows


def _procedural(rng, h, w) -> Image.Image:
    """Unmarked images that stress the detector's period search: smooth noise, ramps, periodic."""
    kind = rng.integers(0, 4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        small = rng.normal(128, 40, (max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
        arr = np.asarray(Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize(
            (w, h), Image.BICUBIC), dtype=np.float32) + rng.normal(0, rng.uniform(0, 6), (h, w, 3))
    elif kind == 1:
        arr = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))[:, :, None] * rng.uniform(0, 1, 3)
        arr = arr - arr.min() + rng.uniform(0, 60)
    elif kind == 2:
        period = rng.uniform(8, 90)
        arr = 128 + 90 * np.sin(2 * np.pi * (xx * np.cos(rng.uniform(0, 3.2)) + yy) / period)
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    else:
        period = int(rng.integers(4, 80))
        arr = ((xx // period + yy // period) % 2)[:, :, None] * rng.uniform(40, 215, 3) + 20
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _turned(rng, img: Image.Image) -> Image.Image:
    """One of the geometric changes the reader now searches, at a random strength."""
    kind = rng.integers(0, 5)
    if kind == 0:
        angle = float(rng.uniform(-45, 45))
        return rotate_crop(img, angle) if rng.random() < 0.5 else rotate_border(img, angle)
    if kind == 1:
        return ImageOps.mirror(img)
    if kind == 2:
        return aspect(img, float(rng.uniform(0.75, 1.25)))
    if kind == 3:
        return perspective(img, float(rng.uniform(0.01, 0.06)))
    return screenshot(img, float(rng.uniform(0.6, 0.95)), int(rng.integers(10, 80)))


def unmarked(pics, count, seed=7):
    """Yield ``count`` unmarked images: photo crops, rescalings, JPEG versions; procedural; a
    third of the photo ones rotated, mirrored, squashed, warped or framed as a screenshot."""
    rng = np.random.default_rng(seed)
    names = list(pics)
    for i in range(count):
        if i % 10 == 9:
            h, w = (int(v) for v in rng.integers(256, 900, 2))
            yield _procedural(rng, h, w)
            continue
        arr = pics[names[i % len(names)]]
        img = Image.fromarray(arr)
        f = rng.uniform(0.5, 2.0)
        img = img.resize((max(256, round(img.width * f)), max(256, round(img.height * f))),
                         Image.BICUBIC)
        ch = int(rng.integers(256, img.height + 1))
        cw = int(rng.integers(256, img.width + 1))
        y, x = int(rng.integers(0, img.height - ch + 1)), int(rng.integers(0, img.width - cw + 1))
        img = img.crop((x, y, x + cw, y + ch))
        if rng.random() < 1 / 3:
            img = _turned(rng, img)
            if min(img.size) < 256:
                img = scale(img, 256 / min(img.size))
        if rng.random() < 0.5:
            img = jpeg(img, int(rng.integers(30, 96)))
        yield img


def generated_images(count, cache: Path):
    """``count`` unmarked outputs of the default model (seeds 0..count-1, 20 steps), cached."""
    if not count:
        return []
    cache.mkdir(parents=True, exist_ok=True)
    missing = [s for s in range(count) if not (cache / f"{s}.png").exists()]
    if missing:
        import torch

        from trustgen.generate import TrustedPipeline

        torch.set_num_threads(1)
        pipe = TrustedPipeline.from_pretrained()
        for i in range(0, len(missing), 8):
            seeds = missing[i:i + 8]
            for seed, image in zip(seeds, pipe.sample(seeds=seeds, num_inference_steps=20)):
                image.save(cache / f"{seed}.png")
    return [Image.open(cache / f"{s}.png").convert("RGB") for s in range(count)]


def false_alarms(pics, count, log, generated=()):
    key = np.random.default_rng(99).bytes(32)
    ps, own_ps, public_ps, hits, public_hits, ms = [], [], [], 0, 0, []
    gen_hits, gen_min = 0, 1.0
    for i, img in enumerate(_chain(unmarked(pics, count), generated)):
        ev, t, _ = _timed(lambda: wm.detect(img, keys=[key]))
        ms.append(t)
        ps.append(ev.p_value)
        hits += ev.detected
        if i >= count:
            gen_hits += ev.detected
            gen_min = min(gen_min, ev.p_value)
        own_ps.append(wm.detect(img, keys=[key], schemes=["trustgen"]).p_value)
        public = wm.detect_public(img)
        public_ps.append(public.p_value)
        public_hits += public.present
        if (i + 1) % 500 == 0:
            log(f"false alarms: {hits} in {i + 1} (public layer: {public_hits})")
    alphas = [0.5, 0.1, 0.01, 1e-3, 1e-4]
    return {
        "images": count + len(generated), "photo_and_procedural": count,
        "generated": len(generated), "generated_false_positives": int(gen_hits),
        "generated_min_p": float(gen_min), "false_positives": int(hits), "threshold": wm.FALSE_ALARM,
        "min_p": float(min(ps)), "min_p_trustgen": float(min(own_ps)),
        "p_below": {str(a): float(np.mean(np.array(ps) < a)) for a in alphas},
        "p_below_trustgen": {str(a): float(np.mean(np.array(own_ps) < a)) for a in alphas},
        "public_false_positives": int(public_hits), "min_p_public": float(min(public_ps)),
        "p_below_public": {str(a): float(np.mean(np.array(public_ps) < a)) for a in alphas},
        "detect_ms_median": float(np.median(ms)),
    }


def _chain(*iterables):
    for it in iterables:
        yield from it


# --- summaries ----------------------------------------------------------------------------------

def _mean(values):
    """The mean, or None for an attack no row ran (rows merged from a run before it existed)."""
    return float(np.mean(values)) if values else None


def summarise(rows):
    out = {}
    for side in sorted({r["side"] for r in rows}):
        for scheme in dict.fromkeys(r["scheme"] for r in rows):
            sel = [r for r in rows if r["side"] == side and r["scheme"] == scheme]
            if not sel:
                continue
            out[f"{scheme}@{side}"] = {
                "scheme": scheme, "side": side, "images": len(sel),
                "psnr_mean": float(np.mean([r["psnr"] for r in sel])),
                "embed_ms_median": float(np.median([r["embed_ms"] for r in sel])),
                "detect_ms_median": float(np.median([r["detect_ms"] for r in sel])),
                "embed_wall_ms_median": float(np.median([r["embed_wall_ms"] for r in sel])),
                "embed_bare_ms_median": _mean([float(np.median(
                    [r["embed_bare_ms"] for r in sel if "embed_bare_ms" in r]))])
                if any("embed_bare_ms" in r for r in sel) else None,
                "detect_wall_ms_median": float(np.median([r["detect_wall_ms"] for r in sel])),
                "detect_unmarked_ms_median": float(np.median(
                    [r["detect_unmarked_ms"] for r in sel if "detect_unmarked_ms" in r]))
                if any("detect_unmarked_ms" in r for r in sel) else None,
                "recovery": {a: _mean([r["attacks"][a][0] for r in sel if a in r["attacks"]])
                             for a in ATTACKS},
                "bit_accuracy": {a: _mean([r["attacks"][a][1] for r in sel if a in r["attacks"]])
                                 for a in ATTACKS},
                "curves": {c: [_mean([r["curves"][c][i] for r in sel if c in r.get("curves", {})])
                               for i in range(len(vals))] for c, (vals, _) in CURVES.items()}
                if any("curves" in r for r in sel) else None,
            }
    return out


def markdown(summary, fp, default_detect) -> str:
    lines = ["Exact payload recovery (% of images) per attack; PSNR in dB; median ms on one "
             "thread (CPU time). \"detect ms\" reads a marked image; \"unmarked ms\" is the full "
             "default `detect` on the unmarked photo, the worst case (every registration tried)."]
    for title, attacks in (("The original attack grid (re-encoding, resizing, cropping, filtering)", BASIC),
                           ("Geometric changes (rotations cropped to the largest rectangle inside, "
                            "or inside a black border; perspective moves each corner by 2% or 5% "
                            "of the side; screenshot: rescaled 0.8 in a 40 px border)", GEOMETRIC)):
        head = ("| scheme | size | n | PSNR | embed ms | detect ms | unmarked ms | "
                + " | ".join(attacks) + " |")
        lines += ["", f"{title}:", "", head, "|" + "---|" * (7 + len(attacks))]
        for s in summary.values():
            rec = " | ".join("-" if s["recovery"][a] is None else f"{100 * s['recovery'][a]:.0f}"
                             for a in attacks)
            um = s.get("detect_unmarked_ms_median")
            lines.append(f"| {s['scheme']} | {s['side']} | {s['images']} | {s['psnr_mean']:.1f} | "
                         f"{s['embed_ms_median']:.0f} | {s['detect_ms_median']:.0f} | "
                         f"{'-' if um is None else f'{um:.0f}'} | {rec} |")
    lines += ["", "Bit accuracy (% of payload bits right, before the presence test):", "",
              "| scheme | size | n | " + " | ".join(ATTACKS) + " |",
              "|" + "---|" * (3 + len(ATTACKS))]
    for s in summary.values():
        acc = " | ".join("-" if s["bit_accuracy"][a] is None
                         else f"{100 * s['bit_accuracy'][a]:.1f}" for a in ATTACKS)
        lines.append(f"| {s['scheme']} | {s['side']} | {s['images']} | {acc} |")
    if fp:
        lines += ["", f"False positives of `detect` (default schemes, a key + the public key): "
                      f"**{fp['false_positives']} in {fp['images']:,}** unmarked images, a third "
                      "of the photo ones rotated, mirrored, squashed, warped or framed "
                      f"(threshold p <= {fp['threshold']:g}); smallest p-value {fp['min_p']:.2g}. "
                      "Empirical P(p < a): " + ", ".join(
                          f"a={a}: {v:.4f}" for a, v in fp["p_below"].items()) + "."]
        if fp.get("generated"):
            lines[-1] += (f" Of these, {fp['generated']} are outputs of the default model: "
                          f"{fp['generated_false_positives']} false positives, smallest p-value "
                          f"{fp['generated_min_p']:.2g}.")
        if "public_false_positives" in fp:
            lines += ["", f"False positives of the key-less `detect_public`: "
                          f"**{fp['public_false_positives']} in {fp['images']:,}**; smallest "
                          f"p-value {fp['min_p_public']:.2g}. Empirical P(p < a): " + ", ".join(
                              f"a={a}: {v:.4f}" for a, v in fp["p_below_public"].items()) + "."]
    for side in sorted({s["side"] for s in summary.values()}):
        own, dwt = summary.get(f"trustgen@{side}"), summary.get(f"dwtDct@{side}")
        if own and dwt:
            bare = own.get("embed_bare_ms_median")
            lines += ["", f"Embed at {side} px (median thread ms, this run): trustgen "
                          f"{own['embed_ms_median']:.0f} with its read-back, "
                          + ("" if bare is None else f"{bare:.0f} without, ")
                          + f"dwtDct {dwt['embed_ms_median']:.0f}: "
                          f"{own['embed_ms_median'] / dwt['embed_ms_median']:.2f}x"
                          + ("" if bare is None else
                             f" and {bare / dwt['embed_ms_median']:.2f}x") + "."]
    if default_detect:
        lines += ["", "Full default `detect` (all default schemes, a key + the public key), "
                      "median over the photos: " + ", ".join(f"{k}: {v:.0f} ms" for k, v in
                                                            default_detect.items()) + "."]
    return "\n".join(lines) + "\n"


LABELS = {"jpeg_quality": "JPEG quality", "scale": "downscale factor",
          "rotation_crop": "rotation (degrees), cropped to the rectangle inside",
          "rotation_border": "rotation (degrees), inside a black border"}


def plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (curve, (vals, _)) in zip(axes.ravel(), CURVES.items()):
        for s in summary.values():
            if s["side"] == 512 and s["curves"]:
                ax.plot(vals, [np.nan if v is None else 100 * v for v in s["curves"][curve]],
                        marker="o", label=s["scheme"])
        ax.set_xlabel(LABELS[curve])
        if curve in ("jpeg_quality", "scale"):
            ax.invert_xaxis()
        ax.set_ylabel("exact payload recovery (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    fig.suptitle("Watermark recovery against attack strength (512x512 photos)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def default_detect_ms(pics, sides):
    """Median thread ms of the full default ``detect`` over the photos, marked and unmarked."""
    key = bytes(range(32))
    out = {}
    for side in sides:
        marked_ms, unmarked_ms, public_ms = [], [], []
        for arr in pics.values():
            img = square(arr, side)
            marked = wm.embed(img, wm.new_content_id(), key=key)
            marked_ms.append(min(_timed(lambda: wm.detect(marked, keys=[key]))[1]
                                 for _ in range(3)))
            unmarked_ms.append(min(_timed(lambda: wm.detect(img, keys=[key]))[1]
                                   for _ in range(3)))
            public_ms.append(min(_timed(lambda: wm.detect_public(img))[1] for _ in range(3)))
        out[f"{side}x{side} marked"] = float(np.median(marked_ms))
        out[f"{side}x{side} unmarked"] = float(np.median(unmarked_ms))
        out[f"{side}x{side} unmarked max"] = float(np.max(unmarked_ms))
        out[f"{side}x{side} detect_public unmarked"] = float(np.median(public_ms))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 photos, 256 and 512, 1 trial, 300 unmarked")
    ap.add_argument("--schemes", default=",".join(SCHEMES))
    ap.add_argument("--trials", type=int, default=3,
                    help="ids/keys per photo (dwtDct, dwtDctSvd)")
    ap.add_argument("--own-trials", type=int, default=18,
                    help="ids/keys per photo for trustgen (17 photos x 18 = 306 per cell)")
    ap.add_argument("--generated", type=int, default=400,
                    help="outputs of the default model added to the unmarked set")
    ap.add_argument("--generated-cache", type=Path,
                    default=Path(os.environ.get("TMPDIR", "/tmp")) / "trustgen-bench-generated")
    ap.add_argument("--unmarked", type=int, default=10_000)
    ap.add_argument("--sides", default="256,512,1024", help="image sides to run")
    ap.add_argument("--photos", type=int, default=None, help="only the first N photos")
    add_output_options(ap, "")
    ap.add_argument("--merge", action="store_true",
                    help="re-run only --schemes (and false alarms if --unmarked > 0) and merge "
                         "into the existing results, recording the re-run in meta")
    args = ap.parse_args(argv)
    args.out = destination(args, "")
    import cv2

    cv2.setNumThreads(1)
    if "rivaGan" in args.schemes:
        _single_thread_rivagan()
    pics = photos()
    pics = dict(list(pics.items())[:args.photos])
    sides = tuple(int(v) for v in args.sides.split(","))
    count, trials = args.unmarked, args.trials
    own_trials, n_generated = args.own_trials, args.generated
    if args.quick:
        pics = {k: pics[k] for k in ("astronaut", "grass", "china")}
        sides, count, trials, own_trials = (256, 512), min(count, 300), 1, 1
        n_generated = min(n_generated, 16)
    started = time.time()

    def log(msg):
        print(f"[{time.time() - started:7.0f}s] {msg}", flush=True)

    rows = grid(pics, sides, trials, args.schemes.split(","), log, own_trials)
    summary = summarise(rows)
    dd = default_detect_ms(pics, sides)
    generated = generated_images(n_generated, args.generated_cache) if count else []
    fp = false_alarms(pics, count, log, generated) if count else None
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "watermark-quick" if args.quick else "watermark"
    if args.merge:
        old = json.loads((args.out / f"{stem}.json").read_text())
        ran = set(args.schemes.split(","))
        rows = [r for r in old["rows"] if r["scheme"] not in ran] + rows
        summary = summarise(sorted(rows, key=lambda r: (r["side"], SCHEMES.index(r["scheme"]))))
        fp = fp or old["false_alarms"]
        old["meta"].setdefault("reruns", []).append(
            {"schemes": sorted(ran), "false_alarms": bool(count), "at": time.ctime(),
             "seconds": round(time.time() - started), "sides": list(sides),
             "trials": {s: own_trials if s == "trustgen" else trials for s in sorted(ran)},
             "rows_from_this_run": sorted(ran),
             "rows_carried_over": sorted({r["scheme"] for r in old["rows"]} - ran),
             "carried_over_from": "the original full run (meta.seconds, meta.trials) and "
                                  "earlier reruns; their code is unchanged"})
    meta = old["meta"] if args.merge else {
        "python": platform.python_version(), "machine": platform.machine(),
        "photos": list(pics), "sides": list(sides), "trials": trials, "own_trials": own_trials,
        "attacks": list(ATTACKS), "seconds": round(time.time() - started),
        "timing": "median thread CPU ms, one thread (OMP/OpenCV/ONNX limited to 1)"}
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "false_alarms": fp, "default_detect_ms": dd,
         "rows": rows}, indent=1))
    md = markdown(summary, fp, dd)
    (args.out / f"{stem}.md").write_text(md)
    plot(summary, args.out / f"{stem}.png")
    print(md)


if __name__ == "__main__":
    main()
