"""A trustgen mark from an issuer whose key this verifier does not hold: named by its public
layer (issue 17), never read as the content id, never mistaken for no evidence."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from trustgen import Verifier
from trustgen import watermark
from trustgen.evidence import Verdict

FOREIGN_KEY = b"another newsroom's key, 32 bytes"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("china.jpg")).resize((512, 384))


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_a_foreign_mark_names_its_issuer_under_its_own_label(identity, photo):
    verifier = Verifier("newsroom", detector=False)
    marked = watermark.embed(photo, "5eed0fc0ffee", key=FOREIGN_KEY)
    verdict = verifier.verify_bytes(jpeg(marked), "foreign.jpg")
    wm = verdict.evidence.watermark
    assert not wm.detected and wm.content_id is None  # the content id needs the key
    assert wm.public.present and wm.public.issuer == watermark.issuer_id(FOREIGN_KEY)
    assert not wm.public.key_held
    assert verdict.label == "issuer-watermark" and verdict.action == "needs-review"
    assert "watermark.issuer" in [r.code for r in verdict.reasons]
    assert Verdict.from_dict(verdict.to_dict()) == verdict


def test_own_marks_and_plain_photos_are_not_issuer_marks(identity, photo):
    verifier = Verifier("newsroom", detector=False)
    own = verifier.verify_bytes(jpeg(watermark.embed(photo, "5eed0fc0ffee",
                                                     key=identity.watermark_key)), "own.jpg")
    assert own.label == "ai-watermark" and own.evidence.watermark.public is None
    rotated = photo.rotate(7, resample=Image.BICUBIC, expand=True)
    plain = verifier.verify_bytes(jpeg(rotated), "plain.jpg")
    assert plain.label == "no-evidence"
    assert plain.evidence.watermark.public is not None and not plain.evidence.watermark.public.present
    assert np.isfinite(plain.evidence.watermark.public.p_value)
