"""The default model shipped in the package loads offline as a standard diffusers pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trustgen

MODEL = Path(trustgen.__file__).parent / "models" / "default"


def test_shipped_folder_is_small_and_in_diffusers_layout():
    index = json.loads((MODEL / "model_index.json").read_text())
    assert index["_class_name"] == "LDMPipeline"
    for component in ("vqvae", "unet", "scheduler"):
        assert component in index
    assert sum(f.stat().st_size for f in MODEL.rglob("*") if f.is_file()) <= 20_000_000


def test_float16_weights_load_as_float32():
    from trustgen.generate import TrustedPipeline

    unet = TrustedPipeline.from_pretrained().pipeline.unet
    assert {str(p.dtype) for p in unet.parameters()} == {"torch.float32"}


@pytest.fixture(scope="module")
def pipe():
    torch = pytest.importorskip("torch")
    from diffusers import DiffusionPipeline

    torch.set_num_threads(2)
    return DiffusionPipeline.from_pretrained(MODEL, local_files_only=True)


def test_components_follow_the_conventions_the_wrapper_relies_on(pipe):
    unet, vae, scheduler = pipe.unet, pipe.vqvae, pipe.scheduler
    assert type(vae).__name__ == "AutoencoderKL"
    assert unet.config.in_channels == vae.config.latent_channels
    assert vae.config.scaling_factor > 0
    assert scheduler.config.clip_sample is False  # latents are not bounded to [-1, 1]
    downsample = 2 ** (len(vae.config.block_out_channels) - 1)
    assert unet.config.sample_size * downsample >= 256


def test_two_step_sample_has_the_right_shape_and_is_not_constant(pipe):
    import numpy as np
    import torch

    out = pipe(batch_size=1, num_inference_steps=2, generator=torch.Generator().manual_seed(0),
               output_type="np").images
    assert out.shape == (1, 256, 256, 3)
    assert np.isfinite(out).all()
    assert out.std() > 0.02
