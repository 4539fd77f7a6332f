"""Tiny random-weight diffusers pipelines, built from configs the way diffusers' fast tests do.

Outputs are 256x256 (the smallest size trustgen watermarks) with as few channels as the blocks
allow, so two sampler steps take well under a second on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path


def save_unconditional(folder: Path) -> Path:
    """A DDIM pipeline with a pixel-space UNet2DModel."""
    import torch
    from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=256,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(4, 8),
        norm_num_groups=2,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )
    # A random net's output is white noise, the worst host for any watermark; damping its last
    # layer keeps the texture mild, like a photo's, and predicting the sample keeps it in range.
    with torch.no_grad():
        unet.conv_out.weight.mul_(0.3)
    scheduler = DDIMScheduler(
        num_train_timesteps=100, prediction_type="sample", steps_offset=1, clip_sample=False
    )
    DDIMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder)
    return folder


def _write_tokenizer(folder: Path) -> None:
    """A byte-level BPE vocabulary with no merges: every character is its own token."""
    # GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest above 255.
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = [b for b in range(256) if b not in printable]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(extra))]
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def save_text_to_image(folder: Path) -> Path:
    """A Stable Diffusion pipeline: tiny UNet2DConditionModel, AutoencoderKL, CLIP text encoder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 8),
        norm_num_groups=4,
        layers_per_block=1,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
    )
    tok_dir = folder / "_tokenizer_src"
    _write_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer(
        str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=77
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(
            num_train_timesteps=100, prediction_type="sample", steps_offset=1, clip_sample=False
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    for f in tok_dir.iterdir():
        f.unlink()
    tok_dir.rmdir()
    return folder
