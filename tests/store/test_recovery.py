"""Recovering stripped credentials: real signed files, their manifests in a real store, stripped
and re-encoded copies looked up by watermark and fingerprint and validated by c2pa as detached
manifests."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from store.helpers import photo
from trustgen import watermark as wm
from trustgen.credentials import TrustConfig
from trustgen.recovery import recover
from trustgen.store import Registration, open_store
from trustgen.store.ingest import registration_file

BOUND = wm.FALSE_ALARM


@pytest.fixture
def store(store_url, signed):
    with open_store(store_url) as s:
        for item in signed.items:
            s.add(registration_file(item.path))
        yield s


def _stripped(image: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)  # no metadata: credentials gone
    return buf.getvalue()


def _recover(data: bytes, stores, trust, *, key=None, bound=BOUND):
    image = Image.open(io.BytesIO(data))
    reading = wm.detect(image, keys=[key] if key else ())
    return recover(data, image, reading, None, stores, trust=trust, max_p_value=bound)


def test_stripped_copy_is_recovered_by_both_bindings(store, signed):
    item = signed.items[0]
    data = _stripped(item.image)
    found = _recover(data, [store], signed.trust, key=item.key)
    assert (found.matched_by, found.manifest_id) == ("both", item.manifest_id)
    assert found.bindings_agree and not found.copied_mark
    assert found.content_id == item.content_id and found.watermark_p_value < BOUND
    assert found.fingerprint_distance <= 31
    # the hard binding cannot match a re-encoded copy: pixels changed, not tampering
    assert found.pixels_match is False and "assertion.dataHash.mismatch" in found.manifest.codes
    assert found.state == "trusted" and found.codes == ()
    assert found.manifest.digital_source_type.endswith("trainedAlgorithmicMedia")
    untrusted = _recover(data, [store], TrustConfig(), key=item.key)
    assert untrusted.state == "valid" and untrusted.codes == ("signingCredential.untrusted",)


def test_watermark_only_counts_when_it_passes_the_bound(store, signed):
    item = signed.items[1]
    data = _stripped(item.image)
    found = _recover(data, [store], signed.trust, key=item.key, bound=1e-300)
    assert found.matched_by == "fingerprint" and found.watermark_p_value is None
    # without the private key the mark is not read at all: the fingerprint still finds it
    assert _recover(data, [store], signed.trust).matched_by == "fingerprint"


def test_mirrored_copy_is_found_by_a_dihedral_fingerprint(store, signed):
    item = signed.items[2]
    found = _recover(_stripped(item.image.transpose(Image.FLIP_LEFT_RIGHT)), [store], signed.trust)
    assert found.manifest_id == item.manifest_id and found.fingerprint_variant != 0


def test_copied_mark_is_never_recovered_provenance(store, signed):
    """The copy attack: the mark of a registered image on another photo."""
    item = signed.items[0]
    other = wm.embed(photo("rocket"), item.content_id, key=item.key)
    found = _recover(_stripped(other), [store], signed.trust, key=item.key)
    assert found.matched_by is None and found.manifest_id is None
    assert found.copied_mark and found.copied_from == item.manifest_id


def test_cropped_copy_is_recovered_by_its_watermark_not_called_copied(store, signed):
    """A 20% crop moves PDQ as far as another picture does; the manifest's thumbnail tells."""
    item = signed.items[1]
    w, h = item.image.size
    cropped = item.image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    found = _recover(_stripped(cropped), [store], signed.trust, key=item.key)
    assert found.fingerprint_distance >= 64  # PDQ alone would call it another picture
    assert (found.matched_by, found.manifest_id, found.copied_mark) == ("watermark", item.manifest_id, False)


def test_unregistered_image_finds_nothing(store, signed):
    found = _recover(_stripped(photo("camera")), [store], signed.trust)
    assert found.matched_by is None and not found.copied_mark and found.unavailable == ()


def test_an_unreachable_store_is_reported_and_the_others_still_asked(store, signed, tmp_path):
    broken = tmp_path / "broken.db"
    open_store(broken).close()

    class Gone:
        location = "postgresql://db.example/manifests"

        def by_binding(self, *a, **k):
            from trustgen.store import StoreError
            raise StoreError("cannot reach the manifest store at postgresql://db.example/manifests")

        by_fingerprint = get = by_binding

    item = signed.items[0]
    found = _recover(_stripped(item.image), [Gone(), store], signed.trust, key=item.key)
    assert found.manifest_id == item.manifest_id
    assert len(found.unavailable) == 1 and "cannot reach" in found.unavailable[0]


def test_a_tampered_stored_manifest_is_never_trusted(tmp_path, signed):
    item = signed.items[0]
    good = registration_file(item.path)
    tampered = bytearray(good.store_bytes)
    at = tampered.find(b"test signer es256")  # inside the signing certificate
    tampered[at] ^= 0x01
    with open_store(tmp_path / "t.db") as s:
        s.add(Registration(good.manifest_id, bytes(tampered), good.asset_sha256, good.signer,
                           None, good.soft_bindings, good.fingerprint))
        found = _recover(_stripped(item.image), [s], signed.trust, key=item.key)
    assert found.manifest_id == item.manifest_id
    assert found.state not in ("trusted", "valid")
