"""Held-out families from a diffusers LDMPipeline: a tiny random one, saved and loaded back."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from detectors.sdedit import add_families, storage_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_ldm(tmp_path_factory):
    from diffusers import AutoencoderKL, DDIMScheduler, LDMPipeline, UNet2DModel

    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 8),
                        norm_num_groups=4)
    unet = UNet2DModel(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
                       block_out_channels=(8, 16), norm_num_groups=4,
                       down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"))
    path = tmp_path_factory.mktemp("ldm")
    LDMPipeline(vqvae=vae, unet=unet, scheduler=DDIMScheduler()).save_pretrained(path)
    return path


def test_default_model_families_are_aligned_test_only_and_format_matched(
        tiny_data, tiny_ldm, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    counts = add_families(data, tiny_ldm, strengths=(0.0, 0.5), log=lambda m: None)
    reals = sorted((data / "tiles" / "test" / "0_real").iterdir())
    assert counts == {"default_vae": len(reals), "default_sdedit50": len(reals)}
    for fam in counts:
        fakes = sorted((data / "tiles" / "test" / "1_fake" / fam).iterdir())
        assert [f.name for f in fakes] == [r.name for r in reals]
        for real, fake in zip(reals, fakes):
            assert storage_of(fake) == storage_of(real)
            assert Image.open(fake).size == Image.open(real).size
    assert not (data / "tiles" / "train" / "1_fake" / "default_vae").exists()
    manifest = json.loads((data / "photos.json").read_text())
    assert {"default_vae", "default_sdedit50"} <= set(manifest["held_out_families"])
    a = np.asarray(Image.open(data / "tiles/test/1_fake/default_vae" / reals[0].name), int)
    b = np.asarray(Image.open(data / "tiles/test/1_fake/default_sdedit50" / reals[0].name), int)
    assert np.abs(a - b).mean() > 0.5  # noising and denoising changed the image
