"""Unconditional pipelines (DDPM, DDIM, PNDM, LDM, trustgen's default model).

They take no ``latents`` argument, so the family runs their denoising loop itself, with the
pipeline's own unet, scheduler, decoder and progress bar.
"""

from __future__ import annotations

import inspect

from ..errors import InputError
from .base import Family, Noise, Request


class Unconditional(Family):
    name = "Unconditional (DDPM, DDIM, PNDM, LDM; the default model)"
    classes = ("DDPMPipeline", "DDIMPipeline", "PNDMPipeline", "LDMPipeline")
    task = "unconditional"
    needs = ()
    takes_prompt = False

    def check_request(self, pipe, req: Request) -> None:
        if (req.height or req.width or req.guidance_scale is not None or req.extra
                or req.image is not None or req.mask is not None or req.strength is not None
                or req.control_image is not None):
            raise InputError(f"{type(pipe).__name__} is unconditional; it takes no size, guidance, "
                             "source image or pipeline arguments")

    def size(self, pipe, req: Request) -> tuple[int, int]:
        size = pipe.unet.config.sample_size
        return (size, size) if isinstance(size, int) else tuple(size)

    def latent_shape(self, pipe, height: int, width: int) -> tuple[int, ...]:
        return (pipe.unet.config.in_channels, height, width)

    def run(self, pipe, req: Request, *, noise: Noise, generators: list) -> list:
        import torch

        self.check_request(pipe, req)
        unet, scheduler = pipe.unet, pipe.scheduler
        latents = noise(self.latent_shape(pipe, *self.size(pipe, req)))
        latents = latents.to(device=unet.device, dtype=unet.dtype) * scheduler.init_noise_sigma
        scheduler.set_timesteps(req.steps)
        step_params = inspect.signature(scheduler.step).parameters
        step_kwargs = {"generator": generators} if "generator" in step_params else {}
        with torch.no_grad():
            for t in pipe.progress_bar(scheduler.timesteps):
                model_input = scheduler.scale_model_input(latents, t)
                noise_pred = unet(model_input, t).sample
                latents = scheduler.step(noise_pred, t, latents, **step_kwargs).prev_sample
            decoder = getattr(pipe, "vqvae", None) or getattr(pipe, "vae", None)
            if decoder is not None:
                latents = latents / getattr(decoder.config, "scaling_factor", 1.0)
                latents = decoder.decode(latents).sample
        images = (latents / 2 + 0.5).clamp(0, 1).cpu().permute(0, 2, 3, 1).float().numpy()
        return pipe.numpy_to_pil(images)


UNCONDITIONAL = Unconditional()
