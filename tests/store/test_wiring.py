"""Durable credentials end to end, through the real wiring: generate or sign + register, strip
(re-encode), then ``verify`` recovers the manifest from the store (SQLite and PostgreSQL).

Each case is one real c2pa signing and one or two verifications; the pipeline samples 2 steps.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from store.helpers import photo
from trustgen import watermark
from trustgen.cli import cli
from trustgen.credentials.trust import TrustConfig
from trustgen.evidence import Verdict, verdict_schema
from trustgen.softbinding import WATERMARK_ALG, WATERMARKED_ACTION
from trustgen.store import open_store
from trustgen.verify import Verifier

CID = "5eed0fc0ffee"


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def jpeg(data: bytes, quality: int = 90) -> bytes:
    """A platform's repost: decoded and re-encoded, the credentials gone, the mark kept."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def verifier(stores, policy="default", **kw) -> Verifier:
    return Verifier(policy, detector=False, stores=stores, **kw)


@pytest.fixture(scope="module")
def marked(tmp_path_factory, identity):
    """A 512 px photo carrying trustgen's mark under the identity's key, as a PNG file."""
    path = tmp_path_factory.mktemp("marked") / "marked.png"
    path.write_bytes(png(watermark.embed(photo("coffee"), CID, key=identity.watermark_key)))
    return path


@pytest.fixture
def signed(marked, tmp_path, store_url):
    """``trustgen sign --register`` of the marked image as AI media into ``store_url``."""
    out = tmp_path / "generated.png"
    result = run("sign", marked, "-o", out, "--source-type", "trainedAlgorithmicMedia",
                 "--register", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["soft_bindings"] == 2 and record["registered"] is True
    return out


def test_signed_and_registered_then_stripped_reads_recovered_ai(signed, store_url, identity):
    from trustgen.store.ingest import registration_file

    reg = registration_file(signed)
    assert {b.alg for b in reg.soft_bindings} == {WATERMARK_ALG, "com.facebook.pdq"}
    with open_store(store_url) as store:
        assert store.get(reg.manifest_id) == reg.store_bytes

    verdict = verifier([store_url]).verify_bytes(jpeg(signed.read_bytes()), "repost.jpg")
    rec = verdict.evidence.recovered
    assert verdict.label == "recovered-ai", verdict.reasons
    assert (rec.matched_by, rec.state, rec.pixels_match, rec.bindings_agree) == ("both", "trusted", False, True)
    assert rec.manifest_id == reg.manifest_id and rec.content_id == CID and not rec.copied_mark
    assert rec.signer.common_name == identity.signer().subject.split("CN=")[-1]
    codes = [r.code for r in verdict.reasons]
    assert codes[:4] == ["c2pa.absent", "recovery.trusted", "c2pa.declares-ai", "recovery.pixels-changed"]
    assert "c2pa.invalid" not in codes  # a copy's pixels are never called tampering
    record = json.loads(verdict.to_json())
    import jsonschema

    jsonschema.Draft202012Validator(verdict_schema()).validate(record)
    assert Verdict.from_dict(record) == verdict


def test_generated_images_are_registered_by_default(tiny_unconditional, identity, tmp_path):
    from trustgen.generate import TrustedPipeline
    from trustgen.store.ingest import registration

    db = tmp_path / "manifests.db"
    pipe = TrustedPipeline.from_pretrained(tiny_unconditional, identity=identity, store=db)
    out = pipe(num_inference_steps=2, seed=3)[0]
    assert out.registered
    reg = registration(out.data)
    assert {b.alg for b in reg.soft_bindings} == {WATERMARK_ALG, "com.facebook.pdq"}
    from trustgen.credentials.read import read_credentials

    manifest = read_credentials(out.data, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.actions[:2] == ("c2pa.created", WATERMARKED_ACTION)

    stripped = png(Image.open(io.BytesIO(out.data)))  # Pillow drops the manifest chunk
    verdict = verifier([str(db)]).verify_bytes(stripped, "stripped.png")
    assert verdict.label == "recovered-ai", verdict.reasons
    assert verdict.evidence.recovered.manifest_id == reg.manifest_id

    # registration off: nothing written; a store that cannot be used keeps the image, warned
    assert not TrustedPipeline.from_pretrained(tiny_unconditional, identity=identity, register=False,
                                               store=tmp_path / "none.db")(num_inference_steps=2)[0].registered
    assert not (tmp_path / "none.db").exists()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    from trustgen.generate import RegistrationWarning

    with pytest.warns(RegistrationWarning, match="not registered"):
        kept = TrustedPipeline.from_pretrained(tiny_unconditional, identity=identity,
                                               store=broken)(num_inference_steps=2)
    assert kept and not kept[0].registered and kept[0].data


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_unregistered_mark_copied_mark_and_unreachable_store(signed, store_url, identity, tmp_path):
    v = verifier([store_url])
    # a marked image nobody registered: the mark is read, nothing is recovered
    other = png(watermark.embed(photo("astronaut"), "0123456789ab", key=identity.watermark_key))
    verdict = v.verify_bytes(other, "unregistered.png")
    assert verdict.label == "ai-watermark" and not verdict.evidence.recovered.found
    assert "recovery.none" in [r.code for r in verdict.reasons]

    # the registered image's mark on another photo: a copied mark, never its provenance
    copied = png(watermark.embed(photo("chelsea"), CID, key=identity.watermark_key))
    verdict = v.verify_bytes(copied, "copied.png")
    rec = verdict.evidence.recovered
    assert verdict.label == "copied-mark", verdict.reasons
    assert rec.copied_mark and not rec.found and rec.state is None

    # a store that cannot be used: a verdict from the other signals, saying so
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"\0garbage" * 512)
    verdict = verifier([str(broken)]).verify_bytes(jpeg(signed.read_bytes()), "repost.jpg")
    assert verdict.label == "ai-watermark"
    why = [r.text for r in verdict.reasons if r.code == "store.not-consulted"]
    assert why and str(broken) in why[0], verdict.reasons


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_policy_requiring_both_bindings_and_narrow_ekus(signed, store_url, identity, tmp_path):
    stripped = jpeg(signed.read_bytes())
    base = (tmp_path / "p.toml")
    text = ('name = "both"\npassing_actions = ["pass"]\n[watermark]\nenabled = false\n'
            '[store]\nrequire_both_bindings = {}\n')
    base.write_text(text.format("false"))
    verdict = verifier([store_url], base).verify_bytes(stripped, "repost.jpg")
    assert verdict.label == "recovered-ai" and verdict.evidence.recovered.matched_by == "fingerprint"
    base.write_text(text.format("true"))
    verdict = verifier([store_url], base).verify_bytes(stripped, "repost.jpg")
    assert verdict.label == "no-evidence"
    assert "recovery.bindings-disagree" in [r.code for r in verdict.reasons]

    # a signer outside the accepted EKUs is never trusted, embedded or recovered
    narrow = dataclasses.replace(TrustConfig.for_identity(identity),
                                 eku_oids=("1.3.6.1.4.1.311.76.59.1.9",))
    v = verifier([store_url], trust=narrow)
    assert v.verify(signed).evidence.c2pa.state == "valid"
    verdict = v.verify_bytes(stripped, "repost.jpg")
    assert verdict.evidence.recovered.state == "valid", verdict.evidence.recovered
    assert verdict.label == "ai-watermark"
    assert "recovery.untrusted" in [r.code for r in verdict.reasons]

    # --no-store: nothing looked up
    assert verifier([store_url], use_stores=False).verify_bytes(stripped, "r.jpg").evidence.recovered is None
