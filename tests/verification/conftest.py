"""Real files for every verdict label, made once per session.

Everything is produced with trustgen's own signer and watermark and the session's development
identity (tests/conftest.py), plus the C2PA reference fixtures signed by other implementations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def photo(name: str = "china.jpg", side: int = 384) -> Image.Image:
    """A real photograph (scikit-learn's CC-licensed samples), centre-cropped square."""
    from sklearn.datasets import load_sample_image

    arr = load_sample_image(name)
    h, w = arr.shape[:2]
    s = min(h, w)
    arr = arr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return Image.fromarray(np.ascontiguousarray(arr)).resize((side, side), Image.LANCZOS)


def provenance(content_id: str, side: int):
    from trustgen.evidence import Provenance

    return Provenance(
        content_id=content_id, model_id="tests/tiny", model_sha256="0" * 64, pipeline="DDIMPipeline",
        scheduler="DDIMScheduler", steps=2, guidance_scale=None, seed=7, width=side, height=side,
        prompt_sha256=None,
    )


def generated(identity, image: Image.Image, *, content_id: str, claimed_id: str | None = None) -> bytes:
    """What TrustedPipeline writes: watermark with ``content_id``, then sign (claiming ``claimed_id``)."""
    from trustgen.credentials.sign import sign_generated
    from trustgen.media import encode_image
    from trustgen.watermark import embed

    marked = embed(image, content_id, key=identity.watermark_key)
    return sign_generated(encode_image(marked, "jpeg"), "jpeg",
                          provenance(claimed_id or content_id, image.width), identity.signer())


def tamper(data: bytes) -> bytes:
    """Change pixels after signing: flip bytes in the middle of the last JPEG scan."""
    start = data.rfind(b"\xff\xda")
    at = start + (len(data) - start) // 2
    out = bytearray(data)
    for i in range(at, at + 8):
        out[i] = (out[i] + 0x11) % 0xFF if out[i] not in (0xFE, 0xFF) else out[i]
    return bytes(out)


@pytest.fixture(scope="session")
def verify_files(identity, tmp_path_factory) -> dict[str, Path]:
    """label or case name -> file. Each file is written once; tests only read them."""
    from trustgen.credentials import Identity
    from trustgen.credentials.sign import IngredientSource, sign_image
    from trustgen.media import decode_image, encode_image

    folder = tmp_path_factory.mktemp("verify-files")
    china, flower = photo("china.jpg"), photo("flower.jpg")
    gen = generated(identity, flower, content_id="0123456789ab")
    other = Identity.init(tmp_path_factory.mktemp("unrelated-identity"))
    capture = sign_image(encode_image(china, "jpeg"), "jpeg", identity.signer(),
                         source_type="digitalCapture", title="capture.jpg")
    files = {
        "trusted-ai": gen,
        "trusted-capture": capture,
        # an AI image, watermarked, signed as if it were a camera capture
        "capture-of-ai": sign_image(
            encode_image(decode_image(gen), "jpeg"), "jpeg", identity.signer(),
            source_type="digitalCapture", title="capture-of-ai.jpg"),
        # a capture composed with an ingredient whose credentials were tampered with
        "capture-bad-ingredient": sign_image(
            encode_image(china, "jpeg"), "jpeg", identity.signer(), source_type="digitalCapture",
            ingredients=[IngredientSource(tamper(capture), "jpeg", "tampered.jpg", "componentOf")],
            title="composite.jpg"),
        # a capture composed with a generated image: the ingredient's own manifest says AI
        "capture-ai-ingredient": sign_image(
            encode_image(china, "jpeg"), "jpeg", identity.signer(), source_type="digitalCapture",
            ingredients=[IngredientSource(gen, "jpeg", "generated.jpg", "componentOf")],
            title="composite-ai.jpg"),
        "tampered": tamper(gen),
        "unrelated-signer": generated(other, flower, content_id="0123456789ab"),
        # anyone's self-made certificate calling a watermarked AI image a capture
        "self-signed-ai": sign_image(
            encode_image(decode_image(gen), "jpeg"), "jpeg", other.signer(),
            source_type="digitalCapture", title="self-signed-ai.jpg"),
        "untrusted-capture": sign_image(encode_image(china, "jpeg"), "jpeg", other.signer(),
                                        source_type="digitalCapture", title="capture.jpg"),
        "stripped": encode_image(decode_image(gen), "png"),
        "id-mismatch": generated(identity, flower, content_id="0123456789ab", claimed_id="ba9876543210"),
        "plain": encode_image(china, "jpeg"),
        "not-an-image": b"this is a text file, not an image\n",
        "truncated": encode_image(china, "png")[:3000],
    }
    suffix = {"stripped": ".png", "truncated": ".png", "not-an-image": ".txt"}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}{suffix.get(name, '.jpg')}"
        paths[name].write_bytes(data)
        paths[name].chmod(0o444)  # verification must never modify its inputs
    return paths


@pytest.fixture(scope="session")
def fixture_trust(c2pa_fixtures):
    """Trust anchors and EKU list of the C2PA reference fixtures."""
    from trustgen.credentials.trust import TrustConfig

    return TrustConfig.from_files([c2pa_fixtures / "trust" / "test_cert_root_bundle.pem"],
                                  c2pa_fixtures / "trust" / "store.cfg")


@pytest.fixture(scope="session")
def sample_photo():
    """``photo(name, side)``: a real photograph as a PIL image."""
    return photo


@pytest.fixture(scope="session")
def c2pa_only_policy(tmp_path_factory) -> Path:
    """The default policy with the watermark off: for tests about credentials alone, since
    decoding watermarks in the reference fixtures' multi-megapixel images costs seconds."""
    from importlib.resources import files

    text = files("trustgen.policies").joinpath("default.toml").read_text()
    path = tmp_path_factory.mktemp("policies") / "c2pa-only.toml"
    path.write_text(text.replace("[watermark]\nenabled = true", "[watermark]\nenabled = false"))
    return path


@pytest.fixture(scope="session")
def sampled_image(tmp_path_factory) -> Path:
    """An unmarked, unsigned output of the embedded default model, enlarged as ``generate``
    enlarges it before marking: only the detector can tell."""
    from PIL.Image import LANCZOS

    from trustgen import watermark
    from trustgen.generate import TrustedPipeline
    from trustgen.media import encode_image

    (image,) = TrustedPipeline.from_pretrained().sample(seeds=[5], num_inference_steps=20)
    image = image.resize(watermark.marking_size(*image.size), LANCZOS)
    path = tmp_path_factory.mktemp("sampled") / "sampled.png"
    path.write_bytes(encode_image(image, "png"))
    path.chmod(0o444)
    return path


@pytest.fixture(scope="session")
def detector():
    """The shipped detector, loaded once for the session."""
    detectors = pytest.importorskip("detectors")
    from detectors.model import CHECKPOINT

    if not CHECKPOINT.is_file():
        pytest.skip(f"the shipped detector checkpoint {CHECKPOINT} is not there yet")
    return detectors.SyntheticImageDetector.load()
