"""Report renderers: JSONL and CSV round-trip; the HTML page as headless Chromium shows it."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import pytest

from trustgen.report import CSV_COLUMNS, render_csv, render_html, render_jsonl
from trustgen.verify import Verifier

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage")


@pytest.fixture(scope="module")
def records(identity, verify_files):
    verifier = Verifier("default", detector=False)
    return [verifier.verify(p).to_dict() for p in verify_files.values()]


def test_jsonl_round_trips(records):
    lines = render_jsonl(records).decode().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_csv_has_one_row_per_file(records):
    rows = list(csv.DictReader(io.StringIO(render_csv(records).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in records]
    stripped = next(r for r in rows if r["path"].endswith("stripped.png"))
    assert (stripped["c2pa_state"], stripped["watermark_detected"], stripped["content_id"]) == (
        "absent", "True", "0123456789ab")
    assert float(stripped["p_value"]) < 1e-6
    bad = next(r for r in rows if r["path"].endswith("capture-bad-ingredient.jpg"))
    assert bad["ingredient_codes"] == "assertion.dataHash.mismatch"


class _Page(HTMLParser):
    """Rows, their visibility, verdict badges, thumbnails and counter buttons of a report."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.buttons, self._button = [], {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "row" in (a.get("class") or ""):
            self.rows.append({"verdict": a["data-verdict"], "hidden": "hidden" in a, "thumb": None})
        elif tag == "img" and self.rows and "thumb" in (a.get("class") or ""):
            self.rows[-1]["thumb"] = a.get("src")
        elif tag == "button":
            self._button = a.get("data-verdict")
            self.buttons[self._button] = ""

    def handle_data(self, data):
        if self._button is not None:
            self.buttons[self._button] += data

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None


def test_html_is_self_contained(records):
    html = render_html(records, policy="default").decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from a network
    page = _Page(html)
    assert [r["verdict"] for r in page.rows] == [r["verdict"] for r in records]
    thumbs = [r["thumb"] for r in page.rows]
    decodable = sum(r["verdict"] != "error" for r in records)
    assert sum(t is not None and t.startswith("data:image/jpeg;base64,") for t in thumbs) == decodable
    assert "<script>" in html and "Content credentials" in html


def _chromium(url: str, *extra: str) -> str:
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, *extra, url], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_chromium(records, tmp_path):
    path = tmp_path / "report.html"
    path.write_bytes(render_html(records, policy="default"))

    page = _Page(_chromium(path.as_uri(), "--dump-dom"))
    counts = Counter(r["verdict"] for r in records)
    assert len(page.rows) == len(records) and not any(r["hidden"] for r in page.rows)
    for verdict, n in counts.items():
        assert page.buttons[verdict].split() == [verdict, str(n)]
    assert page.buttons["all"].split() == ["all", str(len(records))]

    # the verdict filter: rows of other verdicts are hidden once the script has run
    filtered = _Page(_chromium(path.as_uri() + "#verdict=credentials-invalid", "--dump-dom"))
    visible = [r["verdict"] for r in filtered.rows if not r["hidden"]]
    assert visible == ["credentials-invalid"] * counts["credentials-invalid"]
    assert len(filtered.rows) == len(records)


def test_html_report_with_relative_and_absolute_paths(records, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mixed = [dict(records[0], path="relative.jpg"), records[1]]
    page = render_html(mixed, thumbnails=False).decode()
    assert "relative.jpg" in page and records[1]["path"] in page
