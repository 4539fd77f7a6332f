"""Running a diffusion model backwards: image -> autoencoder latents -> the initial noise
(deterministic DDIM inversion, empty prompt for text-conditioned models).

The only module of ``trustgen.watermark`` that imports torch and diffusers for reading; the
latent watermark (``latent.py``) reads signs from what this returns.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError

#: DDIM inversion steps: more follow the sampler's path more closely but cost a unet call each.
STEPS = 10


@lru_cache(maxsize=2)
def load(path: str):
    """The diffusers pipeline in folder ``path`` (cached: loading costs more than reading)."""
    from ..pipelines.load import load_folder

    pipe = load_folder(Path(path), quiet=True, purpose="reading latent watermarks")
    if not can_invert(pipe):
        raise InputError(f"{type(pipe).__name__} with {type(pipe.scheduler).__name__} cannot be "
                         "inverted (an unconditional latent model with a deterministic scheduler, "
                         "or Stable Diffusion 1/2)", path=path)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def autoencoder(pipe):
    return getattr(pipe, "vae", None) or pipe.vqvae


def scale_factor(pipe) -> int:
    """Pixels per latent element along a side."""
    return 2 ** (len(autoencoder(pipe).config.block_out_channels) - 1)


def native_side(pipe) -> int:
    """The side, in pixels, of the images the model makes by default."""
    size = pipe.unet.config.sample_size
    return (size if isinstance(size, int) else min(size)) * scale_factor(pipe)


def is_text_conditioned(pipe) -> bool:
    return type(pipe.unet).__name__ == "UNet2DConditionModel"


def encode(pipe, rgb: np.ndarray):
    """The autoencoder's latent mean of an RGB uint8 array, scaled as the sampler's latents."""
    import torch

    vae = autoencoder(pipe)
    x = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    with torch.no_grad():
        out = vae.encode(x.to(vae.device, vae.dtype))
    mean = out.latent_dist.mean if hasattr(out, "latent_dist") else out.latents
    return mean * getattr(vae.config, "scaling_factor", 1.0)


@lru_cache(maxsize=4)
def _empty_prompt(pipe):
    import torch

    ids = pipe.tokenizer("", padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return pipe.text_encoder(ids.to(pipe.text_encoder.device))[0]


def _ddim(pipe, steps: int):
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(steps)
    return sched


def _step(pipe, x, t: int, level, to_level, extra):
    """One deterministic DDIM move of ``x`` from noise level ``level`` to ``to_level`` (alpha
    products), with the model's prediction at timestep ``t``."""
    out = pipe.unet(x, t, **extra).sample.double()
    xd = x.double()
    a, b = level.sqrt(), (1 - level).sqrt()
    kind = pipe.scheduler.config.get("prediction_type", "epsilon")
    if kind == "v_prediction":
        x0, eps = a * xd - b * out, a * out + b * xd
    else:
        x0, eps = (xd - b * out) / a, out
    return (to_level.sqrt() * x0 + (1 - to_level).sqrt() * eps).to(x.dtype)



