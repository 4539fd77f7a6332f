"""Report renderers: JSONL and CSV round-trip; the HTML page escapes what files say about
themselves, colours labels from ``trustgen.labels``, and works in headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import pytest

from trustgen.evidence import (
    DetectorEvidence, Evidence, Ingredient, ManifestEvidence, Reason, Signer, Verdict,
    WatermarkEvidence,
)
from trustgen.labels import LABELS
from trustgen.report import CSV_COLUMNS, render_csv, render_html, render_jsonl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage")

#: Markup, quotes and Jinja syntax: what a hostile file name, certificate or manifest may carry.
HOSTILE = """<script>alert("x")</script>' onmouseover='alert(1) {{ 7*7 }}{% raw %}{# #}&amp;"""


@pytest.fixture(scope="module")
def verdicts(identity, verify_files):
    from trustgen.verify import Verifier

    verifier = Verifier("default", detector=False)
    return [verifier.verify(p) for p in verify_files.values()]


def full_verdict(text: str = "plain", *, label: str = "untrusted-ai") -> Verdict:
    """A verdict with every signal present, ``text`` in each free-text field a file controls."""
    return Verdict(
        label=label, action="warn", passed=False, policy="default",
        reasons=(Reason("c2pa.untrusted", f"Signer {text} is not trusted."),
                 Reason("watermark.found", "A watermark was found.")),
        evidence=Evidence(
            path=f"/data/run/{text}, \"quoted\"\nname.jpg", sha256="ab" * 32,
            c2pa=ManifestEvidence(
                state="valid", codes=("signingCredential.untrusted",),
                ingredients=(Ingredient(title=text, relationship="componentOf",
                                        codes=("assertion.dataHash.mismatch",),
                                        digital_source_type=text),),
                signer=Signer(common_name=text, organization="Org", issuer=text, time=text),
                claim_generator=text, actions=("c2pa.created",), reason=text,
                digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/"
                                    "trainedAlgorithmicMedia"),
            watermark=WatermarkEvidence(detected=True, scheme="trustmark", content_id="0123456789ab",
                                        p_value=2.5e-9, bit_errors=1, key="public",
                                        schemes_checked=("trustmark", "dwtdct"), max_p_value=1e-6),
            detector=DetectorEvidence(probability=0.875, threshold=0.5, model=text),
        ),
    )


def test_jsonl_round_trips(verdicts):
    lines = render_jsonl(verdicts).decode().splitlines()
    assert [json.loads(line) for line in lines] == [v.to_dict() for v in verdicts]
    assert [Verdict.from_json(line) for line in lines] == verdicts


def test_jsonl_round_trips_every_field():
    verdicts = [full_verdict(HOSTILE), Verdict("error", "fail", (), Evidence(None, error="boom"))]
    lines = render_jsonl(verdicts).decode().splitlines()
    assert len(lines) == 2
    assert [Verdict.from_dict(json.loads(line)) for line in lines] == verdicts


def test_csv_has_one_row_per_file(verdicts):
    rows = list(csv.DictReader(io.StringIO(render_csv(verdicts).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["verdict"] for r in rows] == [v.label for v in verdicts]
    assert [r["reason_codes"].split() for r in rows] == [[r.code for r in v.reasons] for v in verdicts]
    stripped = next(r for r in rows if r["path"].endswith("stripped.png"))
    assert (stripped["c2pa_state"], stripped["watermark_detected"], stripped["content_id"]) == (
        "absent", "True", "0123456789ab")
    assert float(stripped["p_value"]) < 1e-6
    bad = next(r for r in rows if r["path"].endswith("capture-bad-ingredient.jpg"))
    assert bad["ingredient_codes"] == "assertion.dataHash.mismatch"


def test_csv_columns_round_trip():
    v = full_verdict(HOSTILE)
    unchecked = Verdict("no-evidence", "warn", (), Evidence("/data/plain.jpg"))
    full, empty = csv.DictReader(io.StringIO(render_csv([v, unchecked]).decode()))
    assert full == {
        "path": v.evidence.path.replace("\n", "\\x0a"),  # one line: a control character escaped
        "verdict": "untrusted-ai", "action": "warn", "passed": "False",
        "c2pa_state": "valid", "c2pa_codes": "signingCredential.untrusted",
        "signer": f"{HOSTILE}, Org (issued by {HOSTILE})",
        "digital_source_type": v.evidence.c2pa.digital_source_type,
        "ingredient_codes": "assertion.dataHash.mismatch", "watermark_detected": "True",
        "watermark_scheme": "trustmark", "content_id": "0123456789ab", "p_value": "2.5e-09",
        "detector_probability": "0.875", "detector_threshold": "0.5", "detector_model": HOSTILE,
        "reasons": f"Signer {HOSTILE} is not trusted. A watermark was found.", "error": "",
        "sha256": "ab" * 32, "reason_codes": "c2pa.untrusted watermark.found",
    }
    # a signal that was not checked leaves its cells empty, not "None"
    assert {k for k, value in empty.items() if value} == {"path", "verdict", "action", "passed"}


class _Page(HTMLParser):
    """Rows, their visibility, verdict badges, thumbnails and counter buttons of a report, and
    every tag, attribute and text run, to check that nothing a file says became markup."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.buttons, self._button = [], {}, None
        self.tags, self.texts = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "row" in (a.get("class") or ""):
            self.rows.append({"verdict": a["data-verdict"], "hidden": "hidden" in a, "thumb": None,
                              "badge": None, "reasons": []})
        elif tag == "img" and self.rows and "thumb" in (a.get("class") or ""):
            self.rows[-1]["thumb"] = a.get("src")
        elif tag == "span" and self.rows and "badge" in (a.get("class") or ""):
            self.rows[-1]["badge"] = a["class"].split()[1]
        elif tag == "li" and self.rows and "data-code" in a:
            self.rows[-1]["reasons"].append(a["data-code"])
        elif tag == "button":
            self._button = a.get("data-verdict")
            self.buttons[self._button] = ""

    def handle_data(self, data):
        self.texts.append(data)
        if self._button is not None:
            self.buttons[self._button] += data

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None


def test_html_is_self_contained(verdicts):
    html = render_html(verdicts, policy="default").decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from a network
    page = _Page(html)
    assert [r["verdict"] for r in page.rows] == [v.label for v in verdicts]
    assert [r["reasons"] for r in page.rows] == [[r.code for r in v.reasons] for v in verdicts]
    thumbs = [r["thumb"] for r in page.rows]
    decodable = sum(v.label != "error" for v in verdicts)
    assert sum(t is not None and t.startswith("data:image/jpeg;base64,") for t in thumbs) == decodable
    assert "<script>" in html and "Content credentials" in html


def test_html_labels_come_from_the_registry():
    verdicts = [full_verdict(label=name) for name in ("trusted-ai", "error", "untrusted-ai")]
    verdicts.append(full_verdict(label="from-a-later-release"))
    page = _Page(render_html(verdicts, thumbnails=False).decode())
    assert [r["badge"] for r in page.rows] == ["good", "bad", "ai", "none"]
    titles = {a["data-verdict"]: a.get("title") for tag, a in page.tags if tag == "button"}
    assert titles["trusted-ai"] == LABELS["trusted-ai"].meaning
    # counter buttons in the registry's order, unknown labels last
    assert list(page.buttons) == ["all", "trusted-ai", "untrusted-ai", "error", "from-a-later-release"]


def test_html_shows_hostile_fields_as_text():
    v = full_verdict(HOSTILE, label=HOSTILE)
    html = render_html([v], policy=HOSTILE, title=HOSTILE, thumbnails=False).decode()
    page = _Page(html)
    assert [tag for tag, _ in page.tags].count("script") == 1  # only the page's own
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    text = "".join(page.texts)
    for shown in (f"Signer {HOSTILE} is not trusted.", f"{HOSTILE}, Org (issued by {HOSTILE})",
                  '"quoted"\\x0aname.jpg'):
        assert shown in text
    # verbatim, so the Jinja syntax in it was never evaluated: title, policy, label, signer, ...
    assert text.count(HOSTILE) >= 10
    (row,) = page.rows
    assert row["verdict"] == HOSTILE and row["reasons"] == ["c2pa.untrusted", "watermark.found"]
    assert page.buttons[HOSTILE].split()[-1] == "1"
    names = [a["title"] for tag, a in page.tags if "name" in (a.get("class") or "")]
    assert names == [v.evidence.path.replace("\n", "\\x0a")]


def _chromium(url: str, *extra: str) -> str:
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, *extra, url], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_chromium(verdicts, tmp_path):
    path = tmp_path / "report.html"
    path.write_bytes(render_html(verdicts, policy="default"))

    page = _Page(_chromium(path.as_uri(), "--dump-dom"))
    counts = Counter(v.label for v in verdicts)
    assert len(page.rows) == len(verdicts) and not any(r["hidden"] for r in page.rows)
    for verdict, n in counts.items():
        assert page.buttons[verdict].split() == [verdict, str(n)]
    assert page.buttons["all"].split() == ["all", str(len(verdicts))]

    # the verdict filter: rows of other verdicts are hidden once the script has run
    filtered = _Page(_chromium(path.as_uri() + "#verdict=credentials-invalid", "--dump-dom"))
    visible = [r["verdict"] for r in filtered.rows if not r["hidden"]]
    assert visible == ["credentials-invalid"] * counts["credentials-invalid"]
    assert len(filtered.rows) == len(verdicts)


def test_html_report_with_relative_and_absolute_paths(verdicts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = verdicts[:2]
    relative = dataclasses.replace(first, evidence=dataclasses.replace(first.evidence, path="relative.jpg"))
    page = render_html([relative, second], thumbnails=False).decode()
    assert "relative.jpg" in page and second.evidence.path in page
