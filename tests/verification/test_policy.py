"""Policies: loading shipped and user TOML, errors naming file/line/field, and the decision table.

The evidence here is built as records so every label is reached deterministically; the same
labels are produced from real files in tests/test_verify.py.
"""

from __future__ import annotations

import textwrap

import pytest

from trustgen.errors import PolicyError
from trustgen.evidence import (
    DetectorEvidence, Evidence, Ingredient, ManifestEvidence, Signer, WatermarkEvidence,
)
from trustgen.policy import LABELS, Policy, classify, shipped_policies

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
SIGNER = Signer(common_name="Desk Camera", organization="Agency", issuer="Agency CA")
WM = WatermarkEvidence(detected=True, scheme="trustgen-dwtdct", content_id="0123456789ab", p_value=1e-12)
NO_WM = WatermarkEvidence(detected=False)
SYNTH = DetectorEvidence(probability=0.93, threshold=0.5, model="tiny-det")
REAL = DetectorEvidence(probability=0.10, threshold=0.5, model="tiny-det")
ABSENT = ManifestEvidence(state="absent")


def ev(c2pa=ABSENT, watermark=NO_WM, detector=REAL, error=None):
    return Evidence(path="x.jpg", c2pa=c2pa, watermark=watermark, detector=detector, error=error)


CASES = {
    "trusted-ai": ev(ManifestEvidence(state="trusted", signer=SIGNER, digital_source_type=AI), WM),
    "trusted-capture": ev(ManifestEvidence(
        state="trusted", signer=SIGNER, digital_source_type=CAPTURE, actions=("c2pa.created",))),
    "trusted-capture-flagged": ev(ManifestEvidence(
        state="trusted", signer=SIGNER, actions=("c2pa.opened",),
        ingredients=(Ingredient("A.jpg", "parentOf", ("claimSignature.mismatch",)),))),
    "credentials-invalid": ev(ManifestEvidence(state="invalid", codes=("assertion.dataHash.mismatch",))),
    "untrusted-ai": ev(ManifestEvidence(state="valid", signer=SIGNER, digital_source_type=AI)),
    "credentials-untrusted": ev(ManifestEvidence(state="valid", signer=SIGNER, digital_source_type=CAPTURE)),
    "credentials-remote": ev(ManifestEvidence(state="remote")),
    "ai-watermark": ev(watermark=WM),
    "likely-synthetic": ev(detector=SYNTH),
    "no-evidence": ev(),
    "error": ev(c2pa=None, watermark=None, detector=None, error="x.jpg: not an image file"),
}

EXPECTED = {  # label -> action under each shipped policy
    "default": dict(zip(LABELS, "pass pass warn fail warn warn warn warn warn warn fail".split())),
    "newsroom": dict(zip(LABELS, (
        "reject verified needs-review reject reject needs-review needs-review reject needs-review "
        "needs-review reject").split())),
    "moderation": dict(zip(LABELS, (
        "label-as-AI allow label-as-AI review label-as-AI allow allow label-as-AI label-as-AI allow "
        "block").split())),
    "strict": dict(zip(LABELS, "pass pass fail fail fail fail fail fail fail fail fail".split())),
}


def test_every_label_has_a_case():
    assert set(CASES) == set(LABELS)
    for label, evidence in CASES.items():
        assert classify(evidence)[0] == label


@pytest.mark.parametrize("name", ["default", "newsroom", "moderation", "strict"])
def test_shipped_policy_decisions(name):
    assert name in shipped_policies()
    policy = Policy.load(name)
    for label, evidence in CASES.items():
        verdict = policy.decide(evidence)
        assert (verdict.label, verdict.action) == (label, EXPECTED[name][label]), label
        assert verdict.passed == (verdict.action in policy.passing_actions)
        assert verdict.reasons and all(r.endswith(".") for r in verdict.reasons)
        assert verdict.policy == name


def test_passing_actions_per_policy():
    assert Policy.load("newsroom").passing_actions == {"verified"}
    assert Policy.load("moderation").passing_actions == {"allow", "label-as-AI"}
    assert Policy.load("strict").detector_target_fpr == 0.01
    assert Policy.load("newsroom").local_identity is False


def test_absence_of_evidence_is_never_authentic():
    label, reasons = classify(ev())
    assert label == "no-evidence"
    assert "not evidence that the image is authentic" in reasons[-1]
    # a detector that was not run is said so, not silently read as "real"
    label, reasons = classify(ev(detector=None, watermark=None))
    assert label == "no-evidence"
    assert "watermark was not checked" in " ".join(reasons)
    assert "detector was not run" in " ".join(reasons)


def test_reasons_carry_the_deciding_evidence():
    _, reasons = classify(CASES["ai-watermark"])
    assert any("content id 0123456789ab" in r and "p-value 1.0e-12" in r for r in reasons)
    _, reasons = classify(CASES["credentials-invalid"])
    assert "assertion.dataHash.mismatch" in reasons[0]
    _, reasons = classify(CASES["untrusted-ai"])
    assert "Desk Camera" in reasons[0] and "trainedAlgorithmicMedia" in reasons[0]
    _, reasons = classify(CASES["likely-synthetic"])
    assert "0.93" in reasons[-1] and "tiny-det" in reasons[-1]


