"""Tiny random-weight diffusers pipelines, built from configs the way diffusers' fast tests do.

The default-model stand-ins sample 256x256; the family pipelines (``save_family``) sample
128x128, which trustgen enlarges to watermark.MARK_SIDE before marking. Channels are as few as
the blocks allow, so two sampler steps take well under a second on a CPU. Tokenizers are written
offline: a byte-level CLIP BPE with no merges, and a T5 unigram vocabulary of single characters.
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


def _clip_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    tok_dir = folder / "_tokenizer_src"
    _write_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"),
                              model_max_length=77)
    for f in tok_dir.iterdir():
        f.unlink()
    tok_dir.rmdir()
    return tokenizer


def _clip(tokenizer, hidden: int = 16, projection: int | None = None):
    """A CLIP text encoder; with ``projection``, the pooled-projection variant (SDXL, SD3)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_attention_heads=2, num_hidden_layers=2, max_position_embeddings=77,
        projection_dim=projection or hidden, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _t5(d_model: int = 32):
    """A T5 encoder and a tokenizer whose pieces are single characters."""
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab = ([("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
             + [(c, -3.0) for c in chars] + [("\u2581" + c, -2.5) for c in chars])
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    encoder = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer), d_model=d_model, d_kv=8, d_ff=2 * d_model, num_layers=1,
        num_heads=2, relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
    ))
    return tokenizer, encoder


