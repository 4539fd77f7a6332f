"""Report renderers: JSONL and CSV round-trip; the HTML page escapes what files say about
themselves, colours labels from ``trustgen.labels``, and works in headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser

import pytest
from verification import report_samples as samples

from trustgen.evidence import (
    DetectorEvidence,
    Evidence,
    Ingredient,
    ManifestEvidence,
    Reason,
    Signer,
    Verdict,
    WatermarkEvidence,
)
from trustgen.labels import LABELS
from trustgen.report import (
    CSV_COLUMNS,
    MAX_TREE_DEPTH,
    action_tones,
    render_csv,
    render_html,
    render_jsonl,
)

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
    """Rows (verdict, action, visibility, badge tone, previews, reasons), counter buttons by
    (key, value) and every tag, attribute and text run of a report, to check that nothing a
    file says became markup."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.buttons, self._button = [], {}, None
        self.tags, self.texts, self.attrs_of = [], [], {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        self.tags.append((tag, a))
        if "id" in a:
            self.attrs_of[a["id"]] = a
        if tag == "tr" and "row" in classes:
            self.rows.append({"verdict": a["data-verdict"], "action": a["data-action"],
                              "hidden": "hidden" in a, "file": None, "claim": None,
                              "badge": None, "action_tone": None, "reasons": [], "tree": 0,
                              "depth": 0, "signers": []})
        elif tag == "img" and self.rows and "thumb" in classes:
            self.rows[-1]["claim" if "claim" in classes else "file"] = a.get("src")
        elif tag == "span" and self.rows and "badge" in classes:
            self.rows[-1]["action_tone" if "solid" in classes else "badge"] = classes[-1]
        elif tag == "li" and self.rows and "data-code" in a:
            self.rows[-1]["reasons"].append(a["data-code"])
        elif tag == "ul" and self.rows and ("tree" in classes or self.rows[-1]["depth"]):
            self.rows[-1]["depth"] += 1
            self.rows[-1]["tree"] = max(self.rows[-1]["tree"], self.rows[-1]["depth"])
        elif tag == "button":
            self._button = (a.get("data-key"), a.get("data-value"))
            self.buttons[self._button] = ""

    def handle_data(self, data):
        self.texts.append(data)
        if self._button is not None:
            self.buttons[self._button] += data
        if self.rows and data.startswith("signed by "):
            self.rows[-1]["signers"].append(data[len("signed by "):])

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None
        elif tag == "ul" and self.rows and self.rows[-1]["depth"]:
            self.rows[-1]["depth"] -= 1


def test_html_is_self_contained(verdicts):
    html = render_html(verdicts, policy="default").decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from a network
    page = _Page(html)
    assert [r["verdict"] for r in page.rows] == [v.label for v in verdicts]
    assert [r["reasons"] for r in page.rows] == [[r.code for r in v.reasons] for v in verdicts]
    files = [r["file"] for r in page.rows]
    decodable = sum(v.label != "error" for v in verdicts)
    assert sum(t is not None and t.startswith("data:image/jpeg;base64,") for t in files) == decodable
    # trustgen's own signed images carry a claim thumbnail; it is shown beside the rendering
    signed = [r for r, v in zip(page.rows, verdicts) if v.evidence.c2pa.state in ("trusted", "valid")]
    assert signed and all(r["claim"].startswith("data:image/jpeg;base64,") for r in signed)
    assert "<script>" in html and "Content credentials" in html


def test_html_badges_take_the_colour_of_the_policy_action():
    from trustgen.policy import Policy

    newsroom = Policy.load("newsroom")
    names = ("trusted-capture", "error", "untrusted-ai", "no-evidence", "trusted-ai")
    verdicts = [newsroom.decide(full_verdict(label=n).evidence) for n in names]
    verdicts = [dataclasses.replace(v, label=n, action=newsroom.judge.actions[n],
                                    passed=newsroom.judge.actions[n] == "verified")
                for v, n in zip(verdicts, names)]
    verdicts.append(dataclasses.replace(verdicts[-1], label="from-a-later-release"))
    page = _Page(render_html(verdicts, policy=newsroom, thumbnails=False).decode())
    tones = {"verified": "good", "needs-review": "warn", "reject": "bad"}
    assert [r["action"] for r in page.rows] == [v.action for v in verdicts]
    assert [r["badge"] for r in page.rows] == [tones[v.action] for v in verdicts]
    assert [r["action_tone"] for r in page.rows] == [tones[v.action] for v in verdicts]
    # trusted-ai alone is rejected by this policy: still red, because the policy says so
    assert action_tones(verdicts[-2:], newsroom) == tones
    assert action_tones(verdicts[-2:]) == {"reject": "warn"}  # without the policy: its labels
    titles = {value: a.get("title") for tag, a in page.tags if tag == "button"
              for value in [a.get("data-value")] if a.get("data-key") == "verdict"}
    assert titles["trusted-ai"] == LABELS["trusted-ai"].meaning
    # counters: all, then actions (passing first, then by severity), then labels in the
    # registry's order, unknown labels last
    assert list(page.buttons) == [
        ("all", "all"), ("action", "verified"), ("action", "needs-review"), ("action", "reject"),
        ("verdict", "trusted-ai"), ("verdict", "trusted-capture"), ("verdict", "untrusted-ai"),
        ("verdict", "no-evidence"), ("verdict", "error"), ("verdict", "from-a-later-release")]
    assert page.buttons[("action", "reject")].split() == ["reject", "4"]


@pytest.mark.parametrize("policy", ["default", "moderation", "strict", "newsroom"])
def test_every_shipped_policy_colours_each_action(policy):
    from trustgen.policy import Policy

    loaded = Policy.load(policy)
    tones = action_tones([], loaded)
    assert set(tones) == set(loaded.judge.actions.values())
    assert {a for a, t in tones.items() if t == "good"} == set(loaded.judge.passing_actions)
    assert tones[loaded.judge.actions["error"]] == "bad"


def test_html_uses_plain_words_not_booleans():
    v = full_verdict("plain")
    v = dataclasses.replace(v, evidence=dataclasses.replace(
        v.evidence, c2pa=dataclasses.replace(v.evidence.c2pa, embedded=True)))
    page = _Page(render_html([v, dataclasses.replace(v, passed=True)], thumbnails=False).decode())
    words = set(" ".join(page.texts).split())
    assert not {"True", "False", "None"} & words
    assert {"yes", "no", "file"} <= words  # watermark detected, passed, stored in the file


def test_html_header_for_files_from_several_folders(tmp_path):
    def at(path):
        v = full_verdict()
        return dataclasses.replace(v, evidence=dataclasses.replace(v.evidence, path=str(path)))

    one = _Page(render_html([at(tmp_path / "a" / "x.jpg"), at(tmp_path / "a" / "y.jpg")],
                            thumbnails=False).decode())
    assert one.attrs_of.get("root") is not None and "Folders" not in one.texts
    text = " ".join(" ".join(one.texts).split())
    assert f"2 files in {tmp_path / 'a'}" in text

    many = _Page(render_html([at(tmp_path / "in" / "agency" / "x.jpg"),
                              at(tmp_path / "in" / "social" / "y.jpg"),
                              at(tmp_path / "in" / "social" / "z.jpg")], thumbnails=False).decode())
    text = " ".join(" ".join(many.texts).split())
    assert f"3 files from 2 folders in {tmp_path / 'in'}" in text
    assert "Folders" in many.texts and {"agency", "social"} <= set(many.texts)
    names = [a["title"] for tag, a in many.tags if "name" in (a.get("class") or "").split()]
    assert names == [str(tmp_path / "in" / "agency" / "x.jpg"), str(tmp_path / "in" / "social" / "y.jpg"),
                     str(tmp_path / "in" / "social" / "z.jpg")]
    assert {"agency/x.jpg", "social/y.jpg"} <= set(many.texts)

    # nothing shared but the file-system root: full paths, no root shown
    apart = _Page(render_html([at("/srv/a/x.jpg"), at("/home/b/y.jpg")], thumbnails=False).decode())
    assert "root" not in apart.attrs_of and {"/srv/a/x.jpg", "/home/b/y.jpg"} <= set(apart.texts)
    # uploads: bare names, no folder at all
    bare = _Page(render_html([at("x.jpg"), at("y.jpg")], thumbnails=False).decode())
    assert "root" not in bare.attrs_of and "Folders" not in bare.texts


def test_html_shows_hostile_fields_as_text():
    v = full_verdict(HOSTILE, label=HOSTILE)
    v = dataclasses.replace(v, action=HOSTILE)
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
    assert row["verdict"] == HOSTILE and row["action"] == HOSTILE
    assert row["reasons"] == ["c2pa.untrusted", "watermark.found"]
    assert page.buttons[("verdict", HOSTILE)].split()[-1] == "1"
    assert page.buttons[("action", HOSTILE)].split()[-1] == "1"
    names = [a["title"] for tag, a in page.tags if "name" in (a.get("class") or "").split()]
    assert names == [v.evidence.path.replace("\n", "\\x0a")]


def test_html_ingredient_tree_keeps_its_depth(identity, sample_photo, tmp_path):
    from trustgen.verify import Verifier

    path = tmp_path / "nested.jpg"
    path.write_bytes(samples.nested(identity, sample_photo("flower.jpg", 128), depth=3))
    verdict = Verifier("default", detector=False).verify(path)
    page = _Page(render_html([verdict]).decode())
    (row,) = page.rows
    assert row["tree"] == 3  # level-2 > level-1 > level-0, one list inside another
    assert len(row["signers"]) == 3 and all("trustgen" in s for s in row["signers"])
    titles = [t for t in page.texts if t.startswith("level-")]
    assert titles == ["level-2.jpg", "level-1.jpg", "level-0.jpg"]


def test_html_ingredient_tree_stops_at_its_depth_limit():
    leaf = Ingredient(title="deepest", relationship="componentOf", has_manifest=True)
    for n in range(MAX_TREE_DEPTH + 5):
        leaf = Ingredient(title=f"i{n}", relationship="componentOf", has_manifest=True,
                          ingredients=(leaf,))
    v = full_verdict()
    v = dataclasses.replace(v, evidence=dataclasses.replace(
        v.evidence, c2pa=dataclasses.replace(v.evidence.c2pa, ingredients=(leaf,))))
    page = _Page(render_html([v], thumbnails=False).decode())
    assert page.rows[0]["tree"] == MAX_TREE_DEPTH
    assert any(t.strip() == "6 deeper ingredients not shown" for t in page.texts)


@pytest.mark.parametrize("mime, make", [("audio/wav", "wav"), ("application/pdf", "pdf")])
def test_html_shows_the_claim_thumbnail_of_media_it_cannot_render(identity, tmp_path, mime, make):
    from trustgen.verify import Verifier

    data = samples.signed_with_thumbnail(identity, mime, getattr(samples, make)(), "x",
                                         samples.jpeg((200, 40, 40)))
    path = tmp_path / f"signed.{make}"
    path.write_bytes(data)
    verdict = Verifier("default", detector=False).verify(path)
    (row,) = _Page(render_html([verdict]).decode()).rows
    assert row["file"] is None and row["claim"].startswith("data:image/jpeg;base64,")
    assert _mean_colour(row["claim"]) == pytest.approx((200, 40, 40), abs=12)

    # an upload: a bare name and its bytes; the disk is never read for it
    upload = verdict.at_path(f"upload.{make}")
    (tmp_path / "elsewhere.jpg").write_bytes(samples.jpeg((0, 0, 255)))
    both = render_html([upload, upload.at_path("elsewhere.jpg")], media={upload.evidence.path: data})
    first, second = _Page(both.decode()).rows
    assert first["claim"] == row["claim"] and second["file"] is None and second["claim"] is None


def _mean_colour(uri: str) -> tuple[float, ...]:
    import base64

    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        return tuple(ImageStat.Stat(img.convert("RGB")).mean)


def test_html_report_with_relative_and_absolute_paths(verdicts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = verdicts[:2]
    relative = dataclasses.replace(first, evidence=dataclasses.replace(first.evidence, path="relative.jpg"))
    page = render_html([relative, second], thumbnails=False).decode()
    assert "relative.jpg" in page and second.evidence.path in page
