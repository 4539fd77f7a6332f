"""Where trustgen's watermark stops: the copy attack, and attacks just beyond the grid.

    nice -n 10 .venv/bin/python benchmarks/watermark_limits.py   # about two minutes

Copy attack (no key): the tile of one marked 512x512 photo is estimated by folding a blur
residual over the 64 px period, then added to other photos at 40 dB (forgery) or subtracted from
the marked photo (removal); ``detect`` is asked under the true key. Margins: the 17 benchmark
photos at 512, one fresh key and content id each, attacks a step past benchmarks/watermark.py's
grid. Prints a table; writes benchmarks/results/watermark_limits.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from trustgen import watermark as wm
from _results import add_output_options, destination  # noqa: E402

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("wm_bench", HERE / "watermark.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MARGINS = {
    "scale0.5+jpeg75": lambda im: bench.jpeg(bench.scale(im, 0.5), 75),
    "crop0.6": lambda im: bench.crop(im, 0.6),
    "blur2": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "chain with jpeg50": lambda im: bench.jpeg(bench.scale(bench.crop(im, 0.9), 0.75), 50),
    "noise8": lambda im: bench.noise(im, 8),
}


def _luma(img: Image.Image) -> np.ndarray:
    return np.asarray(img, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def copy_attack(pics: dict, key: bytes, cid: str) -> dict:
    import cv2

    source = bench.square(pics["astronaut"], 512)
    marked = wm.embed(source, cid, key=key)
    y = _luma(marked)
    residual = y - cv2.GaussianBlur(y, (0, 0), 2.0)
    period = 64  # 512 px / 256 working cells * 32-cell tile
    tile = residual.reshape(512 // period, period, 512 // period, period).mean(axis=(0, 2))
    pattern = np.tile(tile, (512 // period, 512 // period))[:, :, None]
    gain = np.sqrt((255**2 / 10**4.0) / np.mean(pattern**2))  # PSNR 40 dB
    forged = []
    for name in ("coffee", "chelsea", "rocket"):
        target = np.asarray(bench.square(pics[name], 512), np.float32)
        fake = Image.fromarray(np.clip(np.rint(target + gain * pattern), 0, 255).astype(np.uint8))
        ev = wm.detect(fake, keys=[key])
        forged.append({"photo": name, "detected": ev.detected, "content_id": ev.content_id,
                       "p_value": ev.p_value})
    removed = Image.fromarray(np.clip(np.rint(np.asarray(marked, np.float32) - gain * pattern),
                                      0, 255).astype(np.uint8))
    ev = wm.detect(removed, keys=[key])
    return {"forged": forged, "forged_with_true_id": sum(f["content_id"] == cid for f in forged),
            "removal_detected": ev.detected, "removal_p_value": ev.p_value,
            "removal_psnr_db": round(bench.psnr(removed, source), 1)}


def margins(pics: dict, seed: int = 5) -> dict:
    rng = np.random.default_rng(seed)
    out = {name: {"recovered": 0, "n": 0, "lost": []} for name in MARGINS}
    for photo, arr in pics.items():
        cid, key = wm.new_content_id(), rng.bytes(32)
        marked = wm.embed(bench.square(arr, 512), cid, key=key)
        for name, attack in MARGINS.items():
            ev = wm.detect(attack(marked), keys=[key])
            ok = ev.detected and ev.content_id == cid
            out[name]["recovered"] += ok
            out[name]["n"] += 1
            if not ok:
                out[name]["lost"].append(photo)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_output_options(ap, "watermark_limits.json")
    args = ap.parse_args(argv)
    pics = bench.photos()
    copy = copy_attack(pics, b"benchmark identity key, 32 bytes", "c0ffee123456")
    margin = margins(pics)
    print(f"copy attack: forged onto {copy['forged_with_true_id']}/3 photos with the true content id; "
          f"removal leaves detected={copy['removal_detected']} (p {copy['removal_p_value']:.2g}, "
          f"PSNR {copy['removal_psnr_db']} dB vs the original)")
    print(f"{'attack (512 px)':20s} recovered")
    for name, r in margin.items():
        print(f"{name:20s} {r['recovered']}/{r['n']}  {' '.join(r['lost'])}")
    path = destination(args, "watermark_limits.json")
    path.write_text(json.dumps({"command": "python benchmarks/watermark_limits.py",
                                "copy_attack": copy, "margins_512": margin}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
