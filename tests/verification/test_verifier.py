"""Verifier: every label from real files, shipped policies on real files, threads, not-checked."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import trustgen
from trustgen.evidence import AI_SOURCE_TYPES
from trustgen.labels import LABELS, TONES
from trustgen.verify import Verifier, verify
from trustgen.watermark import DEFAULT_SCHEME

LABEL_OF = {
    "trusted-ai": "trusted-ai",
    "trusted-capture": "trusted-capture",
    "capture-of-ai": "trusted-capture-flagged",
    "capture-bad-ingredient": "trusted-capture-flagged",
    "capture-ai-ingredient": "trusted-capture-flagged",
    "tampered": "credentials-invalid",
    "unrelated-signer": "untrusted-ai",
    "self-signed-ai": "untrusted-ai",
    "untrusted-capture": "credentials-untrusted",
    "stripped": "ai-watermark",
    "id-mismatch": "trusted-ai",
    "plain": "no-evidence",
    "not-an-image": "error",
    "truncated": "error",
}


@pytest.fixture(scope="module")
def verifier(identity):
    return Verifier("default", detector=False)


def test_every_case_gets_its_label(verifier, verify_files):
    for name, path in verify_files.items():
        before = path.read_bytes()
        verdict = verifier.verify(path)
        assert verdict.label == LABEL_OF[name], (name, verdict.reasons)
        assert verdict.evidence.path == str(path)
        assert path.read_bytes() == before


def test_trustgen_image_carries_every_signal(verifier, verify_files):
    v = verifier.verify(verify_files["trusted-ai"])
    m, wm = v.evidence.c2pa, v.evidence.watermark
    assert (m.state, m.digital_source_type in AI_SOURCE_TYPES) == ("trusted", True)
    assert m.trustgen["content_id"] == wm.content_id == "0123456789ab"
    assert wm.detected and wm.p_value < 1e-6
    assert v.evidence.detector is None  # not run, which is not "found nothing"
    assert (v.action, v.passed) == ("pass", True)
    assert "content-id.mismatch" not in [r.code for r in v.reasons]


def test_reasons_name_what_decided(verifier, verify_files):
    reasons = lambda name: " ".join(r.text for r in verifier.verify(verify_files[name]).reasons)  # noqa: E731
    assert "assertion.dataHash.mismatch" in reasons("tampered")
    assert "content id ba9876543210 but the watermark carries 0123456789ab" in reasons("id-mismatch")
    assert "Ingredient 'tampered.jpg' fails validation" in reasons("capture-bad-ingredient")
    assert "Ingredient 'generated.jpg' declares AI generation (trainedAlgorithmicMedia)" in reasons(
        "capture-ai-ingredient")
    assert f"{DEFAULT_SCHEME} watermark was found" in reasons("capture-of-ai")
    assert "p-value" in reasons("stripped")
    assert "not evidence that the image is authentic" in reasons("plain")
    assert "not an image file" in reasons("not-an-image")
    assert "truncated" in reasons("truncated")


@pytest.mark.parametrize("policy, expected", [
    ("newsroom", {"trusted-ai": "reject", "trusted-capture": "needs-review", "tampered": "reject",
                  "self-signed-ai": "reject", "untrusted-capture": "needs-review",
                  "stripped": "reject", "plain": "needs-review", "not-an-image": "reject"}),
    ("moderation", {"trusted-ai": "label-as-AI", "trusted-capture": "allow", "capture-of-ai": "label-as-AI",
                    "tampered": "review", "unrelated-signer": "label-as-AI", "stripped": "label-as-AI",
                    "self-signed-ai": "label-as-AI", "untrusted-capture": "allow",
                    "plain": "allow", "truncated": "block"}),
    ("strict", {"trusted-ai": "fail", "trusted-capture": "fail", "tampered": "fail", "plain": "fail"}),
])
def test_shipped_policies_on_real_files(identity, verify_files, policy, expected):
    # newsroom and strict trust only the anchors they list: the local dev identity is not one
    verifier = Verifier(policy, detector=False)
    for name, action in expected.items():
        assert verifier.verify(verify_files[name]).action == action, name


def test_newsroom_with_its_anchor_verifies_trusted_captures(identity, verify_files, tmp_path):
    from trustgen.credentials.trust import TrustConfig

    verifier = Verifier("newsroom", trust=TrustConfig.for_identity(identity), detector=False)
    verdict = verifier.verify(verify_files["trusted-capture"])
    assert (verdict.label, verdict.action, verdict.passed) == ("trusted-capture", "verified", True)
    assert verifier.verify(verify_files["capture-of-ai"]).action == "needs-review"
    assert verifier.verify(verify_files["trusted-ai"]).action == "reject"
    # the same anchor named by a policy file, relative to it
    (tmp_path / "anchors.pem").write_bytes(identity.root_path.read_bytes())
    text = trustgen.policy.files("trustgen.policies").joinpath("newsroom.toml").read_text()
    (tmp_path / "desk.toml").write_text(text.replace("anchors = []", 'anchors = ["anchors.pem"]', 1))
    desk = Verifier(tmp_path / "desk.toml", detector=False)
    assert desk.verify(verify_files["trusted-capture"]).action == "verified"


def test_c2pa_reference_fixtures(fixture_trust, c2pa_fixtures, c2pa_only_policy):
    expected = json.loads((c2pa_fixtures / "expected.json").read_text())
    verifier = Verifier(c2pa_only_policy, trust=fixture_trust, detector=False)
    by_state = {"invalid": "credentials-invalid", "error": "credentials-invalid",
                "remote": "credentials-remote", "absent": "no-evidence"}
    for name, want in expected.items():
        verdict = verifier.verify(c2pa_fixtures / "files" / name)
        assert verdict.evidence.c2pa.state == want["state"], name
        if name.endswith(".svg"):  # c2pa cannot parse its manifest; an SVG has no pixels to check
            assert verdict.label == "credentials-invalid"
            assert "detector.media-type" in [r.code for r in verdict.reasons]
        elif want["state"] == "trusted":
            assert verdict.label in ("trusted-ai", "trusted-capture", "trusted-capture-flagged"), name
        elif want["state"] == "valid":
            assert verdict.label in ("untrusted-ai", "credentials-untrusted"), name
        else:
            assert verdict.label == by_state[want["state"]], name
    assert verifier.verify(c2pa_fixtures / "files" / "CA.jpg").label == "trusted-capture"
    assert verifier.verify(c2pa_fixtures / "files" / "ocsp.jpg").label == "untrusted-ai"
    cie = verifier.verify(c2pa_fixtures / "files" / "CIE-sig-CA.jpg")
    assert any("claimSignature.mismatch" in r.text for r in cie.reasons)


def test_detached_manifest(fixture_trust, c2pa_fixtures, c2pa_only_policy):
    verifier = Verifier(c2pa_only_policy, trust=fixture_trust, detector=False)
    files = c2pa_fixtures / "files"
    alone = verifier.verify(files / "cloud.jpg")
    assert alone.label == "credentials-remote"
    with_sidecar = verifier.verify(files / "cloud.jpg", detached=(files / "cloud_manifest.c2pa").read_bytes())
    assert with_sidecar.evidence.c2pa.state == "valid"


def test_verify_bytes_and_shortcut(identity, verify_files):
    data = verify_files["stripped"].read_bytes()
    verifier = Verifier("moderation", detector=False)
    verdict = verifier.verify_bytes(data)
    assert (verdict.label, verdict.action, verdict.evidence.path) == ("ai-watermark", "label-as-AI", None)
    assert verdict.evidence.sha256 == __import__("hashlib").sha256(data).hexdigest()


def test_verify_shortcut_runs_every_signal(identity, verify_files, detector):
    shortcut = verify(verify_files["trusted-ai"], policy="default")
    assert shortcut.label == "trusted-ai"
    assert shortcut.evidence.detector is not None and shortcut.evidence.watermark.detected
    assert verify(verify_files["stripped"].read_bytes(), policy="moderation").action == "label-as-AI"
    assert verify(verify_files["trusted-ai"].parent / "missing.jpg").label == "error"


def test_public_api_exports():
    assert trustgen.verify is verify and trustgen.Verifier is Verifier
    assert trustgen.Verdict is trustgen.evidence.Verdict


def test_disabled_signals_are_not_checked(identity, verify_files, tmp_path):
    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    text = text.replace("[watermark]\nenabled = true", "[watermark]\nenabled = false")
    (tmp_path / "nowm.toml").write_text(text)
    verdict = Verifier(tmp_path / "nowm.toml", detector=False).verify(verify_files["stripped"])
    assert verdict.evidence.watermark is None and verdict.evidence.detector is None
    assert verdict.label == "no-evidence"
    assert "watermark.not-checked" in [r.code for r in verdict.reasons]


def test_policy_watermark_key_file(identity, sample_photo, tmp_path):
    from trustgen.media import encode_image
    from trustgen.watermark import embed

    key = bytes(range(32))
    (tmp_path / "desk.key").write_text(key.hex() + "\n")
    data = encode_image(embed(sample_photo("flower.jpg"), "abcdefabcdef", key=key), "png")
    # without the key: only the public layer reads, naming the issuer, never the content id
    blind = Verifier("default", detector=False).verify_bytes(data)
    assert blind.label == "issuer-watermark" and blind.evidence.watermark.content_id is None
    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    (tmp_path / "p.toml").write_text(text.replace("key_files = []", 'key_files = ["desk.key"]'))
    verdict = Verifier(tmp_path / "p.toml", detector=False).verify_bytes(data)
    assert (verdict.label, verdict.evidence.watermark.content_id) == ("ai-watermark", "abcdefabcdef")


def test_unknown_watermark_scheme_in_policy_names_its_line(identity, tmp_path):
    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    (tmp_path / "p.toml").write_text(text.replace("schemes = []", 'schemes = ["dwtDctSvd", "stegano"]'))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("schemes"))
    with pytest.raises(trustgen.errors.PolicyError, match=rf"line {line}: field 'watermark.schemes'.*stegano"):
        trustgen.Policy.load(tmp_path / "p.toml")  # at load time, not as "not checked" per image


def test_one_verifier_shared_by_threads(verifier, verify_files):
    paths = list(verify_files.values())
    sequential = [verifier.verify(p).to_dict() for p in paths]
    seen = set()

    def run(p):
        seen.add(threading.get_ident())
        return verifier.verify(p).to_dict()

    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(run, paths))
    assert parallel == sequential
    assert len(seen) > 1


def test_fingerprint_follows_configuration(identity):
    a = Verifier("default", detector=False)
    assert a.fingerprint == Verifier("default", detector=False).fingerprint
    assert a.fingerprint != Verifier("moderation", detector=False).fingerprint
    assert a.fingerprint != Verifier("default", detector=False, watermark_keys=[b"k" * 32]).fingerprint


# --- the synthetic-image detector ----------------------------------------------------------------


def _with_threshold(tmp_path, value):
    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    path = tmp_path / f"t{value}.toml"
    path.write_text(text.replace("[detector]\nenabled = true", f"[detector]\nenabled = true\nthreshold = {value}"))
    return path


def test_detector_decides_only_without_marks(identity, verify_files, detector, tmp_path):
    always = Verifier(_with_threshold(tmp_path, 0.0), detector=detector)
    never = Verifier(_with_threshold(tmp_path, 1.0), detector=detector)
    plain = always.verify(verify_files["plain"])
    assert plain.label == "likely-synthetic"
    det = plain.evidence.detector
    assert 0.0 <= det.probability <= 1.0 and det.threshold == 0.0 and det.model == str(detector.model_id)
    assert f"{det.probability:.2f}" in plain.reasons[-1].text
    assert never.verify(verify_files["plain"]).label == "no-evidence"
    # stronger evidence wins over the detector
    assert always.verify(verify_files["stripped"]).label == "ai-watermark"
    assert always.verify(verify_files["trusted-capture"]).label == "trusted-capture"


def test_shipped_detector_threshold_and_target_fpr(identity, detector, verify_files):
    default = Verifier("default", detector=detector)
    assert default.detector_threshold == pytest.approx(float(detector.threshold_))
    strict = Verifier("strict", detector=detector)
    assert 0.0 <= strict.detector_threshold <= 1.0
    verdict = default.verify(verify_files["plain"])
    assert verdict.label in ("likely-synthetic", "no-evidence")
    assert verdict.evidence.detector.synthetic == (verdict.label == "likely-synthetic")


def test_policy_target_fpr_reads_the_detectors_calibration_scores(identity, detector, tmp_path):
    text = trustgen.policy.files("trustgen.policies").joinpath("strict.toml").read_text()
    (tmp_path / "loose.toml").write_text(text.replace("target_fpr = 0.01", "target_fpr = 0.05"))
    loose = Verifier(tmp_path / "loose.toml", detector=detector).detector_threshold
    assert loose == detector.threshold_at_fpr(0.05) < detector.threshold_
    (tmp_path / "fine.toml").write_text(text.replace("target_fpr = 0.01", "target_fpr = 0.0001"))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("target_fpr"))
    with pytest.raises(trustgen.errors.PolicyError,
                       match=rf"line {line}: field 'detector.target_fpr'.*cannot be resolved"):
        Verifier(tmp_path / "fine.toml", detector=detector)


def test_labels_are_documented():
    assert all(label.meaning and label.tone in TONES for label in LABELS.values())


def test_untrusted_credentials_never_hide_an_ai_watermark(verifier, verify_files):
    verdict = verifier.verify(verify_files["self-signed-ai"])
    assert verdict.evidence.c2pa.state == "valid" and not verdict.evidence.c2pa.declares_ai
    assert verdict.label == "untrusted-ai"
    assert [r.code for r in verdict.reasons][:2] == ["c2pa.untrusted", "watermark.found"]
    assert "content id 0123456789ab" in verdict.reasons[1].text


def test_default_model_output_is_likely_synthetic(identity, detector, sampled_image):
    verdict = Verifier("default", detector=detector).verify(sampled_image)
    assert verdict.evidence.c2pa.state == "absent" and not verdict.evidence.watermark.detected
    assert verdict.label == "likely-synthetic", verdict.reasons
    assert verdict.evidence.detector.probability >= verdict.evidence.detector.threshold


def test_detector_score_is_reported_when_it_does_not_decide(identity, detector, verify_files):
    verdict = Verifier("default", detector=detector).verify(verify_files["trusted-ai"])
    assert verdict.label == "trusted-ai"
    assert "detector.score" in [r.code for r in verdict.reasons]


def test_a_crash_inside_verify_bytes_is_an_error_verdict(identity, verify_files):
    class Exploding:
        model_id, threshold_ = "exploding", 0.5

        def predict_proba(self, images):
            raise RuntimeError("boom")

    verdict = Verifier("moderation", detector=Exploding()).verify(verify_files["plain"])
    assert (verdict.label, verdict.action) == ("error", "block")
    assert verdict.reasons[0].code == "file.unreadable"
    assert "verification crashed: RuntimeError: boom" in verdict.reasons[0].text


def test_shortcut_follows_the_policy_file_it_is_given(identity, verify_files, tmp_path, monkeypatch):
    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    for name, action in (("a", "first"), ("b", "second")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.toml").write_text(
            text.replace('no-evidence = "warn"', f'no-evidence = "{action}"', 1)
            .replace("[detector]\nenabled = true", "[detector]\nenabled = false", 1))
    data = verify_files["plain"].read_bytes()
    monkeypatch.chdir(tmp_path / "a")
    assert verify(data, policy="p.toml").action == "first"
    monkeypatch.chdir(tmp_path / "b")
    assert verify(data, policy="p.toml").action == "second"
    (tmp_path / "b" / "p.toml").write_text((tmp_path / "a" / "p.toml").read_text())
    assert verify(data, policy="p.toml").action == "first"


def test_ekus_explicit_then_policy_then_default(identity, tmp_path):
    from trustgen.credentials.trust import DEFAULT_EKUS, TrustConfig

    text = trustgen.policy.files("trustgen.policies").joinpath("default.toml").read_text()
    path = tmp_path / "ekus.toml"
    path.write_text(text.replace("[trust]\n", '[trust]\nekus = ["1.3.6.1.5.5.7.3.4"]\n', 1))
    explicit = TrustConfig(eku_oids=("1.3.6.1.5.5.7.3.36",))
    assert Verifier(path, trust=explicit, detector=False).trust.accepted_ekus == ("1.3.6.1.5.5.7.3.36",)
    assert Verifier(path, detector=False).trust.accepted_ekus == ("1.3.6.1.5.5.7.3.4",)
    assert Verifier("default", detector=False).trust.accepted_ekus == DEFAULT_EKUS
    # anchors alone (--trust-anchors without --trust-config) leave the policy's list in force
    anchors_only = TrustConfig.from_files([identity.root_path])
    assert Verifier(path, trust=anchors_only, detector=False).trust.accepted_ekus == ("1.3.6.1.5.5.7.3.4",)


@pytest.mark.parametrize("keys, why", [([b"short"], "at least 16"), (["a text key" * 3], "not bytes")])
def test_a_bad_watermark_key_fails_when_the_verifier_is_built(identity, keys, why):
    """Bug: a bad key was caught per image and reported as "The watermark was not checked"."""
    with pytest.raises(trustgen.errors.WatermarkError, match=why):
        Verifier("default", detector=False, watermark_keys=keys)


def test_a_small_image_is_not_applicable_not_an_error(identity):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (90, 120, 30)).save(buf, "PNG")
    verdict = Verifier("default", detector=False).verify_bytes(buf.getvalue())
    assert verdict.label == "no-evidence"
    assert verdict.evidence.watermark.schemes_checked == ()
    assert "watermark.not-applicable" in [r.code for r in verdict.reasons]
