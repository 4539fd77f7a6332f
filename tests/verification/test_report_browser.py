"""The HTML report in headless Chromium: a newsroom run of mixed verdicts (real files, real
verification) at a desktop and a phone size with every evidence panel open: no horizontal
overflow, nothing fetched, filters by action and by verdict from the address and the buttons,
badges coloured by the policy's action. Screenshots go to $TRUSTGEN_SCREENSHOTS when set."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from verification import report_samples as samples

SIZES = ((1280, 900), (390, 844))
#: The solid badge colours of report.css: reject (bad), needs-review (warn), verified (good).
SOLID = {"reject": "rgb(180, 35, 24)", "needs-review": "rgb(242, 176, 30)", "verified": "rgb(30, 123, 58)"}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(identity, verify_files, sample_photo, tmp_path_factory):
    """A newsroom report over two folders: the verification fixtures, a WAV and a PDF signed
    with claim thumbnails, a file with ingredients three levels deep and a very long name."""
    from trustgen.policy import Policy
    from trustgen.report import render_html
    from trustgen.verify import Verifier

    folder = tmp_path_factory.mktemp("newsroom")
    (folder / "docs").mkdir()
    extra = {
        "docs/interview.wav": samples.signed_with_thumbnail(
            identity, "audio/wav", samples.wav(), "interview.wav", samples.jpeg((40, 90, 160))),
        "docs/statement.pdf": samples.signed_with_thumbnail(
            identity, "application/pdf", samples.pdf(), "statement.pdf", samples.jpeg((160, 90, 40))),
        "docs/composite.jpg": samples.nested(identity, sample_photo("flower.jpg", 128), depth=3),
        "docs/" + "a-very-long-file-name-without-any-space-" * 6 + ".jpg":
            verify_files["trusted-capture"].read_bytes(),
    }
    for name, data in extra.items():
        (folder / name).write_bytes(data)
    newsroom = Policy.load("newsroom")  # trusts the anchors it is given, here the test identity's
    verifier = Verifier.from_options(newsroom, trust_anchors=[identity.root_path], detector=False)
    paths = [*verify_files.values(), *(folder / name for name in extra)]
    verdicts = [verifier.verify(p) for p in paths]
    html = render_html(verdicts, policy=newsroom, workers=2)
    page = folder / "report.html"
    page.write_bytes(html)
    return {"url": page.as_uri(), "verdicts": verdicts}


def _open(browser, report, width, height, fragment=""):
    page = browser.new_page(viewport={"width": width, "height": height})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report["url"] + fragment)
    return page, requests


def _visible(page) -> list[dict]:
    return page.eval_on_selector_all(
        "tr.row", "rs => rs.filter(r => !r.hidden).map(r => ({...r.dataset}))")


def _click(page, selector: str, shown: int) -> None:
    """Click, then wait for the hashchange handler to have filtered the rows."""
    page.click(selector)
    page.wait_for_function("n => document.getElementById('shown').textContent === n",
                           arg=str(shown), timeout=10_000)


def _shoot(page, tmp_path, name, **options) -> Path:
    out = tmp_path / f"report-{name}.png"
    page.screenshot(path=str(out), **options)
    folder = os.environ.get("TRUSTGEN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(folder) / out.name)
    return out


@pytest.mark.parametrize("width, height", SIZES)
def test_no_horizontal_overflow_with_evidence_open(browser, report, tmp_path, width, height):
    from PIL import Image

    page, requests = _open(browser, report, width, height)
    shot = _shoot(page, tmp_path, f"{width}x{height}")
    with Image.open(shot) as img:
        assert img.size == (width, height)
    page.eval_on_selector_all("details", "ds => ds.forEach(d => { d.open = true; })")
    client, scroll = page.evaluate(
        "[document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    assert client == width and scroll <= width, f"the page is {scroll} px wide in {width} px"
    # no row, tree or evidence list reaches past the right edge either (nothing clipped)
    right = page.eval_on_selector_all(
        "tr.row, tr.row dl, ul.tree, .name", "es => Math.max(...es.map(e => e.getBoundingClientRect().right))")
    assert right <= width
    _shoot(page, tmp_path, f"{width}x{height}-evidence")
    _shoot(page, tmp_path, f"{width}-evidence-full", full_page=True)
    assert requests and all(u.startswith(("file:", "data:")) for u in requests)  # nothing fetched

    # each action's badges in its own colour: reject and needs-review distinct
    colours = page.eval_on_selector_all(
        "tr.row", "rs => rs.map(r => [r.dataset.action, "
        "getComputedStyle(r.querySelector('.badge.solid')).backgroundColor])")
    assert {action: colour for action, colour in colours} == SOLID
    page.close()


def test_filters_by_action_and_by_verdict(browser, report):
    verdicts = report["verdicts"]
    actions = Counter(v.action for v in verdicts)
    labels = Counter(v.label for v in verdicts)
    assert set(actions) == {"reject", "needs-review", "verified"}
    # distinct counts, so that waiting for "showing N" waits for each filter in turn
    assert len({actions["reject"], actions["needs-review"], labels["credentials-invalid"], len(verdicts)}) == 4

    page, _ = _open(browser, report, 1280, 900, "#action=reject")
    rows = _visible(page)
    assert [r["action"] for r in rows] == ["reject"] * actions["reject"]
    assert page.text_content("#shown") == str(actions["reject"]) and page.is_hidden("#empty")

    _click(page, 'button.count[data-key="action"][data-value="needs-review"]', actions["needs-review"])
    assert page.evaluate("location.hash") == "#action=needs-review"
    assert [r["action"] for r in _visible(page)] == ["needs-review"] * actions["needs-review"]
    assert page.get_attribute('button[data-value="needs-review"]', "aria-pressed") == "true"

    _click(page, 'button.count[data-key="verdict"][data-value="credentials-invalid"]',
           labels["credentials-invalid"])
    assert page.evaluate("location.hash") == "#verdict=credentials-invalid"
    assert [r["verdict"] for r in _visible(page)] == ["credentials-invalid"] * labels["credentials-invalid"]

    # an action asked for as a verdict matches nothing, and the page says so
    page.goto(report["url"] + "#verdict=reject")  # the same page: a hashchange, handled later
    page.wait_for_selector("#empty", state="visible", timeout=10_000)
    assert _visible(page) == [] and page.is_visible("#empty")
    _click(page, 'button.count[data-key="all"]', len(verdicts))
    assert len(_visible(page)) == len(verdicts) and page.is_hidden("#empty")
    page.close()