def _vae(blocks: int = 3, latent: int = 4, **extra):
    """An AutoencoderKL downsampling 2**(blocks-1) times."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, block_out_channels=(8,) * blocks, norm_num_groups=4,
        layers_per_block=1, latent_channels=latent,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks, **extra,
    )


def _unet(sample_size: int, in_channels: int = 4, cross: int = 16, **extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4,  # attention at the coarser level only
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross, attention_head_dim=2, **extra,
    )


def _ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=100, prediction_type="sample", steps_offset=1,
                         clip_sample=False)


def _sd_components(folder: Path, sample_size: int, in_channels: int = 4) -> dict:
    tokenizer = _clip_tokenizer(folder)
    return dict(vae=_vae(), text_encoder=_clip(tokenizer), tokenizer=tokenizer,
                unet=_unet(sample_size, in_channels), scheduler=_ddim(), safety_checker=None,
                feature_extractor=None, requires_safety_checker=False)


def _sdxl_components(folder: Path, in_channels: int = 4) -> dict:
    tokenizer = _clip_tokenizer(folder)
    # micro-conditioning: 6 size numbers embedded in 4 dims each, plus the 16-dim pooled prompt
    unet = _unet(32, in_channels, cross=32, addition_embed_type="text_time",
                 addition_time_embed_dim=4, projection_class_embeddings_input_dim=6 * 4 + 16)
    return dict(vae=_vae(), text_encoder=_clip(tokenizer), text_encoder_2=_clip(tokenizer, projection=16),
                tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=_ddim())


def save_text_to_image(folder: Path, sample_size: int = 64) -> Path:
    """A Stable Diffusion pipeline: tiny UNet2DConditionModel, AutoencoderKL, CLIP text encoder."""
    import torch
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(0)
    StableDiffusionPipeline(**_sd_components(folder, sample_size)).save_pretrained(folder)
    return folder


def _save(kind: str, folder: Path) -> None:
    import diffusers
    import torch

    torch.manual_seed(0)
    flow_vae = dict(shift_factor=0.0609, scaling_factor=1.5035)
    if kind in ("sd", "img2img"):
        parts = _sd_components(folder, 32)
        cls = {"sd": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline"}[kind]
    elif kind == "inpaint":  # an inpainting UNet also sees the masked source and the mask
        parts, cls = _sd_components(folder, 32, in_channels=9), "StableDiffusionInpaintPipeline"
    elif kind == "instruct":  # and an InstructPix2Pix UNet the source's latents
        parts, cls = _sd_components(folder, 32, in_channels=8), "StableDiffusionInstructPix2PixPipeline"
    elif kind in ("controlnet", "sdxl-controlnet"):
        if kind == "controlnet":
            parts, cls, xl = _sd_components(folder, 32), "StableDiffusionControlNetPipeline", {}
        else:
            parts, cls = _sdxl_components(folder), "StableDiffusionXLControlNetPipeline"
            xl = dict(cross_attention_dim=32, addition_embed_type="text_time",
                      addition_time_embed_dim=4, projection_class_embeddings_input_dim=6 * 4 + 16)
        parts["controlnet"] = diffusers.ControlNetModel(
            in_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), attention_head_dim=2,
            conditioning_embedding_out_channels=(4, 8, 8), **({"cross_attention_dim": 16} | xl))
        with torch.no_grad():  # a trained ControlNet's zero convolutions are no longer zero
            net = parts["controlnet"]
            for block in (*net.controlnet_down_blocks, net.controlnet_mid_block,
                          net.controlnet_cond_embedding.conv_out):
                block.weight.normal_(0, 0.3)
    elif kind in ("sdxl", "sdxl-img2img", "sdxl-inpaint"):
        parts = _sdxl_components(folder)
        cls = {"sdxl": "StableDiffusionXLPipeline", "sdxl-img2img": "StableDiffusionXLImg2ImgPipeline",
               "sdxl-inpaint": "StableDiffusionXLInpaintPipeline"}[kind]
        if kind != "sdxl":
            parts["requires_aesthetics_score"] = False
    elif kind == "sdxl-instruct":
        parts, cls = _sdxl_components(folder, in_channels=8), "StableDiffusionXLInstructPix2PixPipeline"
    elif kind == "sd3":
        tokenizer = _clip_tokenizer(folder)
        t5_tokenizer, t5 = _t5(32)
        parts, cls = dict(
            transformer=diffusers.SD3Transformer2DModel(
                sample_size=32, patch_size=2, in_channels=4, out_channels=4, num_layers=1,
                attention_head_dim=8, num_attention_heads=2, caption_projection_dim=16,
                joint_attention_dim=32, pooled_projection_dim=32),
            vae=_vae(**flow_vae), scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
            text_encoder=_clip(tokenizer, projection=16), tokenizer=tokenizer,
            text_encoder_2=_clip(tokenizer, projection=16), tokenizer_2=tokenizer,
            text_encoder_3=t5, tokenizer_3=t5_tokenizer,
        ), "StableDiffusion3Pipeline"
    elif kind == "flux":
        tokenizer = _clip_tokenizer(folder)
        t5_tokenizer, t5 = _t5(32)
        parts, cls = dict(
            transformer=diffusers.FluxTransformer2DModel(
                patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                pooled_projection_dim=16, axes_dims_rope=[4, 4, 8], guidance_embeds=True),
            vae=_vae(blocks=4, latent=1, use_quant_conv=False, use_post_quant_conv=False, **flow_vae),
            scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
            text_encoder=_clip(tokenizer), tokenizer=tokenizer,
            text_encoder_2=t5, tokenizer_2=t5_tokenizer,
        ), "FluxPipeline"
    elif kind in ("pixart", "pixart-sigma"):
        t5_tokenizer, t5 = _t5(32)
        parts, cls = dict(
            transformer=diffusers.PixArtTransformer2DModel(
                sample_size=16, num_layers=1, patch_size=2, attention_head_dim=8,
                num_attention_heads=2, caption_channels=32, in_channels=4, cross_attention_dim=16,
                out_channels=8, attention_bias=True, activation_fn="gelu-approximate",
                num_embeds_ada_norm=1000, norm_type="ada_norm_single",
                norm_elementwise_affine=False, norm_eps=1e-6),
            vae=_vae(blocks=4), scheduler=_ddim(), text_encoder=t5, tokenizer=t5_tokenizer,
        ), "PixArtAlphaPipeline" if kind == "pixart" else "PixArtSigmaPipeline"
    elif kind == "ddpm":
        save_unconditional(folder)
        unet = diffusers.DDIMPipeline.from_pretrained(folder).unet
        parts, cls = {"unet": unet, "scheduler": diffusers.DDPMScheduler(
            num_train_timesteps=100, prediction_type="sample", clip_sample=False)}, "DDPMPipeline"
    else:
        raise ValueError(kind)
    getattr(diffusers, cls)(**parts).save_pretrained(folder)


#: Every family ``save_family`` builds.
FAMILIES = ("ddpm", "sd", "sdxl", "sd3", "flux", "pixart", "pixart-sigma", "controlnet",
            "sdxl-controlnet", "img2img", "inpaint", "instruct", "sdxl-img2img", "sdxl-inpaint",
            "sdxl-instruct")


def save_family(kind: str, folder: Path) -> Path:
    """A tiny pipeline of family ``kind`` (one of ``FAMILIES``), saved with save_pretrained."""
    _save(kind, folder)
    return folder


def photo(seed: int, size: int = 128):
    """A smooth random picture (blobs of colour, like a photo's low frequencies) to edit."""
    import numpy as np
    from PIL import Image

    small = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


def mask(size: int = 128):
    """An inpainting mask: white over x 32..79, y 40..95 of a 128 px square (scaled to ``size``)."""
    from PIL import Image

    out = Image.new("L", (size, size))
    k = size / 128
    out.paste(255, (int(32 * k), int(40 * k), int(80 * k), int(96 * k)))
    return out
