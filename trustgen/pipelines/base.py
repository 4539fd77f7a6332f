"""The family interface, and the behaviour shared by every pipeline that takes ``latents``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

#: What a pipeline does with its inputs, as the generation record names it.
TASKS = ("unconditional", "text-to-image", "image-to-image", "inpainting", "instruction-editing")
#: Tasks whose output is an edit of a source image (the source is the parent ingredient).
EDIT_TASKS = ("image-to-image", "inpainting", "instruction-editing")


@dataclass(frozen=True)
class Request:
    """One sampling request as the wrapper hands it to a family (images are PIL images)."""

    prompt: str | None
    steps: int
    guidance_scale: float | None = None
    height: int | None = None
    width: int | None = None
    image: Any = None  # the source of an edit
    mask: Any = None  # inpainting: white where the image is regenerated
    strength: float | None = None
    control_image: Any = None  # ControlNet conditioning
    extra: Mapping[str, Any] = field(default_factory=dict)  # passed to the pipeline as given


#: ``noise(shape)``: a (batch, *shape) float32 CPU tensor, one row per seed, drawn by the wrapper.
Noise = Callable[[tuple], Any]


class Family:
    """A family of diffusers pipelines that take ``prompt`` and ``latents`` (text-to-image).

    Subclasses change what differs: the denoiser's name, the noise's shape and packing, the
    conditioning passed, and whether the wrapper can draw the noise at all for a request.
    """

    name = "Stable Diffusion 1/2"
    classes: tuple[str, ...] = ("StableDiffusionPipeline",)
    task = "text-to-image"
    denoiser_name = "unet"
    needs: tuple[str, ...] = ("vae",)  # components besides the denoiser and scheduler
    takes_prompt = True
    #: the IPTC digital source type of the output, and what the edit action's description says
    source_type = "trainedAlgorithmicMedia"
    verb = "generated"

    def __init__(self, name: str | None = None, classes: tuple[str, ...] | None = None):
        self.name = name or self.name
        self.classes = classes or self.classes

    def __repr__(self) -> str:
        return f"<family {self.name}>"

    @property
    def is_edit(self) -> bool:
        return self.task in EDIT_TASKS

    def check(self, pipe) -> None:
        for name in (self.denoiser_name, "scheduler", *self.needs):
            if getattr(pipe, name, None) is None:
                raise InputError(f"pipeline {type(pipe).__name__} has no {name}; cannot wrap it")

    def denoiser(self, pipe):
        return getattr(pipe, self.denoiser_name)

    def parameters(self, pipe) -> Mapping[str, inspect.Parameter]:
        return inspect.signature(pipe.__call__).parameters

    def default(self, pipe, name: str):
        """The pipeline's own default for a call parameter (None when it has none)."""
        param = self.parameters(pipe).get(name)
        return None if param is None or param.default is inspect.Parameter.empty else param.default

    # -- size and noise ---------------------------------------------------------------------

    def scale(self, pipe) -> int:
        """Pixels per latent cell."""
        return int(getattr(pipe, "vae_scale_factor", 8))

    def multiple(self, pipe) -> int:
        """What height and width must be multiples of."""
        return self.scale(pipe)

    def size(self, pipe, req: Request) -> tuple[int, int]:
        """(height, width) sampled: the caller's, else the pipeline's default."""
        sample = getattr(pipe, "default_sample_size", None) or self.denoiser(pipe).config.sample_size
        sample = (sample, sample) if isinstance(sample, int) else tuple(sample)
        height = req.height or sample[0] * self.scale(pipe)
        width = req.width or sample[1] * self.scale(pipe)
        step = self.multiple(pipe)
        if height % step or width % step:
            raise InputError(f"height and width must be multiples of {step} for {type(pipe).__name__}")
        return height, width

    def latent_shape(self, pipe, height: int, width: int) -> tuple[int, ...]:
        """One image's initial noise, unpacked: (channels, height, width) in latent cells."""
        channels = self.denoiser(pipe).config.in_channels
        return (channels, height // self.scale(pipe), width // self.scale(pipe))

    def pack(self, pipe, latents, height: int, width: int):
        """The noise as the pipeline's ``latents`` argument takes it."""
        return latents

    def strength(self, pipe, req: Request) -> float | None:
        """How much of an edit's source is regenerated (None: not an edit with a strength)."""
        return None

    def draws_noise(self, pipe, req: Request) -> bool:
        """Whether the wrapper draws this request's initial noise (else the pipeline draws it
        from the wrapper's seeded generators, e.g. img2img's noise added to the source)."""
        return True

    # -- the call ---------------------------------------------------------------------------

    def check_request(self, pipe, req: Request) -> None:
        """Refuse inputs this family does not take, by name."""
        kind = type(pipe).__name__
        if req.image is not None or req.mask is not None or req.strength is not None:
            raise InputError(f"{kind} does {self.task}; it takes no source image, mask or strength")
        if req.control_image is not None:
            raise InputError(f"{kind} has no ControlNet; it takes no control image")

    def conditioning(self, pipe, req: Request, height: int, width: int, batch: int) -> dict:
        """Call arguments beyond prompt, steps, guidance, latents and generators."""
        return {"height": height, "width": width}

    def run(self, pipe, req: Request, *, noise: Noise, generators: list) -> list:
        """One PIL image per generator."""
        self.check_request(pipe, req)
        height, width = self.size(pipe, req)
        kwargs = self.conditioning(pipe, req, height, width, len(generators))
        if self.draws_noise(pipe, req):
            latents = self.pack(pipe, noise(self.latent_shape(pipe, height, width)), height, width)
            denoiser = self.denoiser(pipe)
            kwargs["latents"] = latents.to(device=denoiser.device, dtype=denoiser.dtype)
        if req.guidance_scale is not None:
            kwargs["guidance_scale"] = req.guidance_scale
        kwargs.update(req.extra)
        result = pipe(prompt=[req.prompt or ""] * len(generators), num_inference_steps=req.steps,
                      generator=generators, output_type="pil", **kwargs)
        return list(result.images)
