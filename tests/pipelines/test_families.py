"""Every pipeline family round-trips through TrustedPipeline: built from tiny random-weight
configs, saved with save_pretrained, loaded back, sampled in 2 steps, signed and verified."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image
from tiny_pipelines import FAMILIES, mask, photo

from trustgen.credentials.read import read_credentials
from trustgen.credentials.trust import TrustConfig
from trustgen.generate import TrustedPipeline
from trustgen.watermark import marking_size

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TASKS = {"img2img": "image-to-image", "sdxl-img2img": "image-to-image",
         "inpaint": "inpainting", "sdxl-inpaint": "inpainting",
         "instruct": "instruction-editing", "sdxl-instruct": "instruction-editing"}
UNCONDITIONAL = ("ddpm",)
CLASSES = {
    "ddpm": "DDPMPipeline", "pixart-sigma": "PixArtSigmaPipeline",
    "sdxl-controlnet": "StableDiffusionXLControlNetPipeline", "sd": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline", "flux": "FluxPipeline", "pixart": "PixArtAlphaPipeline",
    "controlnet": "StableDiffusionControlNetPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
    "inpaint": "StableDiffusionInpaintPipeline", "instruct": "StableDiffusionInstructPix2PixPipeline",
    "sdxl-img2img": "StableDiffusionXLImg2ImgPipeline",
    "sdxl-inpaint": "StableDiffusionXLInpaintPipeline",
    "sdxl-instruct": "StableDiffusionXLInstructPix2PixPipeline",
}


def inputs(kind: str, source: Image.Image) -> dict:
    """What the family takes besides the prompt, at 128 px."""
    if kind in UNCONDITIONAL:
        return {}
    if "controlnet" in kind:
        return {"control_image": source, "height": 128, "width": 128}
    if kind not in TASKS:
        return {"height": 128, "width": 128}
    out = {"image": source}
    if "inpaint" in kind:
        out["mask_image"] = mask()
        if kind == "inpaint":
            out["strength"] = 1.0  # the wrapper draws the noise (SDXL's default 0.9999: diffusers)
    if "img2img" in kind:
        out["strength"] = 0.5  # SDXL's default 0.3 of 2 steps would run none
    return out


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def as_written(sample: np.ndarray) -> np.ndarray:
    image = Image.fromarray(np.clip(sample, 0, 255).round().astype(np.uint8))
    return pixels(image.resize(marking_size(*image.size), Image.LANCZOS))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("kind", FAMILIES)
def test_family_round_trips(kind, family_folder, identity):
    pipe = TrustedPipeline.from_pretrained(family_folder(kind), identity=identity, register=False,
                                           progress_bar=False)
    assert type(pipe.pipeline).__name__ == CLASSES[kind]
    given = inputs(kind, photo(1))
    prompt = None if kind in UNCONDITIONAL else "a cat"

    def sample(prompt=prompt, seed=3, **change):
        (image,) = pipe.sample(prompt, seeds=[seed], num_inference_steps=2, **{**given, **change})
        return pixels(image)

    first = sample()
    assert first.shape == ((256, 256, 3) if kind in UNCONDITIONAL else (128, 128, 3))
    assert np.array_equal(first, sample())  # same seed, same image
    assert np.abs(first - sample(seed=4)).mean() > 0.05  # the seed reaches the noise
    if prompt is not None:  # the prompt reaches the model
        assert np.abs(first - sample("a ship at sea")).mean() > 0.05
    if "image" in given or "control_image" in given:  # so does the conditioning image
        other = {"image" if "image" in given else "control_image": photo(2)}
        assert np.abs(first - sample(**other)).mean() > 0.05

    (result,) = pipe(prompt, num_inference_steps=2, seed=3, **given)
    prov = result.provenance
    if prov.latent_watermark:  # on where watermark.latent can read it back: the same marked noise
        first = sample(content_ids=[prov.content_id])
    # the signed output is that sample, enlarged and marked
    assert psnr(pixels(Image.open(io.BytesIO(result.data)).convert("RGB")), as_written(first)) > 30
    assert (prov.pipeline, prov.scheduler) == (CLASSES[kind], type(pipe.pipeline.scheduler).__name__)
    assert (prov.steps, prov.seed, prov.width, prov.height) == (2, 3, 512, 512)
    assert prov.guidance_scale == pipe._guidance(None)  # the pipeline's own default, recorded
    assert prov.task == TASKS.get(kind, "unconditional" if kind in UNCONDITIONAL else "text-to-image")
    manifest = read_credentials(result.data, fmt="png", trust=TrustConfig.for_identity(identity))
    assert manifest.state == "trusted", manifest.codes
    expected = "compositeWithTrainedAlgorithmicMedia" if "inpaint" in kind else "trainedAlgorithmicMedia"
    assert manifest.digital_source_type == IPTC + expected
    assert manifest.trustgen == prov.to_dict()
    if kind in TASKS:
        assert manifest.actions == ("c2pa.opened", "c2pa.edited", "c2pa.watermarked")
        parent = [i for i in manifest.ingredients if i.relationship == "parentOf"]
        assert len(parent) == 1 and not parent[0].codes
        buf = io.BytesIO()
        photo(1).save(buf, "PNG")
        assert prov.source_sha256 == hashlib.sha256(buf.getvalue()).hexdigest()
        assert prov.strength == given.get("strength", pipe.family.default(pipe.pipeline, "strength"))
    else:
        assert manifest.actions == ("c2pa.created", "c2pa.watermarked")
        assert prov.source_sha256 is None and prov.region is None
    if "controlnet" in kind:
        assert [(a["name"], a["kind"]) for a in prov.adapters] == [("controlnet", "controlnet")]
        buf = io.BytesIO()
        photo(1).save(buf, "PNG")
        assert prov.control_sha256 == hashlib.sha256(buf.getvalue()).hexdigest()
        ((title, relationship, codes),) = [(i.title, i.relationship, i.codes)
                                           for i in manifest.ingredients]
        assert (title, relationship, codes) == ("control.png", "inputTo", ())
