"""Text-to-image families: the prompt passes through, the wrapper draws the noise.

SDXL's micro-conditioning (original and target size, crop) is derived by the pipeline from the
height and width the wrapper passes, so it needs nothing of its own here.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Family, Request


class Transformer(Family):
    """Diffusion transformers (SD3, PixArt): patches of latent cells."""

    denoiser_name = "transformer"

    def multiple(self, pipe) -> int:
        return self.scale(pipe) * int(getattr(self.denoiser(pipe).config, "patch_size", 1) or 1)


class PixArt(Transformer):
    name = "PixArt-α / Σ (DiT)"
    classes = ("PixArtAlphaPipeline", "PixArtSigmaPipeline")

    def conditioning(self, pipe, req: Request, height: int, width: int, batch: int) -> dict:
        # Resolution binning would sample another size than the noise the wrapper drew.
        return {"height": height, "width": width, "use_resolution_binning": False}


class Flux(Family):
    """Flux: flow matching on 2x2-packed latents (a token per patch of 4 latent cells)."""

    name = "Flux (flow matching, packed latents)"
    classes = ("FluxPipeline",)
    denoiser_name = "transformer"

    def multiple(self, pipe) -> int:
        return self.scale(pipe) * 2

    def latent_shape(self, pipe, height: int, width: int) -> tuple[int, ...]:
        step = self.multiple(pipe)
        return (self.denoiser(pipe).config.in_channels // 4, 2 * (height // step), 2 * (width // step))

    def pack(self, pipe, latents, height: int, width: int):
        batch, channels, rows, cols = latents.shape
        return pipe._pack_latents(latents, batch, channels, rows, cols)


class ControlNet(Family):
    """Text-to-image steered by a control image (edges, depth, pose) through a ControlNet."""

    name = "ControlNet (SD 1/2)"
    classes = ("StableDiffusionControlNetPipeline",)
    needs = ("vae", "controlnet")

    def check_request(self, pipe, req: Request) -> None:
        if req.control_image is None:
            raise InputError(f"{type(pipe).__name__} needs a control image")
        super().check_request(pipe, Request(req.prompt, req.steps))

    def conditioning(self, pipe, req: Request, height: int, width: int, batch: int) -> dict:
        return {"height": height, "width": width, "image": req.control_image}


SD = Family()
SDXL = Family("Stable Diffusion XL (two text encoders, micro-conditioning)",
              ("StableDiffusionXLPipeline",))
SD3 = Transformer("Stable Diffusion 3 (MMDiT, flow matching)", ("StableDiffusion3Pipeline",))
FLUX = Flux()
PIXART = PixArt()
CONTROLNET = ControlNet()
SDXL_CONTROLNET = ControlNet("ControlNet (SDXL)", ("StableDiffusionXLControlNetPipeline",))
