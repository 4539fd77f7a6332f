"""The HTML report of an AI-edited capture: the declared region drawn over the file's preview,
the source's thumbnail (from the parent ingredient) beside it, and the edit in the evidence;
checked in the markup and in headless Chromium (where it lands, and a screenshot:
$TRUSTGEN_SCREENSHOTS keeps it)."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from verification import edit_samples as es
from verification.test_edits import BOX, SIDE, edits, verifier  # noqa: F401 - fixtures

from trustgen.report import render_html


@pytest.fixture(scope="module")
def page_html(verifier, edits, verify_files) -> tuple[str, list]:  # noqa: F811
    verdicts = [verifier.verify(edits["inpainted"]), verifier.verify(edits["two-regions"]),
                verifier.verify(verify_files["trusted-capture"])]
    return render_html(verdicts).decode(), verdicts


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="row".*?</tr>', html, re.DOTALL)


def data_uri_image(uri: str):
    from PIL import Image

    assert uri.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")


def test_the_region_is_drawn_over_the_preview(page_html):
    html, _ = page_html
    edited, two, capture = rows(html)
    assert '<div class="edited" style="width:96px;height:96px">' in edited
    x, y, w, h = (100 * v / SIDE for v in BOX)
    ((style, title),) = re.findall(r'<div class="region" style="([^"]*)" title="([^"]*)"', edited)
    placed = dict(re.findall(r"(left|top|width|height):([\d.]+)%", style))
    assert {k: float(v) for k, v in placed.items()} == {"left": x, "top": y, "width": w, "height": h}
    assert title == f"AI-generated region (96, 60, 144, 108) by model {es.MODEL}"
    assert len(re.findall(r'<div class="region"', two)) == 2
    assert 'class="edited"' not in capture and 'class="region"' not in capture
    assert ("<dt>AI edits</dt><dd>c2pa.edited (compositeWithTrainedAlgorithmicMedia) by model "
            f"{es.MODEL}: region (96, 60, 144, 108)</dd>") in edited


def test_the_source_thumbnail_is_the_unedited_photo(page_html, verify_files):
    """The parent ingredient's thumbnail: inside the region it matches the capture, not the edit."""
    from trustgen.media import decode_image

    html, _ = page_html
    edited = rows(html)[0]
    (source,) = re.findall(r'<img class="thumb source small" alt="[^"]*" src="([^"]*)"', edited)
    (file,) = re.findall(r'<img class="thumb" alt="the file" src="([^"]*)"', edited)
    source, file = data_uri_image(source), data_uri_image(file)
    capture = decode_image(verify_files["trusted-capture"].read_bytes(), rgb=True).resize(source.size)
    ex, ey, ew, eh = (int(v * source.width / SIDE) for v in BOX)

    def inside(img):
        return np.asarray(img, np.float32)[ey:ey + eh, ex:ex + ew]

    assert np.abs(inside(source) - inside(capture)).mean() < 12
    assert np.abs(inside(source) - inside(file.resize(source.size))).mean() > 30
    assert "<figcaption>source</figcaption>" in edited



@pytest.mark.browser
@pytest.mark.parametrize("width, height", [(1280, 720), (390, 844)])
def test_the_overlay_sits_on_the_region_in_chromium(browser, page_html, tmp_path, width, height):
    from PIL import Image

    html, _ = page_html
    path = tmp_path / "edits.html"
    path.write_text(html)
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=2)
    page.goto(path.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows
    boxes = page.eval_on_selector_all(
        "tr.row", """rs => rs.map(r => {
            const box = e => { const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; };
            const img = r.querySelector('.edited img.thumb');
            return {img: img && box(img),
                    regions: [...r.querySelectorAll('.edited .region')].map(box),
                    source: (s => s && box(s))(r.querySelector('img.thumb.source'))};
        })""")
    first = boxes[0]
    ix, iy, iw, ih = first["img"]
    assert (iw, ih) == (96, 96)
    (rx, ry, rw, rh), = first["regions"]
    for got, want in zip((rx - ix, ry - iy, rw, rh), (v * iw / SIDE for v in BOX)):
        assert abs(got - want) <= 1, (first, BOX)
    assert first["source"] and first["source"][0] >= ix + iw  # the source beside the file
    assert len(boxes[1]["regions"]) == 2 and boxes[2]["img"] is None

    shot = tmp_path / f"report-ai-edit-{width}.png"
    page.locator("tr.row").first.screenshot(path=str(shot))
    folder = os.environ.get("TRUSTGEN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)
    # the overlay's border is drawn in its colour on the screenshot, at the region's edge
    row = page.locator("tr.row").first.bounding_box()  # after the screenshot scrolled to it
    region = page.locator(".edited .region").first.bounding_box()
    rx, ry, rw = region["x"], region["y"], region["width"]
    with Image.open(shot) as img:
        scale = img.width / row["width"]
        x, top = int((rx - row["x"] + rw / 2) * scale), (ry - row["y"]) * scale
        # down the 2 px border, past any sub-pixel rounding of where it starts
        edge = [img.convert("RGB").getpixel((x, int(top + d * scale / 4))) for d in range(8)]
    assert any(r > 150 and g < 90 and b > 70 for r, g, b in edge), edge  # #d4147a
    page.close()


def test_the_tree_shows_an_earlier_ai_edit_of_the_source(verifier, edits):  # noqa: F811
    html = render_html([verifier.verify(edits["twice"])]).decode()
    assert ('<span class="iedit">c2pa.edited (compositeWithTrainedAlgorithmicMedia) by model '
            f"{es.MODEL}: region (96, 60, 144, 108)</span>") in html
    assert html.count('<div class="region"') == 1  # only this file's own region is drawn on it