def sample(pipe, noise, steps: int = 50) -> np.ndarray:
    """RGB uint8 image the deterministic DDIM sampler makes from ``noise`` (empty prompt, no
    guidance): the calibration images."""
    import torch

    sched = _ddim(pipe, steps)
    ts = [int(t) for t in sched.timesteps]
    alphas = sched.alphas_cumprod.double()
    extra = {"encoder_hidden_states": _empty_prompt(pipe)} if is_text_conditioned(pipe) else {}
    x = noise[None].to(pipe.unet.device, pipe.unet.dtype)
    with torch.no_grad():
        for i, t in enumerate(ts):
            nxt = alphas[ts[i + 1]] if i + 1 < len(ts) else sched.final_alpha_cumprod.double()
            x = _step(pipe, x, t, alphas[t], nxt, extra)
        vae = autoencoder(pipe)
        img = vae.decode(x / getattr(vae.config, "scaling_factor", 1.0)).sample
    return ((img[0] / 2 + 0.5).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def invert(pipe, latents, steps: int = STEPS) -> np.ndarray:
    """The initial noise that the deterministic sampler would have turned into ``latents``.

    DDIM inversion as diffusers' ``DDIMInverseScheduler`` does it: from each noise level to the
    next, with the model's prediction at the next timestep (epsilon or v), on the sampler's
    own timestep spacing. The text condition is the empty prompt (no guidance)."""
    import torch

    sched = _ddim(pipe, steps)
    ts = sorted(int(t) for t in sched.timesteps)
    alphas = sched.alphas_cumprod.double()
    extra = {"encoder_hidden_states": _empty_prompt(pipe)} if is_text_conditioned(pipe) else {}
    x = latents.to(pipe.unet.device, pipe.unet.dtype)
    level = sched.final_alpha_cumprod.double() if ts[0] > 0 else alphas[0]
    with torch.no_grad():
        for t in ts:
            x, level = _step(pipe, x, t, level, alphas[t], extra), alphas[t]
    return x.float().cpu().numpy()[0]


#: Calibration images per model (fixed seeds): enough to fit a channels x channels map.
CALIBRATION = 4
#: Sampler steps of the calibration images (``trustgen generate``'s default).
CALIBRATION_STEPS = 25


def latent_shape(pipe, height: int, width: int) -> tuple[int, int, int]:
    f = scale_factor(pipe)
    return (pipe.unet.config.in_channels, height // f, width // f)


def calibration(pipe, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """(channel map, inverse residual variance per channel): how to turn this model's
    inverted noise into the best linear estimate of the true noise, and how sure it is.

    Inversion recovers the noise only in part (the autoencoder ignores directions the sampler's
    latents have, and the inversion amplifies what it cannot see), and unevenly across channels
    that it also mixes: a least-squares map fitted on ``CALIBRATION`` images the model makes
    from known noise doubled the correlation on the default model (0.18 -> 0.3-0.4 per channel).
    """
    return _calibration(pipe, steps)


@lru_cache(maxsize=4)
def _calibration(pipe, steps: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    side = native_side(pipe)
    shape = latent_shape(pipe, side, side)
    ys, zs = [], []
    for seed in range(CALIBRATION):
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        y = invert(pipe, encode(pipe, sample(pipe, noise, CALIBRATION_STEPS)), steps)
        ys.append(y.reshape(shape[0], -1).T)
        zs.append(noise.numpy().reshape(shape[0], -1).T)
    y, z = np.concatenate(ys), np.concatenate(zs)
    mapping = np.linalg.lstsq(y, z, rcond=None)[0]
    residual = (z - y @ mapping).var(axis=0)
    return mapping, 1.0 / np.maximum(residual, 1e-6)


def soft_noise(pipe, rgb: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Soft values of the initial noise behind an RGB image at the model's scale: the
    calibrated estimate of each element over its residual variance (a log-likelihood ratio's
    scale), shaped (channels, height / f, width / f)."""
    mapping, weight = calibration(pipe, steps)
    y = invert(pipe, encode(pipe, rgb), steps)
    c = y.shape[0]
    est = (y.reshape(c, -1).T @ mapping) * weight
    return est.T.reshape(y.shape)


#: Schedulers whose sampling is a deterministic ODE solve, which DDIM inversion can run back.
ODE_SCHEDULERS = frozenset({
    "DDIMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler", "EulerDiscreteScheduler", "LMSDiscreteScheduler",
    "HeunDiscreteScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler",
})


def can_invert(pipeline) -> bool:
    """Whether ``watermark.detect_latent`` can read marks made with this diffusers pipeline: an
    unconditional latent model (UNet2DModel, a ``vqvae``/``vae`` autoencoder with a Gaussian
    posterior, a deterministic scheduler: the embedded default model) or the Stable Diffusion
    1/2 family (UNet2DConditionModel, ``vae``, CLIP text encoder and tokenizer)."""
    unet = getattr(pipeline, "unet", None)
    scheduler = getattr(pipeline, "scheduler", None)
    if unet is None or scheduler is None or not hasattr(scheduler, "alphas_cumprod"):
        return False
    if type(scheduler).__name__ not in ODE_SCHEDULERS:
        return False
    if "sde" in str(getattr(scheduler.config, "algorithm_type", "")):
        return False  # the SDE variants of DPM-Solver add fresh noise at every step
    if getattr(scheduler.config, "prediction_type", "epsilon") not in ("epsilon", "v_prediction"):
        return False
    kind = type(unet).__name__
    vae = getattr(pipeline, "vae", None)
    if kind == "UNet2DModel":
        vae = vae if vae is not None else getattr(pipeline, "vqvae", None)
        return type(vae).__name__ == "AutoencoderKL"
    if kind == "UNet2DConditionModel":
        encoder = getattr(pipeline, "text_encoder", None)
        return (type(vae).__name__ == "AutoencoderKL"
                and type(encoder).__name__ == "CLIPTextModel"
                and getattr(pipeline, "tokenizer", None) is not None
                and getattr(pipeline, "text_encoder_2", None) is None)  # not SDXL
    return False
