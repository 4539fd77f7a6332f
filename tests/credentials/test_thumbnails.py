"""Manifest thumbnails: the claim thumbnail of every manifest and those of its ingredients, read
from c2pa's resources, and nothing at all for a file without a readable manifest."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from trustgen.credentials import thumbnails
from trustgen.credentials.thumbnails import ingredient_key, manifest_thumbnails


def _reader_json(data: bytes, mime: str) -> dict:
    import c2pa

    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        return json.loads(reader.json())


def test_claim_and_ingredient_thumbnails_of_a_nested_fixture(c2pa_fixtures):
    data = (c2pa_fixtures / "files" / "adobe-20220124-E-clm-CAICAI.jpg").read_bytes()
    report = _reader_json(data, "image/jpeg")
    found = manifest_thumbnails(data, "image/jpeg")

    assert found.active == report["active_manifest"]
    assert next(iter(found)) == found.active  # the active manifest's claim thumbnail first
    expected = set()
    for label, manifest in report["manifests"].items():
        expected.add(label)
        titles = [i.get("title") for i in manifest["ingredients"]]
        expected.update(ingredient_key(label, titles, n) for n in range(len(titles)))
    assert set(found) == expected and len(found) == 6  # 2 manifests, 2 ingredients each
    for mime, image in found.values():
        assert mime == "image/jpeg"
        with Image.open(io.BytesIO(image)) as img:
            assert img.format == "JPEG" and min(img.size) > 0


def test_ingredient_keys_fall_back_to_the_index():
    assert ingredient_key("m", ["a.jpg", "b.jpg"], 1) == "m/b.jpg"
    assert ingredient_key("m", ["a.jpg", "a.jpg"], 1) == "m/1"  # repeated title
    assert ingredient_key("m", [None, "b.jpg"], 0) == "m/0"


def test_no_readable_manifest_gives_no_thumbnails(c2pa_fixtures):
    files = c2pa_fixtures / "files"
    assert manifest_thumbnails((files / "no_manifest.jpg").read_bytes(), "image/jpeg") == {}
    assert manifest_thumbnails((files / "cloud.jpg").read_bytes(), "image/jpeg") == {}  # remote
    assert manifest_thumbnails(b"\xff\xd8 not a jpeg", "image/jpeg") == {}
    assert manifest_thumbnails((files / "sample3.svg").read_bytes(), "image/svg+xml") == {}  # damaged


def test_an_oversized_thumbnail_is_skipped(c2pa_fixtures, monkeypatch):
    data = (c2pa_fixtures / "files" / "CA.jpg").read_bytes()
    sizes = {key: len(image) for key, (_, image) in manifest_thumbnails(data, "image/jpeg").items()}
    limit = min(sizes.values()) + 1  # only the smallest fits
    monkeypatch.setattr(thumbnails, "MAX_THUMBNAIL_BYTES", limit)
    capped = manifest_thumbnails(data, "image/jpeg")
    assert set(capped) == {key for key, n in sizes.items() if n <= limit} and len(capped) == 1


@pytest.mark.parametrize("mime, make", [("audio/wav", "wav"), ("application/pdf", "pdf")])
def test_thumbnail_of_media_trustgen_cannot_render(identity, mime, make):
    from verification import report_samples as samples

    thumb = samples.jpeg((200, 40, 40))
    data = samples.signed_with_thumbnail(identity, mime, getattr(samples, make)(), "x", thumb)
    found = manifest_thumbnails(data, mime)
    assert list(found.values()) == [("image/jpeg", thumb)]
    assert list(found) == [found.active]
