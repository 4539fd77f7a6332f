"""``trustgen detect --map OUT.png``: the detector's per-crop scores drawn over the image.

Each crop of ``Scorer.score_map`` is tinted red in proportion to its p(synthetic) (blue-grey
under 0.5), and a crop above the detector's threshold gets a white frame, so a generated region
pasted into a real photo, which barely moves the whole-image score, is visible to a reviewer.
Pillow only; no torch.
"""

from __future__ import annotations

from pathlib import Path

from trustgen.media import atomic_write


def draw(image, cells, threshold: float, *, max_side: int = 2048):
    """An RGB picture of ``cells`` ((x, y, w, h), p) over ``image``, at most ``max_side`` wide."""
    from PIL import Image, ImageDraw

    base = image.convert("RGB")
    scale = min(1.0, max_side / max(base.size))
    if scale < 1:
        base = base.resize((max(1, round(base.width * scale)), max(1, round(base.height * scale))))
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    for (x, y, w, h), p in sorted(cells, key=lambda c: c[1]):  # the most synthetic on top
        box = [round(x * scale), round(y * scale), round((x + w) * scale) - 1,
               round((y + h) * scale) - 1]
        colour = (220, 30, 30, int(40 + 150 * p)) if p >= 0.5 else (60, 90, 140, 60)
        pen.rectangle(box, fill=colour)
        if p > threshold:
            pen.rectangle(box, outline=(255, 255, 255, 255), width=max(1, round(2 * scale)))
    return Image.alpha_composite(base.convert("RGBA"), overlay).convert("RGB")


def write_map(detector, image, out: Path, *, overwrite: bool = True) -> dict:
    """Score ``image`` crop by crop, write the picture to ``out`` (PNG) and return a summary:
    crops, the most synthetic crop's probability and box, crops above the threshold."""
    import io

    cells = detector.score_map(image)
    picture = draw(image, cells, detector.threshold_)
    buf = io.BytesIO()
    picture.save(buf, "PNG")
    atomic_write(out, buf.getvalue(), overwrite=overwrite)
    box, p = max(cells, key=lambda c: c[1])
    return {"crops": len(cells), "max_probability": p, "max_box": list(box),
            "above_threshold": sum(q > detector.threshold_ for _, q in cells)}
