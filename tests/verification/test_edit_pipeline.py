"""End to end: tiny random-weight inpainting and img2img pipelines (saved with save_pretrained,
loaded through TrustedPipeline) edit a C2PA-signed photo. Verification calls the inpainting an
AI-edited trusted capture with the region the mask selected, in output pixels, and the img2img
output an AI image made from that photo, not the photo."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

MASK_BOX = (32, 16, 48, 40)  # x, y, w, h in the 128 px source's pixels


@pytest.fixture(scope="module")
def capture(identity, sample_photo) -> bytes:
    from trustgen.credentials.sign import sign_image
    from trustgen.media import encode_image

    return sign_image(encode_image(sample_photo("china.jpg", 128), "jpeg"), "jpeg",
                      identity.signer(), source_type="digitalCapture", title="photo.jpg")


def tiny(kind: str, tmp_path_factory):
    import torch
    from tiny_pipelines import save_family

    from trustgen.generate import TrustedPipeline

    torch.set_num_threads(1)
    return TrustedPipeline.from_pretrained(
        save_family(kind, tmp_path_factory.mktemp("pipelines") / f"tiny-{kind}"))


@pytest.fixture(scope="module")
def inpainted(capture, tmp_path_factory):
    mask = np.zeros((128, 128), np.uint8)
    x, y, w, h = MASK_BOX
    mask[y:y + h, x:x + w] = 255
    (out,) = tiny("inpaint", tmp_path_factory)(
        "a red door", image=capture, mask_image=Image.fromarray(mask), num_inference_steps=2,
        seed=3, output_format="jpeg")
    path = tmp_path_factory.mktemp("inpainted") / "inpainted.jpg"
    path.write_bytes(out.data)
    return path, out


def test_an_inpainting_of_a_signed_photo_verifies_as_an_ai_edited_capture(inpainted):
    from trustgen.report import render_html
    from trustgen.verify import Verifier

    path, out = inpainted
    scale = out.image.width / 128
    region = tuple(v * scale for v in MASK_BOX)
    v = Verifier("default", detector=False).verify(path)
    assert (v.label, v.action) == ("ai-edited-capture", "pass"), v.reasons
    (edit,) = v.evidence.c2pa.ai_edits
    assert (edit.regions[0].x, edit.regions[0].y, edit.regions[0].width, edit.regions[0].height) == region
    assert edit.model == out.provenance.model_id
    x, y, w, h = region  # the generation record agrees with the action
    assert v.evidence.c2pa.trustgen["region"] == {"x": x, "y": y, "width": w, "height": h}
    said = next(r.text for r in v.reasons if r.code == "c2pa.ai-edited-capture")
    assert "region ({:g}, {:g}, {:g}, {:g})".format(*region) in said
    assert v.evidence.watermark.content_id == out.provenance.content_id
    html = render_html([v]).decode()
    assert html.count('<div class="region"') == 1 and 'class="thumb source small"' in html


def test_an_img2img_of_a_signed_photo_is_not_that_photo(capture, tmp_path_factory):
    from trustgen.verify import Verifier

    (out,) = tiny("img2img", tmp_path_factory)("in the style of a postcard", image=capture,
                                               strength=0.6, num_inference_steps=2, seed=3,
                                               output_format="jpeg")
    path = tmp_path_factory.mktemp("img2img") / "restyled.jpg"
    path.write_bytes(out.data)
    v = Verifier("default", detector=False).verify(path)
    assert v.label == "trusted-ai", v.reasons
    said = next(r.text for r in v.reasons if r.code == "c2pa.ai-regenerated")
    assert "(trusted capture by " in said and said.endswith("it is not that picture, only made from it.")
    assert v.evidence.c2pa.ai_edits[0].regions == () and not v.evidence.c2pa.ai_edits[0].composite
