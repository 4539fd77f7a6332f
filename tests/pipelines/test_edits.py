"""An inpainting edit of a C2PA-signed photo: the photo's manifest stays in the chain, the mask
is an input, and the generated region is in the edit action and in the generation record."""

from __future__ import annotations

import hashlib
import io

import pytest
from tiny_pipelines import mask, photo

from trustgen.credentials.read import read_credentials
from trustgen.credentials.sign import sign_image
from trustgen.credentials.trust import TrustConfig
from trustgen.errors import InputError
from trustgen.evidence import Region
from trustgen.generate import TrustedPipeline

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@pytest.fixture(scope="module")
def inpaint(family_folder, identity):
    return TrustedPipeline.from_pretrained(family_folder("inpaint"), identity=identity,
                                           register=False, progress_bar=False)


@pytest.fixture(scope="module")
def signed_photo(identity, tmp_path_factory):
    """A camera photo with its own content credentials (digitalCapture), on disk."""
    buf = io.BytesIO()
    photo(7).save(buf, "PNG")
    path = tmp_path_factory.mktemp("photo") / "street.png"
    path.write_bytes(sign_image(buf.getvalue(), "png", identity.signer(),
                                source_type="digitalCapture", title="street.png"))
    return path


def test_inpainting_a_signed_photo_keeps_the_chain_and_records_the_region(
        inpaint, signed_photo, identity, tmp_path):
    mask_file = tmp_path / "m.png"
    mask().save(mask_file)
    (result,) = inpaint("a red door", image=signed_photo, mask_image=mask_file, strength=1.0,
                        num_inference_steps=2, seed=9)
    manifest = read_credentials(result.data, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "trusted", manifest.codes
    assert manifest.actions == ("c2pa.opened", "c2pa.edited", "c2pa.watermarked")
    assert manifest.digital_source_type == IPTC + "compositeWithTrainedAlgorithmicMedia"
    parent, used = manifest.ingredients
    # the photo's own manifest validates inside the edit's: the capture is still attested
    assert (parent.title, parent.relationship, parent.has_manifest) == ("street.png", "parentOf", True)
    assert parent.codes == () and parent.digital_source_type == IPTC + "digitalCapture"
    assert (used.title, used.relationship) == ("mask.png", "inputTo")

    # the mask covers x 32..79, y 40..95 of 128 px; the output is 512 px (enlarged 4x to mark it)
    (edit,) = manifest.ai_edits
    assert edit.regions == (Region(128, 160, 192, 224),)
    assert edit.model == "inpaint" and edit.description == "inpainted with inpaint"
    prov = result.provenance
    assert prov.region == {"x": 128, "y": 160, "width": 192, "height": 224}
    assert manifest.trustgen["region"] == prov.region
    assert prov.source_sha256 == hashlib.sha256(signed_photo.read_bytes()).hexdigest()
    assert prov.mask_sha256 == hashlib.sha256(mask_file.read_bytes()).hexdigest()
    assert (prov.task, prov.strength) == ("inpainting", 1.0)


def test_img2img_of_a_signed_photo_regenerates_the_whole_image(family_folder, signed_photo, identity):
    pipe = TrustedPipeline.from_pretrained(family_folder("img2img"), identity=identity,
                                           register=False, progress_bar=False)
    (result,) = pipe("in the style of a woodcut", image=signed_photo.read_bytes(), strength=0.5,
                     num_inference_steps=2, seed=2)
    manifest = read_credentials(result.data, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "trusted"
    assert manifest.digital_source_type == IPTC + "trainedAlgorithmicMedia"
    (edit,) = manifest.ai_edits
    assert edit.regions == () and edit.description == "regenerated (img2img) with img2img"
    (parent,) = manifest.ingredients
    assert parent.relationship == "parentOf" and parent.has_manifest and not parent.codes
    assert result.provenance.region is None and result.provenance.strength == 0.5


def test_edit_inputs_are_checked_before_sampling(inpaint, tmp_path):
    with pytest.raises(InputError, match="give a mask"):
        inpaint("x", image=photo(1), num_inference_steps=2)
    with pytest.raises(InputError, match="selects nothing"):
        inpaint("x", image=photo(1), mask_image=mask().point(lambda _: 0), num_inference_steps=2)
    with pytest.raises(InputError, match="the mask is 64x64 but the source is 128x128"):
        inpaint("x", image=photo(1), mask_image=mask(64), num_inference_steps=2)
    with pytest.raises(InputError, match="strength must be in"):
        inpaint("x", image=photo(1), mask_image=mask(), strength=1.5, num_inference_steps=2)
    with pytest.raises(InputError, match="edits an image"):
        inpaint("x", num_inference_steps=2)
    with pytest.raises(InputError, match="give no height or width"):
        inpaint("x", image=photo(1), mask_image=mask(), height=64, num_inference_steps=2)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="notes.txt"):
        inpaint("x", image=tmp_path / "notes.txt", mask_image=mask(), num_inference_steps=2)
    with pytest.raises(InputError, match="no such file|not found|does not exist"):
        inpaint("x", image=tmp_path / "missing.png", mask_image=mask(), num_inference_steps=2)
