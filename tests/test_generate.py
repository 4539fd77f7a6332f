"""TrustedPipeline end to end on tiny real pipelines: sample, watermark, sign, verify."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from trustgen import watermark
from trustgen.credentials.read import read_credentials
from trustgen.credentials.trust import TrustConfig
from trustgen.errors import InputError
from trustgen.generate import TrustedPipeline

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@pytest.fixture(scope="module")
def unconditional(tiny_unconditional, identity):
    return TrustedPipeline.from_pretrained(tiny_unconditional, identity=identity)


@pytest.fixture(scope="module")
def text_to_image(tiny_text_to_image, identity):
    return TrustedPipeline.from_pretrained(tiny_text_to_image, identity=identity)


@pytest.fixture(scope="module")
def unconditional_pair(unconditional):
    return unconditional(num_images=2, num_inference_steps=2, seed=11)


def _pixels(result) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"), dtype=np.float32)


def _as_written(sample: np.ndarray) -> np.ndarray:
    """A sample enlarged as ``generate`` enlarges it before marking (watermark.marking_size)."""
    from trustgen.watermark import marking_size

    image = Image.fromarray(np.clip(sample, 0, 255).round().astype(np.uint8))
    return np.asarray(image.resize(marking_size(*image.size), Image.LANCZOS), dtype=np.float32)


def test_unconditional_outputs_are_signed_and_watermarked(unconditional_pair, identity):
    trust = TrustConfig.for_identity(identity)
    for result in unconditional_pair:
        prov = result.provenance
        # the tiny model samples 256 px; generate writes 512 px, where the mark is robust
        assert (prov.width, prov.height) == (512, 512)
        assert Image.open(io.BytesIO(result.data)).size == (512, 512)
        assert prov.pipeline == "DDIMPipeline" and prov.scheduler == "DDIMScheduler"
        assert prov.steps == 2 and prov.prompt_sha256 is None
        assert len(prov.model_sha256) == 64
        manifest = read_credentials(result.data, fmt="png", trust=trust)
        assert manifest.state == "trusted", manifest
        assert manifest.digital_source_type == AI
        assert "c2pa.created" in manifest.actions
        assert manifest.trustgen["content_id"] == prov.content_id
        mark = watermark.detect(Image.open(io.BytesIO(result.data)), keys=[identity.watermark_key])
        assert mark.detected and mark.content_id == prov.content_id
    assert [r.provenance.seed for r in unconditional_pair] == [11, 12]
    assert unconditional_pair[0].provenance.content_id != unconditional_pair[1].provenance.content_id


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


def test_same_seed_same_image_other_seed_other_image(unconditional, unconditional_pair):
    def sample(seeds):
        return [np.asarray(im, dtype=np.float32)
                for im in unconditional.sample(seeds=seeds, num_inference_steps=2)]

    raw = sample([11, 12])
    again = sample([11, 12])
    assert all(np.array_equal(a, b) for a, b in zip(raw, again))
    # A seed's image does not depend on its batch neighbours; batched float kernels may round
    # differently, so a pixel may move by one level, no more.
    (alone,) = sample([11])
    assert np.abs(alone - raw[0]).max() <= 1.0
    assert np.abs(raw[0] - raw[1]).mean() > 5.0
    # The outputs are those samples plus an invisible mark.
    assert _psnr(_pixels(unconditional_pair[0]), _as_written(raw[0])) > 35
    assert _psnr(_pixels(unconditional_pair[1]), _as_written(raw[1])) > 35


def test_prompt_reaches_text_to_image_pipeline(text_to_image, identity):
    def sample(prompt):
        (image,) = text_to_image.sample(prompt, seeds=[3], num_inference_steps=2,
                                        guidance_scale=7.0)
        return np.asarray(image, dtype=np.float32)

    cat = sample("a cat")
    assert np.array_equal(cat, sample("a cat"))
    assert np.abs(cat - sample("a ship at sea")).mean() > 0.1
    result = text_to_image("a cat", num_images=1, num_inference_steps=2, seed=3,
                           guidance_scale=7.0)[0]
    prov = result.provenance
    if prov.latent_watermark:  # where watermark.latent can read it: the same noise, marked
        (marked,) = text_to_image.sample("a cat", seeds=[3], num_inference_steps=2,
                                         guidance_scale=7.0, content_ids=[prov.content_id])
        cat = np.asarray(marked, dtype=np.float32)
    assert _psnr(_pixels(result), _as_written(cat)) > 35
    assert prov.prompt is None
    assert prov.prompt_sha256 == hashlib.sha256(b"a cat").hexdigest()
    assert prov.guidance_scale == 7.0 and prov.pipeline == "StableDiffusionPipeline"
    manifest = read_credentials(result.data, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "trusted"
    assert manifest.trustgen["prompt_sha256"] == prov.prompt_sha256


def test_prompt_recorded_only_on_request(tiny_text_to_image, identity):
    pipe = TrustedPipeline.from_pretrained(tiny_text_to_image, identity=identity, record_prompt=True)
    result = pipe("a cat", num_inference_steps=1, seed=1, output_format="jpeg")[0]
    assert result.provenance.prompt == "a cat"
    assert result.data[:3] == b"\xff\xd8\xff"


def test_prompt_to_unconditional_model_is_an_input_error(unconditional):
    with pytest.raises(InputError, match="unconditional"):
        unconditional("a cat", num_inference_steps=1)


def test_pixel_change_after_signing_is_invalid(unconditional_pair, identity):
    signed = unconditional_pair[0].data
    pixels = np.array(Image.open(io.BytesIO(signed)).convert("RGB"))
    pixels[10, 10] = 255 - pixels[10, 10]
    tampered = _replace_png_pixels(signed, Image.fromarray(pixels))
    manifest = read_credentials(tampered, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "invalid"
    assert "assertion.dataHash.mismatch" in manifest.codes


def test_stripped_manifest_keeps_watermark(unconditional_pair, identity):
    result = unconditional_pair[1]
    buf = io.BytesIO()
    Image.open(io.BytesIO(result.data)).save(buf, "PNG")  # Pillow drops the C2PA chunk
    manifest = read_credentials(buf.getvalue(), fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "absent"
    mark = watermark.detect(Image.open(buf), keys=[identity.watermark_key])
    assert mark.detected and mark.content_id == result.provenance.content_id


def test_missing_and_malformed_model_folders(tmp_path, identity):
    with pytest.raises(InputError, match="no such model folder"):
        TrustedPipeline.from_pretrained(tmp_path / "nope", identity=identity)
    with pytest.raises(InputError, match="model_index.json"):
        TrustedPipeline.from_pretrained(tmp_path, identity=identity)
    (tmp_path / "model_index.json").write_text('{"_class_name": "DDIMPipeline", "unet": ["diffusers", "UNet2DModel"]}')
    with pytest.raises(InputError, match="cannot load the pipeline"):
        TrustedPipeline.from_pretrained(tmp_path, identity=identity)


def _replace_png_pixels(signed: bytes, image: Image.Image) -> bytes:
    """Swap a signed PNG's image data for other pixels, keeping every other chunk (the manifest)."""
    import struct

    def chunks(data):
        pos = 8
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            yield kind, data[pos:pos + 12 + length]
            pos += 12 + length

    fresh = io.BytesIO()
    image.save(fresh, "PNG")
    new_idat = b"".join(c for k, c in chunks(fresh.getvalue()) if k == b"IDAT")
    out, done = [signed[:8]], False
    for kind, chunk in chunks(signed):
        if kind == b"IDAT":
            if not done:
                out.append(new_idat)
                done = True
            continue
        out.append(chunk)
    assert done
    return b"".join(out)


def test_output_whose_mark_does_not_read_back_is_refused(identity, unconditional, monkeypatch):
    from trustgen.errors import WatermarkError

    bits = np.random.default_rng(0).random((256, 256)) < 0.5  # dithered-like: no room for a mark
    noisy = Image.fromarray(bits.astype(np.uint8) * 255).convert("RGB")
    monkeypatch.setattr(unconditional, "sample", lambda *a, **k: [noisy])
    with pytest.raises(WatermarkError, match="did not read back"):
        unconditional(num_images=1, num_inference_steps=1, seed=3)