def test_weak_watermark_does_not_count_under_a_strict_limit():
    weak = WatermarkEvidence(detected=True, scheme="trustgen-dwtdct", content_id="0123456789ab", p_value=1e-7)
    assert classify(ev(watermark=weak), max_p_value=1e-6)[0] == "ai-watermark"
    label, reasons = classify(ev(watermark=weak), max_p_value=1e-9)
    assert label == "no-evidence"
    assert "above this policy's limit" in " ".join(reasons)


def test_content_id_mismatch_is_a_reason():
    manifest = ManifestEvidence(
        state="trusted", signer=SIGNER, digital_source_type=AI, trustgen={"content_id": "ffffffffffff"})
    label, reasons = classify(ev(manifest, WM))
    assert label == "trusted-ai"
    assert any("ffffffffffff" in r and "0123456789ab" in r for r in reasons)
    label, reasons = classify(ev(manifest, NO_WM))
    assert any("no trustgen watermark was found" in r for r in reasons)


def test_ai_watermark_on_a_trusted_capture_is_flagged():
    manifest = ManifestEvidence(state="trusted", signer=SIGNER, digital_source_type=CAPTURE)
    assert classify(ev(manifest, WM))[0] == "trusted-capture-flagged"


# --- loading and errors ---------------------------------------------------------------------------

GOOD = """\
name = "desk"
passing_actions = ["ok"]

[trust]
anchors = ["roots.pem"]
local_identity = false

[detector]
threshold = 0.7

[actions]
""" + "".join(f'{label} = "{"ok" if label.startswith("trusted") else "no"}"\n' for label in LABELS)


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_policy_by_path_resolves_relative_files(tmp_path):
    (tmp_path / "roots.pem").write_text("placeholder")
    policy = Policy.load(write(tmp_path, GOOD))
    assert policy.name == "desk"
    assert policy.trust_anchors == (tmp_path / "roots.pem",)
    assert policy.detector_threshold == 0.7 and policy.local_identity is False
    assert policy.decide(CASES["trusted-ai"]).passed
    assert not policy.decide(CASES["no-evidence"]).passed


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "edit, field, needle, why",
    [
        (("threshold = 0.7", "threshold = 1.5"), "detector.threshold", "threshold = 1.5", "between 0 and 1"),
        (("threshold = 0.7", "treshold = 0.7"), "detector.treshold", "treshold", "unknown key"),
        (("local_identity = false", "local_identity = 1"), "trust.local_identity", "local_identity = 1", "must be a bool"),
        (('anchors = ["roots.pem"]', 'anchors = ["missing.pem"]'), "trust.anchors", "missing.pem", "no such file"),
        (('trusted-ai = "ok"', 'trusted-ai = "ok"\nauthentic = "ok"'), "actions.authentic", "authentic", "unknown key"),
        (('no-evidence = "no"\n', ""), "actions", "[actions]", "no action for label(s): no-evidence"),
        (('passing_actions = ["ok"]', 'passing_actions = ["publish"]'), "passing_actions", "passing_actions", "no label maps to"),
        (('name = "desk"', 'name = "desk"\ncolour = "red"'), "colour", "colour", "unknown key"),

    ],
)
def test_malformed_policy_names_file_line_and_field(tmp_path, edit, field, needle, why):
    (tmp_path / "roots.pem").write_text("placeholder")
    text = GOOD.replace(*edit)
    assert text != GOOD
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    err = info.value
    assert err.field == field
    assert err.line == line_of(text, needle)
    assert str(err).startswith(f"{path}: line {err.line}: field '{field}': ")
    assert why in str(err)


def test_toml_syntax_error_has_its_line(tmp_path):
    path = write(tmp_path, 'name = "x"\n\n[detector]\nthreshold = = 0.5\n')
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    assert info.value.line == 4
    assert str(info.value).startswith(f"{path}: line 4: invalid TOML")


def test_unknown_policy_name_lists_shipped_ones(tmp_path):
    with pytest.raises(PolicyError, match="unknown policy 'nesroom'.*newsroom"):
        Policy.load("nesroom")
    with pytest.raises(PolicyError, match="no such policy file"):
        Policy.load(tmp_path / "absent.toml")


def test_a_shipped_name_is_not_shadowed_by_a_stray_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_text("garbage = 1\n")
    assert Policy.load("default").source == "policy:default"
    with pytest.raises(PolicyError, match="unknown key"):
        Policy.load("./default")


def test_an_unreadable_anchor_file_points_into_the_policy(tmp_path):
    from trustgen.verify import Verifier

    (tmp_path / "roots.pem").write_text("not a certificate")
    path = write(tmp_path, GOOD)
    with pytest.raises(PolicyError) as info:
        Verifier(path, detector=False)
    assert info.value.field == "trust.anchors"
    assert info.value.line == line_of(GOOD, "anchors =")
    assert "no PEM certificate" in str(info.value)


@pytest.mark.parametrize("form, needle", [
    ("detector.treshold = 0.7", "detector.treshold"),
    ("detector = {enabled = true, treshold = 0.7}", "detector = {"),
])
def test_dotted_and_inline_keys_have_their_line(tmp_path, form, needle):
    (tmp_path / "roots.pem").write_text("placeholder")
    text = GOOD.replace("[detector]\nthreshold = 0.7\n", "").replace(
        'passing_actions = ["ok"]\n', f'passing_actions = ["ok"]\n{form}\n')
    with pytest.raises(PolicyError) as info:
        Policy.load(write(tmp_path, text))
    assert (info.value.field, info.value.line) == ("detector.treshold", line_of(text, needle))
