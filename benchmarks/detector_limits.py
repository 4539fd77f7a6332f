"""Where the shipped detector fails: frames, smooth real images, full generations.

    nice -n 10 .venv/bin/python benchmarks/detector_limits.py [--generations 16]   # a few minutes

- Full generations: ``--generations`` unmarked outputs of the embedded default model (50 DDIM
  steps, seeds 5000...), the pixels ``trustgen generate`` watermarks and signs; flagged rate at the
  shipped threshold.
- Frames: the same images pasted into the centre of a real 640x427 photo (scikit-learn's
  china.jpg; the generation covers a quarter of it, one of the nine crops read), with a 64 px
  white or black border (blank crops get no vote: only the centre crop is read), and with 32 px
  cropped off every side (no image-border effects of the generator left).
- Smooth real images: 256 px tiles of four real photos in the detector's test split (scikit-image
  coffee, gravel, immunohistochemistry; china.jpg) before and after blur, down-and-up resizing and
  median filtering; flagged rate at the shipped threshold; and scikit-image's microscope image
  ``cell`` (in no split).
Prints a table; writes benchmarks/results/detector_limits.json.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from _results import add_output_options, destination  # noqa: E402


SMOOTHING = {
    "gaussian blur r=0.6": lambda im: im.filter(ImageFilter.GaussianBlur(0.6)),
    "gaussian blur r=1.0": lambda im: im.filter(ImageFilter.GaussianBlur(1.0)),
    "bilinear down 0.5, up": lambda im: im.resize((128, 128), Image.BILINEAR).resize((256, 256), Image.BILINEAR),
    "lanczos down 0.5, bicubic up": lambda im: im.resize((128, 128), Image.LANCZOS).resize((256, 256), Image.BICUBIC),
    "median 3": lambda im: im.filter(ImageFilter.MedianFilter(3)),
}


def real_tiles() -> list[Image.Image]:
    from skimage import data
    from sklearn.datasets import load_sample_image

    photos = [data.coffee(), load_sample_image("china.jpg"), np.stack([data.gravel()] * 3, -1),
              data.immunohistochemistry()]
    tiles = []
    for a in photos:
        h, w = a.shape[:2]
        tiles += [Image.fromarray(np.ascontiguousarray(a[y:y + 256, x:x + 256]))
                  for y in range(0, h - 255, 128) for x in range(0, w - 255, 128)]
    return tiles


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generations", type=int, default=16)
    add_output_options(ap, "detector_limits.json")
    args = ap.parse_args(argv)

    import torch
    from skimage import data
    from sklearn.datasets import load_sample_image

    from detectors import SyntheticImageDetector
    from trustgen.generate import TrustedPipeline

    torch.set_num_threads(2)
    det = SyntheticImageDetector.load()
    thr = float(det.threshold_)

    def flagged(images) -> dict:
        p = det.predict_proba(images)[:, 1]
        return {"n": len(p), "flagged": int((p > thr).sum()), "median_p": float(np.median(p))}

    generated = TrustedPipeline.from_pretrained().sample(
        seeds=list(range(5000, 5000 + args.generations)), num_inference_steps=50)
    china = Image.fromarray(load_sample_image("china.jpg"))

    def paste(g):
        c = china.copy()
        c.paste(g, ((c.width - g.width) // 2, (c.height - g.height) // 2))
        return c

    tiles = real_tiles()
    rows = {
        "default-model generations": flagged(generated),
        "generations pasted into a real photo": flagged([paste(g) for g in generated]),
        "generations with a 64 px white border": flagged([ImageOps.expand(g, 64, fill="white") for g in generated]),
        "generations with a 64 px black border": flagged([ImageOps.expand(g, 64, fill="black") for g in generated]),
        "generations, 32 px cropped off every side": flagged([g.crop((32, 32, g.width - 32, g.height - 32)) for g in generated]),
        "real tiles": flagged(tiles),
        **{f"real tiles, {k}": flagged([op(t) for t in tiles]) for k, op in SMOOTHING.items()},
        "scikit-image cell (real microscope image)": flagged([Image.fromarray(data.cell()).convert("RGB")]),
    }
    print(f"detector {det.model_id}, threshold {thr:.4f}")
    print(f"{'images':48s} {'flagged':>9s}  median p")
    for name, r in rows.items():
        print(f"{name:48s} {r['flagged']:>3d}/{r['n']:<5d}  {r['median_p']:.3g}")
    path = destination(args, "detector_limits.json")
    path.write_text(json.dumps({"command": "python benchmarks/detector_limits.py",
                                "detector": str(det.model_id), "threshold": thr, "rows": rows},
                               indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
