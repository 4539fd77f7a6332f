"""Files for the report tests that the verification fixtures do not make: media trustgen cannot
render (WAV, PDF) signed with a claim thumbnail, as other vendors sign them, and a file whose
ingredients are nested several levels deep, each signed by trustgen."""

from __future__ import annotations

import io

from formats.samples import make  # tests/ is on sys.path
from PIL import Image

CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def wav() -> bytes:
    return make("wav")


def pdf() -> bytes:
    return make("pdf")


def jpeg(colour, size=(160, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def signed_with_thumbnail(identity, mime: str, data: bytes, title: str, thumbnail: bytes) -> bytes:
    """``data`` signed with c2pa-python directly, carrying ``thumbnail`` as its claim thumbnail
    (c2pa makes none itself for documents and sound)."""
    import c2pa

    definition = {
        "claim_generator_info": [{"name": "another-vendor", "version": "1.0"}],
        "title": title, "format": mime,
        "thumbnail": {"format": "image/jpeg", "identifier": "thumbnail.jpg"},
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": CAPTURE}]}}],
    }
    with c2pa.Builder(definition) as builder:
        builder.add_resource("thumbnail.jpg", io.BytesIO(thumbnail))
        out = io.BytesIO()
        builder.sign(identity.signer().c2pa_signer(), mime, io.BytesIO(data), out)
    return out.getvalue()


def nested(identity, image, depth: int) -> bytes:
    """A JPEG whose ingredient has an ingredient ... ``depth`` levels down, each signed."""
    from trustgen.credentials.sign import IngredientSource, sign_image
    from trustgen.media import encode_image

    data = sign_image(encode_image(image, "jpeg"), "jpeg", identity.signer(),
                      source_type="digitalCapture", title="level-0.jpg")
    for level in range(1, depth + 1):
        data = sign_image(encode_image(image, "jpeg"), "jpeg", identity.signer(),
                          source_type="digitalCapture", title=f"level-{level}.jpg",
                          ingredients=[IngredientSource(data, "jpeg", f"level-{level - 1}.jpg",
                                                        "componentOf")])
    return data
