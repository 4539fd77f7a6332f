"""What the wrapper does for every family: refuse what it does not know, record adapters,
mark the initial noise, move to a device."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from tiny_pipelines import mask, photo

from trustgen import softbinding as sb
from trustgen.errors import InputError
from trustgen.generate import TrustedPipeline
from trustgen.watermark import key_label, marking_size


def _sample(pipe, prompt="a cat", **kw):
    (image,) = pipe.sample(prompt, seeds=[5], num_inference_steps=2, height=128, width=128, **kw)
    return np.asarray(image, dtype=np.float32)


def _soft_bindings(data: bytes):
    import c2pa

    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        report = json.loads(reader.json())
    return sb.from_assertions(report["manifests"][report["active_manifest"]]["assertions"])


def test_a_pipeline_trustgen_does_not_know_is_refused_by_name(family_folder, identity, tmp_path):
    from diffusers import LatentConsistencyModelPipeline

    known = TrustedPipeline.from_pretrained(family_folder("sd"), identity=identity)
    other = LatentConsistencyModelPipeline(**{**known.pipeline.components, "image_encoder": None})
    with pytest.raises(InputError, match="pipeline LatentConsistencyModelPipeline is not one "
                                         "trustgen knows how to mark"):
        TrustedPipeline(other, identity=identity)
    other.save_pretrained(tmp_path / "lcm")
    with pytest.raises(InputError, match="LatentConsistencyModelPipeline"):
        TrustedPipeline.from_pretrained(tmp_path / "lcm", identity=identity)


def test_lora_weights_are_hashed_apart_from_the_base_model(family_folder, identity, tmp_path):
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = TrustedPipeline.from_pretrained(family_folder("sd"), identity=identity, register=False,
                                           progress_bar=False)
    base, plain = pipe.model_sha256, _sample(pipe)
    pipe.pipeline.unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights=False,
                                              target_modules=["to_q", "to_k", "to_v"]), "style")
    StableDiffusionPipeline.save_lora_weights(
        tmp_path / "lora", unet_lora_layers=get_peft_model_state_dict(pipe.pipeline.unet, adapter_name="style"))

    # a fresh pipeline loads the saved LoRA as a user would
    fresh = TrustedPipeline.from_pretrained(family_folder("sd"), identity=identity, register=False,
                                            progress_bar=False)
    fresh.pipeline.load_lora_weights(tmp_path / "lora", adapter_name="style")
    assert np.abs(_sample(fresh) - plain).mean() > 0.05  # the adapter is in use
    (result,) = fresh("a cat", num_inference_steps=2, seed=5, height=128, width=128)
    prov = result.provenance
    (lora,) = prov.adapters
    assert (lora["name"], lora["kind"]) == ("style", "lora")
    assert prov.model_sha256 == base  # the base model's hash does not change with an adapter
    assert lora == {"name": "style", "kind": "lora", "sha256": lora["sha256"]}
    assert TrustedPipeline(pipe.pipeline, identity=identity).model_sha256 == base
    from trustgen.pipelines import adapters

    assert adapters(pipe.pipeline) == [lora]  # same weights, same hash, however loaded


def test_the_latent_watermark_marks_the_initial_noise(family_folder, identity):
    pipe = TrustedPipeline.from_pretrained(family_folder("sd"), identity=identity, register=False,
                                           progress_bar=False, latent_watermark=True)
    (result,) = pipe("a cat", num_inference_steps=2, seed=5, height=128, width=128)
    prov = result.provenance
    assert prov.latent_watermark
    marked = _sample(pipe, content_ids=[prov.content_id])
    assert not np.array_equal(marked, _sample(pipe))  # marked noise, not plain noise
    written = Image.fromarray(marked.astype(np.uint8))
    written = np.asarray(written.resize(marking_size(128, 128), Image.LANCZOS), dtype=np.float32)
    out = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"), dtype=np.float32)
    assert 10 * np.log10(255**2 / np.mean((out - written) ** 2)) > 30  # the output is that sample
    bindings = {b.alg: b for b in _soft_bindings(result.data)}
    assert sb.content_id(bindings[sb.LATENT_ALG].value) == prov.content_id
    assert bindings[sb.LATENT_ALG].params == {"key": key_label(identity.watermark_key)}

    # off by default where it cannot be read back (watermark.latent inverts no SDXL)
    sdxl = TrustedPipeline.from_pretrained(family_folder("sdxl"), identity=identity, register=False,
                                           progress_bar=False)
    (plain,) = sdxl("a cat", num_inference_steps=1, seed=5, height=128, width=128)
    assert not plain.provenance.latent_watermark
    assert sb.LATENT_ALG not in {b.alg for b in _soft_bindings(plain.data)}


def test_a_latent_mark_is_refused_where_the_pipeline_draws_the_noise(family_folder, identity):
    pipe = TrustedPipeline.from_pretrained(family_folder("inpaint"), identity=identity,
                                           latent_watermark=True, progress_bar=False)
    with pytest.raises(InputError, match="cannot carry a latent watermark"):
        pipe("x", image=photo(1), mask_image=mask(), strength=0.5, num_inference_steps=2)


def test_device(family_folder, identity):
    import torch

    pipe = TrustedPipeline.from_pretrained(family_folder("sd"), identity=identity, device="cpu")
    assert pipe.pipeline.unet.device.type == "cpu" and pipe.to("cpu") is pipe
    with pytest.raises(InputError, match="cannot use device 'warp-drive'"):
        pipe.to("warp-drive")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="cannot use device 'cuda'"):
            pipe.to("cuda")


@pytest.mark.parametrize("kind", ["flux", "img2img", "inpaint"])
def test_an_image_does_not_depend_on_its_batch_neighbours(kind, family_folder, identity):
    """Each seed has its own generator: for noise the wrapper draws and packs (Flux), and for
    noise diffusers draws from the wrapper's generators (img2img, inpainting below strength 1)."""
    pipe = TrustedPipeline.from_pretrained(family_folder(kind), identity=identity,
                                           progress_bar=False)
    given = {"flux": {"height": 128, "width": 128},
             "img2img": {"image": photo(1), "strength": 0.5},
             "inpaint": {"image": photo(1), "mask_image": mask(), "strength": 0.5}}[kind]
    pair = pipe.sample("x", seeds=[1, 2], num_inference_steps=2, **given)
    (alone,) = pipe.sample("x", seeds=[2], num_inference_steps=2, **given)
    second, first, alone = (np.asarray(i, dtype=np.float32) for i in (pair[1], pair[0], alone))
    assert np.abs(second - alone).max() <= 1.0  # batched kernels may round one level apart
    assert np.abs(second - first).mean() > 5.0


def test_the_readme_table_lists_every_family_class():
    from pathlib import Path

    from trustgen.pipelines import FAMILIES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Edits and pipeline families", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for family in FAMILIES:
        for name in family.classes:
            assert any(f"`{name}`" in row for row in rows), name
