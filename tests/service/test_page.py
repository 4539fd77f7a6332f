"""The verification page in headless Chromium: files chosen, dropped and pasted through the
page, and the report it shows. Screenshots go to $TRUSTGEN_SCREENSHOTS when set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from service.hostile import truncated  # tests/ is on sys.path
from service.server import jpeg


pytestmark = pytest.mark.browser


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def shoot(page, tmp_path, name):
    out = tmp_path / f"service-{name}.png"
    page.screenshot(path=str(out), full_page=True)
    folder = os.environ.get("TRUSTGEN_SCREENSHOTS")
    if folder:
        shutil.copy(out, Path(folder) / out.name)


def open_page(browser, server, viewport, requests):
    page = browser.new_page(viewport=viewport)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server.url + "/")
    page.fill("#key", server.keys["tester"])
    page.dispatch_event("#key", "change")
    return page


def report_rows(page):
    frame = page.frame_locator("#report")
    rows = frame.locator("tr.row")
    return frame, rows


def test_page_shows_the_report(browser, server, c2pa_fixtures, tmp_path):
    files = tmp_path / "in"
    files.mkdir()
    for name in ("C.jpg", "XCA.jpg", "CA.jpg"):
        shutil.copy(c2pa_fixtures / "files" / name, files / name)
    (files / "photo.jpg").write_bytes(jpeg(320, seed=5))
    (files / "broken.jpg").write_bytes(truncated((c2pa_fixtures / "files" / "C.jpg").read_bytes()))
    requests: list[str] = []
    page = open_page(browser, server, {"width": 1280, "height": 900}, requests)
    page.set_input_files("#files", [str(p) for p in sorted(files.iterdir())])
    expect(page.locator("#status")).to_have_text("Verified 5 files under policy default.",
                                                 timeout=60_000)
    frame, rows = report_rows(page)
    assert rows.count() == 5
    shown = {rows.nth(i).locator(".name").inner_text(): rows.nth(i).get_attribute("data-verdict")
             for i in range(5)}
    assert shown["XCA.jpg"] == "credentials-invalid"
    assert shown["photo.jpg"] == "no-evidence"
    assert shown["broken.jpg"] == "error"
    assert shown["CA.jpg"].startswith("trusted")
    # the evidence the report shows: reasons, a thumbnail of the pixels, the ingredient tree
    ca = frame.locator("tr.row", has_text="CA.jpg").first
    assert ca.locator(".reasons li").count() >= 1
    assert ca.locator("img").count() >= 1
    assert frame.locator("tr.row", has_text="photo.jpg").locator("img").first.get_attribute("src").startswith("data:image/jpeg")
    page.wait_for_timeout(300)
    shoot(page, tmp_path, "desktop")
    assert all(u.startswith((server.url, "data:", "about:", "blob:")) for u in requests), requests


def test_page_on_a_phone_with_paste_and_errors(browser, server, c2pa_fixtures, tmp_path):
    requests: list[str] = []
    page = open_page(browser, server, {"width": 390, "height": 844}, requests)
    data = list((c2pa_fixtures / "files" / "C.jpg").read_bytes())
    page.evaluate("""(bytes) => {
        const file = new File([new Uint8Array(bytes)], 'pasted.jpg', {type: 'image/jpeg'});
        const dt = new DataTransfer(); dt.items.add(file);
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt}));
    }""", data)
    expect(page.locator("#status")).to_have_text("Verified 1 file under policy default.",
                                                 timeout=60_000)
    _, rows = report_rows(page)
    assert rows.count() == 1
    assert rows.first.get_attribute("data-verdict") == "trusted-ai"  # C.jpg, under the anchors
    page.wait_for_timeout(300)
    shoot(page, tmp_path, "phone")
    # a file type trustgen does not know: the page says why, in words
    page.set_input_files("#files", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                           "buffer": b"just text"}])
    expect(page.locator("#status")).to_have_class("error")
    assert "unsupported media type text/plain" in page.inner_text("#status")
    assert not page.locator("#report").is_visible()  # no stale report under the error
    # a wrong key: refused, and said so
    page.fill("#key", "tg_wrong")
    page.dispatch_event("#key", "change")
    page.set_input_files("#files", [str(c2pa_fixtures / "files" / "C.jpg")])
    expect(page.locator("#status")).to_contain_text("API key")
    shoot(page, tmp_path, "phone-error")


def test_docs_render_without_a_network(browser, server, tmp_path):
    """Swagger UI at /docs draws every operation from this server's files alone."""
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server.url + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/verify:batch")).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() >= 6
    assert all(u.startswith((server.url, "data:")) for u in requests), requests
    shoot(page, tmp_path, "docs")
