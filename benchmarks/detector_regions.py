"""Generated regions pasted into a real photo: does the most synthetic crop find them?

    python benchmarks/detector_regions.py [--data .detector-data] [--save]

The 256 px centre of each of trustgen's own marked generations in the test split (what
``trustgen generate`` writes) is pasted into the middle of scikit-learn's real ``china.jpg``
(640 x 427). Counted, with the shipped detector (ONNX): images flagged as a whole; images whose
most synthetic crop (``score_regions``, what ``verify`` reports) is above the threshold, and
whose box lies inside the pasted square; the same for the unpasted photo; and, as the price of
reading the maximum of 25 crops, the share of the test split's real views (``realdata.views``)
whose most synthetic crop is above the threshold. A threshold of its own for the most synthetic
crop (the 99th percentile of its probability on the calibration split's real views) is then
applied to the pasted images. Writes ``detector_regions.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _results import add_output_options, destination  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    add_output_options(ap, "detector_regions.json")
    args = ap.parse_args(argv)
    from PIL import Image
    from sklearn.datasets import load_sample_image

    from detectors.inference import OnnxDetector
    from detectors.realdata import OWN_FAMILIES, all_sources, own_sources
    from detectors.traintrace import view_items

    det = OnnxDetector.load()
    photo = Image.fromarray(load_sample_image("china.jpg"))
    x, y = (photo.width - 256) // 2, (photo.height - 256) // 2
    pasted = []
    for src in own_sources(args.data):
        if src.family == OWN_FAMILIES[1] and src.split == "test":
            gen = Image.open(src.path).convert("RGB")
            cx, cy = (gen.width - 256) // 2, (gen.height - 256) // 2
            img = photo.copy()
            img.paste(gen.crop((cx, cy, cx + 256, cy + 256)), (x, y))
            pasted.append(img)
    t = det.threshold_
    rows = det.score_regions(pasted)
    inside = [x <= bx and y <= by and bx + bw <= x + 256 and by + bh <= y + 256
              for _, _, (bx, by, bw, bh) in rows]
    (whole0, region0, box0), = det.score_regions([photo])
    real = [v for s, v in view_items(all_sources(args.data)) if s.label == 0 and s.split == "test"]
    real_rows = det.score_regions(real)
    calib = [v for s, v in view_items(all_sources(args.data)) if s.label == 0
             and s.split == "calib"]
    region_threshold = float(np.quantile([r for _, r, _ in det.score_regions(calib)], 0.99,
                                         method="higher"))
    result = {"benchmark": "detector_regions", "model_id": det.model_id, "threshold": t,
              "pasted": len(pasted), "square": [x, y, 256, 256],
              "whole_image_flagged": sum(w > t for w, _, _ in rows),
              "region_flagged": sum(r > t for _, r, _ in rows),
              "region_flagged_and_inside": sum(r > t and i for (_, r, _), i in zip(rows, inside)),
              "region_inside": sum(inside),
              "region_threshold_1pct_calib": region_threshold,
              "pasted_region_above_region_threshold": sum(r > region_threshold
                                                          for _, r, _ in rows),
              "real_views_region_above_region_threshold": sum(
                  r > region_threshold for _, r, _ in real_rows) / len(real),
              "real_test_views": len(real),
              "real_views_whole_flagged": sum(w > t for w, _, _ in real_rows) / len(real),
              "real_views_region_flagged": sum(r > t for _, r, _ in real_rows) / len(real),
              "unpasted_photo": {"probability": whole0, "region_probability": region0,
                                 "region_box": list(box0)}}
    out = destination(args, "detector_regions.json")
    out.write_text(json.dumps(result, indent=1))
    for k, v in result.items():
        print(f"{k:28s} {v}")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
