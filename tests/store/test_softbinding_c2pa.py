"""The soft-binding assertions and the c2pa.watermarked action go through c2pa-rs (signed by
c2pa.Builder, read back by c2pa.Reader) unchanged, and parse back to the same values."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from store.helpers import active_manifest, definition, sign_png
from trustgen import fingerprint as fp
from trustgen import softbinding as sb
from trustgen.errors import InputError


def test_assertions_round_trip_through_c2pa(signed):
    item = signed.items[0]
    bindings = [sb.watermark_binding(item.content_id, key="sha256:0123456789abcdef", scheme="trustgen"),
                sb.fingerprint_binding(item.fingerprint)]
    written = [sb.assertion(b) for b in bindings]
    buf = io.BytesIO()
    item.image.save(buf, "PNG")
    data = sign_png(buf.getvalue(), definition(written, [sb.watermarked_action({"name": "trustgen"})]),
                    signed.signer)
    manifest = active_manifest(data)
    read = [a for a in manifest["assertions"] if a["label"] == sb.LABEL]
    assert [a["data"] for a in read] == [a["data"] for a in written]
    assert read[0]["data"]["alg"] == "org.trustgen.watermark.1"
    assert read[0]["data"]["blocks"] == [{"scope": {}, "value": sb.watermark_value(item.content_id)}]
    assert read[1]["data"]["alg"] == fp.ALG
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert [a["action"] for a in actions["data"]["actions"]] == ["c2pa.created", "c2pa.watermarked"]
    assert sb.from_assertions(manifest["assertions"]) == tuple(bindings)
    assert sb.content_id(sb.from_assertions(manifest["assertions"])[0].value) == item.content_id


def test_values_are_checked():
    with pytest.raises(InputError):
        sb.watermark_value("5eed0fc0ff")  # 10 hex digits
    with pytest.raises(InputError):
        sb.decode_value("not base64!")
    with pytest.raises(InputError):
        sb.fingerprint_value(b"\0" * 31)
    assert sb.parse_params(sb.format_params({"key": "public", "scheme": "trustgen"})) == \
        {"key": "public", "scheme": "trustgen"}
    # malformed assertions are skipped, not fatal: they cannot be looked up anyway
    assert sb.from_assertions([{"label": sb.LABEL, "data": {"blocks": []}}, {"label": sb.LABEL},
                               {"label": sb.LABEL, "data": {"alg": "x", "blocks": [{"value": 3}]}}]) == ()


def test_fingerprint_finds_copies_not_other_pictures(signed):
    a, b = signed.items[0], signed.items[1]
    buf = io.BytesIO()
    a.image.resize((300, 300)).save(buf, "JPEG", quality=60)
    copy = fp.compute(Image.open(buf))
    assert copy.distance(a.fingerprint) <= fp.MAX_DISTANCE
    assert b.fingerprint.distance(a.fingerprint) >= fp.UNRELATED_DISTANCE
    mirrored = fp.dihedral(a.image.transpose(Image.FLIP_LEFT_RIGHT))
    assert min(p.distance(a.fingerprint) for p in mirrored) <= fp.MAX_DISTANCE
    flat = fp.compute(Image.new("RGB", (256, 256), (120, 120, 120)))
    assert not flat.usable


def test_same_picture_survives_crops_and_rotation_not_another_photo(signed):
    from store.helpers import photo

    a = signed.items[0].image
    thumb = a.copy()
    thumb.thumbnail((256, 256))
    w, h = a.size
    assert fp.same_picture(a.crop((w // 10, h // 10, w - w // 10, h - h // 10)), thumb)
    assert fp.same_picture(a.rotate(10, resample=Image.BICUBIC), thumb)
    assert fp.same_picture(a.transpose(Image.FLIP_LEFT_RIGHT), thumb)
    assert not fp.same_picture(photo("rocket"), thumb)
    assert not fp.same_picture(signed.items[1].image, thumb)
