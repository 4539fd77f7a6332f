"""Edit families: a source image (and, for inpainting, a mask) goes in; the output is its edit.

The output has the source's size, rounded down to whole latent cells (diffusers resizes the
source to that). Where the pipeline starts from pure noise (inpainting at strength 1,
instruction editing) the wrapper draws it; where the noise is added to the encoded source
(img2img, inpainting below strength 1) the pipeline draws it from the wrapper's seeded
generators, so the seed still determines the image.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Family, Request


class Edit(Family):
    task = "image-to-image"
    verb = "regenerated (img2img)"
    takes_mask = False
    takes_strength = True

    def check_request(self, pipe, req: Request) -> None:
        kind = type(pipe).__name__
        if req.image is None:
            raise InputError(f"{kind} edits an image: give the source image")
        if req.mask is None and self.takes_mask:
            raise InputError(f"{kind} inpaints: give a mask (white where the image is regenerated)")
        if req.mask is not None and not self.takes_mask:
            raise InputError(f"{kind} does {self.task}; it takes no mask")
        if req.strength is not None and not self.takes_strength:
            raise InputError(f"{kind} does {self.task}; it takes no strength")
        if req.strength is not None and not 0 < req.strength <= 1:
            raise InputError(f"strength must be in (0, 1], not {req.strength}")
        if req.height or req.width:
            raise InputError("an edit has its source's size; give no height or width")
        if req.mask is not None and req.mask.size != req.image.size:
            raise InputError(f"the mask is {req.mask.width}x{req.mask.height} but the source is "
                             f"{req.image.width}x{req.image.height}")
        if req.control_image is not None:
            raise InputError(f"{kind} has no ControlNet; it takes no control image")
        strength = self.strength(pipe, req)
        if strength is not None and int(req.steps * strength) < 1:
            raise InputError(f"strength {strength} of {req.steps} steps runs no denoising step; "
                             "raise the steps or the strength")

    def strength(self, pipe, req: Request) -> float | None:
        """The strength used: the caller's, else the pipeline's own default."""
        if not self.takes_strength:
            return None
        return req.strength if req.strength is not None else self.default(pipe, "strength")

    def size(self, pipe, req: Request) -> tuple[int, int]:
        step = self.scale(pipe)
        height, width = req.image.height // step * step, req.image.width // step * step
        if not height or not width:
            raise InputError(f"the source image is smaller than {step} pixels")
        return height, width

    def latent_shape(self, pipe, height: int, width: int) -> tuple[int, ...]:
        # the denoiser may take more channels (the masked source, the mask) than the noise has
        return (pipe.vae.config.latent_channels, height // self.scale(pipe), width // self.scale(pipe))

    def draws_noise(self, pipe, req: Request) -> bool:
        return False

    def conditioning(self, pipe, req: Request, height: int, width: int, batch: int) -> dict:
        kwargs = {"image": [req.image] * batch}  # one source per image, as diffusers wants
        if self.takes_mask:
            kwargs["mask_image"] = [req.mask] * batch
        strength = self.strength(pipe, req)
        if strength is not None:
            kwargs["strength"] = strength
        params = self.parameters(pipe)
        if "height" in params:
            kwargs.update(height=height, width=width)
        return kwargs


class Inpaint(Edit):
    task = "inpainting"
    source_type = "compositeWithTrainedAlgorithmicMedia"  # only the masked region is generated
    verb = "inpainted"
    takes_mask = True

    def draws_noise(self, pipe, req: Request) -> bool:
        # diffusers treats given latents as pure noise; below strength 1 it must add its own
        return self.strength(pipe, req) == 1.0


class Instruct(Edit):
    """InstructPix2Pix: the prompt is the instruction; sampling starts from pure noise."""

    task = "instruction-editing"
    verb = "edited by instruction"
    takes_strength = False

    def draws_noise(self, pipe, req: Request) -> bool:
        return True


IMG2IMG = Edit("img2img (SD 1/2)", ("StableDiffusionImg2ImgPipeline",))
INPAINT = Inpaint("Inpainting (SD 1/2)", ("StableDiffusionInpaintPipeline",))
INSTRUCT = Instruct("InstructPix2Pix (SD 1/2)", ("StableDiffusionInstructPix2PixPipeline",))
SDXL_IMG2IMG = Edit("img2img (SDXL)", ("StableDiffusionXLImg2ImgPipeline",))
SDXL_INPAINT = Inpaint("Inpainting (SDXL)", ("StableDiffusionXLInpaintPipeline",))
SDXL_INSTRUCT = Instruct("InstructPix2Pix (SDXL)", ("StableDiffusionXLInstructPix2PixPipeline",))
