"""Sign -> read round trips: every format and key kind, parents, edits, tampering, stripping."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from trustgen.credentials.read import read_credentials
from trustgen.credentials.sign import IngredientSource, sign_generated, sign_image
from trustgen.credentials.trust import TrustConfig
from trustgen.errors import InputError, SigningError
from trustgen.evidence import Provenance

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
FORMATS = ("jpeg", "png", "webp")


def _trust(chain) -> TrustConfig:
    return TrustConfig.from_files([chain.root])


def _provenance(content_id="0123456789abcdef") -> Provenance:
    return Provenance(content_id=content_id, model_id="tiny-ddim", model_sha256="ab" * 32,
                      pipeline="DDIMPipeline", scheduler="DDIMScheduler", steps=2,
                      guidance_scale=None, seed=7, width=96, height=96, prompt_sha256=None)


def _resave(data: bytes, fmt: str, *, crop: bool = False) -> bytes:
    img = Image.open(io.BytesIO(data))
    img = img.crop((0, 0, img.width // 2, img.height // 2)) if crop else img
    buf = io.BytesIO()
    img.save(buf, {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt])
    return buf.getvalue()


@pytest.mark.parametrize("alg", ["es256", "ps256", "ed25519"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_with_and_without_parent(fmt, alg, chains, signers, make_image):
    trust = _trust(chains[alg])
    data = make_image(fmt)
    signed = sign_image(data, fmt, signers[alg], source_type="digitalCapture", title=f"a.{fmt}")
    ev = read_credentials(signed, trust=trust)
    assert (ev.state, ev.codes, ev.embedded) == ("trusted", (), True)
    assert ev.actions == ("c2pa.created",) and ev.digital_source_type == IPTC + "digitalCapture"
    assert ev.signer.algorithm == alg and ev.signer.common_name == f"test signer {alg}"
    assert ev.ingredients == ()

    edited = _resave(signed, fmt, crop=True)  # an edit drops the manifest
    child = sign_image(edited, fmt, signers[alg], parent=(signed, fmt, f"a.{fmt}"),
                       actions=["c2pa.cropped:top-left quarter"], title=f"b.{fmt}")
    ev = read_credentials(child, trust=trust)
    assert (ev.state, ev.codes) == ("trusted", ())
    assert ev.actions == ("c2pa.opened", "c2pa.cropped")
    (parent,) = ev.ingredients
    assert (parent.title, parent.relationship, parent.codes, parent.has_manifest) == (
        f"a.{fmt}", "parentOf", (), True)


def test_generated_image_manifest(signers, chains, make_image):
    import c2pa

    signed = sign_generated(make_image("png", size=512), "png", _provenance(), signers["es256"])
    ev = read_credentials(signed, trust=_trust(chains["es256"]))
    assert ev.state == "trusted"
    assert ev.actions == ("c2pa.created",)
    assert ev.digital_source_type == IPTC + "trainedAlgorithmicMedia"
    assert ev.declares_ai
    assert ev.trustgen == _provenance().to_dict()
    assert ev.claim_generator.startswith("trustgen/")

    reader = c2pa.Reader("image/png", io.BytesIO(signed))
    manifest = json.loads(reader.json())
    active = manifest["manifests"][manifest["active_manifest"]]
    by_label = {a["label"]: a.get("data") for a in active["assertions"]}
    agent = by_label["c2pa.actions.v2"]["actions"][0]["softwareAgent"]
    assert agent["name"] == "trustgen" and agent["org.trustgen.model"] == "tiny-ddim"
    uses = {k: v["use"] for k, v in by_label["cawg.training-mining"]["entries"].items()}
    assert set(uses.values()) == {"notAllowed"} and "cawg.ai_generative_training" in uses
    thumb = io.BytesIO()
    reader.resource_to_stream(active["thumbnail"]["identifier"], thumb)
    assert max(Image.open(thumb).size) <= 256


def test_generated_options_thumbnail_off_and_training_allowed(signers, chains, make_image):
    import c2pa

    data = make_image("jpeg", size=512)
    with_thumb = sign_generated(data, "jpeg", _provenance(), signers["es256"])
    bare = sign_generated(data, "jpeg", _provenance(), signers["es256"], thumbnail=False,
                          training_mining="allowed")
    assert len(bare) < len(with_thumb)
    manifest = json.loads(c2pa.Reader("image/jpeg", io.BytesIO(bare)).json())
    active = manifest["manifests"][manifest["active_manifest"]]
    assert "thumbnail" not in active
    mining = next(a for a in active["assertions"] if a["label"] == "cawg.training-mining")
    assert {v["use"] for v in mining["data"]["entries"].values()} == {"allowed"}
    with pytest.raises(InputError, match="training_mining"):
        sign_generated(data, "jpeg", _provenance(), signers["es256"], training_mining="maybe")


def test_resigning_edited_generated_image_keeps_generated_parent(signers, chains, make_image):
    """A newsroom crops a trustgen image and signs the crop: the generation manifest is the parent."""
    generated = sign_generated(make_image("png"), "png", _provenance("feedfacefeedface"), signers["es256"])
    crop = _resave(generated, "png", crop=True)
    assert read_credentials(crop, trust=_trust(chains["es256"])).state == "absent"
    resigned = sign_image(crop, "png", signers["ps256"], title="crop.png",
                          ingredients=[IngredientSource(generated, "png", "generated.png", "parentOf")],
                          actions=["cropped"])
    trust = _trust(chains["es256"]).merged(_trust(chains["ps256"]))
    ev = read_credentials(resigned, trust=trust)
    assert (ev.state, ev.actions) == ("trusted", ("c2pa.opened", "c2pa.cropped"))
    (parent,) = ev.ingredients
    assert (parent.title, parent.relationship, parent.has_manifest, parent.codes) == (
        "generated.png", "parentOf", True, ())
    # the parent's own manifest travels inside: the generation record is still readable
    import c2pa

    store = json.loads(c2pa.Reader("image/png", io.BytesIO(resigned)).json())
    records = [a["data"] for m in store["manifests"].values() for a in m["assertions"]
               if a["label"] == "org.trustgen.generation"]
    assert [r["content_id"] for r in records] == ["feedfacefeedface"]


def test_signing_a_credentialed_image_opens_it_as_parent(signers, chains, make_image):
    first = sign_image(make_image("jpeg"), "jpeg", signers["es256"], source_type="digitalCapture")
    second = sign_image(first, "jpeg", signers["es256"], actions=["c2pa.color_adjustments:warmer"],
                        source_type="compositeWithTrainedAlgorithmicMedia", path="photo.jpg")
    ev = read_credentials(second, trust=_trust(chains["es256"]))
    assert ev.state == "trusted"
    assert ev.actions == ("c2pa.opened", "c2pa.color_adjustments")
    assert ev.digital_source_type == IPTC + "compositeWithTrainedAlgorithmicMedia"
    assert [(i.title, i.relationship, i.has_manifest) for i in ev.ingredients] == [("photo.jpg", "parentOf", True)]
    with pytest.raises(InputError, match="at most one parent"):
        sign_image(first, "jpeg", signers["es256"], parent=(first, "jpeg", "x.jpg"))


def test_component_and_input_ingredients(signers, chains, make_image):
    base = make_image("png", seed=1)
    sources = [IngredientSource(make_image("jpeg", seed=2), "jpeg", "logo.jpg", "componentOf"),
               IngredientSource(make_image("png", seed=3), "png", "init.png", "inputTo")]
    signed = sign_image(base, "png", signers["es256"], source_type="compositeWithTrainedAlgorithmicMedia",
                        ingredients=sources, actions=["placed"])
    ev = read_credentials(signed, trust=_trust(chains["es256"]))
    assert ev.state == "trusted"
    assert [(i.title, i.relationship) for i in ev.ingredients] == [("logo.jpg", "componentOf"), ("init.png", "inputTo")]
    assert ev.actions == ("c2pa.created", "c2pa.placed")


def test_tampered_ingredient_shows_inside_trusted_file(signers, chains, c2pa_fixtures, make_image):
    xca = (c2pa_fixtures / "files" / "XCA.jpg").read_bytes()  # pixels changed after signing
    signed = sign_image(make_image("jpeg"), "jpeg", signers["es256"], source_type="composite",
                        ingredients=[IngredientSource(xca, "jpeg", "XCA.jpg", "componentOf")])
    trust = _trust(chains["es256"]).merged(
        TrustConfig.from_files([c2pa_fixtures / "trust" / "test_cert_root_bundle.pem"]))
    ev = read_credentials(signed, trust=trust)
    assert ev.state == "trusted" and ev.codes == ()
    assert "assertion.dataHash.mismatch" in ev.ingredient_codes


@pytest.mark.parametrize("fmt", FORMATS)
def test_pixel_change_after_signing_is_invalid(fmt, signers, chains, make_image):
    signed = bytearray(sign_image(make_image(fmt), fmt, signers["es256"], source_type="digitalCapture"))
    pixels = {"jpeg": b"\xff\xda", "png": b"IDAT", "webp": b"VP8"}[fmt]  # start of the image data
    signed[signed.rindex(pixels) + 60] ^= 0x55  # rindex: the thumbnail inside the manifest comes first
    ev = read_credentials(bytes(signed), trust=_trust(chains["es256"]))
    assert ev.state == "invalid" and "assertion.dataHash.mismatch" in ev.codes


@pytest.mark.parametrize("fmt", FORMATS)
def test_resaving_strips_the_manifest(fmt, signers, chains, make_image):
    signed = sign_image(make_image(fmt), fmt, signers["es256"], source_type="digitalCapture")
    ev = read_credentials(_resave(signed, fmt), trust=_trust(chains["es256"]))
    assert ev.state == "absent" and ev.reason


def test_unrelated_root_is_valid_never_trusted(signers, chains, make_chain_at, make_image):
    signed = sign_image(make_image("png"), "png", signers["es256"], source_type="digitalCapture")
    stranger = make_chain_at()
    for trust in (TrustConfig(), TrustConfig.from_files([stranger.root])):
        ev = read_credentials(signed, trust=trust)
        assert ev.state == "valid" and ev.codes == ("signingCredential.untrusted",)


def test_eku_list_decides_trust(make_chain_at, make_image):
    from trustgen.credentials.keys import load_signer

    c2pa_only = make_chain_at(ekus=("1.3.6.1.4.1.62558.2.1",))  # C2PA claim signing EKU alone
    signed = sign_image(make_image("png"), "png", load_signer(c2pa_only.key, c2pa_only.chain),
                        source_type="digitalCapture")
    assert read_credentials(signed, trust=_trust(c2pa_only)).state == "trusted"
    narrow = TrustConfig(anchors_pem=c2pa_only.root.read_text(), eku_oids=("1.3.6.1.5.5.7.3.36",))
    assert read_credentials(signed, trust=narrow).state != "trusted"


def test_es384_and_signers_are_safe_across_threads(signers, chains, make_image):
    trust = _trust(chains["es384"])
    images = [make_image("jpeg", seed=s) for s in range(8)]

    def work(data):
        return read_credentials(sign_image(data, "jpeg", signers["es384"], source_type="digitalCapture"),
                                trust=trust).state

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, images)) == ["trusted"] * 8


def test_unsupported_and_broken_inputs_are_refused(signers, make_image):
    with pytest.raises(SigningError, match="cannot embed content credentials into psd files"):
        sign_image(b"8BPS" + b"\0" * 60, None, signers["es256"], source_type="digitalCapture", path="x.psd")
    with pytest.raises(InputError, match="source type"):
        sign_image(make_image("png"), "png", signers["es256"])
    with pytest.raises(InputError, match="unknown digital source type"):
        sign_image(make_image("png"), "png", signers["es256"], source_type="photo")
    with pytest.raises(InputError, match="unknown action"):
        sign_image(make_image("png"), "png", signers["es256"], source_type="digitalCapture", actions=["c2pa.smudged"])
    truncated = make_image("jpeg")[:-300]
    with pytest.raises(InputError, match="t.jpg"):
        sign_image(truncated, "jpeg", signers["es256"], source_type="digitalCapture", path="t.jpg")


def test_ingredient_must_be_a_recognised_file(signers, make_image):
    notes = IngredientSource(b"just text", None, "notes.txt", "componentOf")
    with pytest.raises(InputError, match="notes.txt: ingredient is not a recognised image file"):
        sign_image(make_image("png"), "png", signers["es256"], source_type="composite", ingredients=[notes])
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    ok = sign_image(make_image("png"), "png", signers["es256"], source_type="composite",
                    ingredients=[IngredientSource(gif.getvalue(), "gif", "icon.gif", "componentOf")])
    assert read_credentials(ok, trust=TrustConfig()).ingredients[0].title == "icon.gif"
