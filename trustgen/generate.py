"""TrustedPipeline: every image a diffusers pipeline makes leaves watermarked and signed.

The wrapper composes a pipeline rather than subclassing it, so any diffusers pipeline object
works. It owns the initial latents (drawn from one seeded ``torch.Generator`` per image) so the
seed is recorded and in-generation watermarks can take over the latents later. For each image it
embeds the watermark, then signs the C2PA manifest over the watermarked pixels, all in memory:
nothing touches disk until ``GeneratedImage.save`` writes the signed file atomically.

Each manifest names two soft bindings (the watermark's content id and a PDQ fingerprint of the
signed pixels) and is registered in a manifest store (``register``, on by default: the local
SQLite store), so that a copy stripped of its credentials can be recovered by ``verify``. A store
that cannot be used loses no image: the image is still returned (``GeneratedImage.registered``
False) and a ``RegistrationWarning`` names the store and why.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import InputError, missing_extra
from .evidence import Provenance
from .media import atomic_write, encode_image, writable_format


class RegistrationWarning(UserWarning):
    """A generated image was signed but could not be registered in the manifest store."""


def soft_bindings(image, content_id: str, *, key: bytes | None, scheme: str) -> tuple[list, list]:
    """The ``c2pa.soft-binding`` assertions (watermark under ``key``, fingerprint of ``image``,
    the signed pixels) and the ``c2pa.watermarked`` action, for ``credentials.sign``."""
    from . import fingerprint as fp, softbinding as sb
    from .watermark import PUBLIC_KEY, key_label

    bindings = [sb.watermark_binding(content_id, key=key_label(key or PUBLIC_KEY), scheme=scheme),
                sb.fingerprint_binding(fp.compute(image))]
    agent = {"name": "trustgen", "version": __version__}
    return [sb.assertion(b) for b in bindings], [sb.watermarked_action(agent)]


def default_model_path() -> Path:
    """The small model shipped inside the package (trained by training/default_model/)."""
    from importlib.resources import files

    return Path(str(files("trustgen") / "models" / "default"))


@dataclass(frozen=True)
class GeneratedImage:
    """One output: the watermarked pixels, the signed file bytes, and what they attest."""

    image: Any  # PIL.Image.Image with the watermark embedded
    data: bytes  # the encoded file with its C2PA manifest
    format: str
    provenance: Provenance
    registered: bool = False  # in the manifest store (False: not asked, or the store failed)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        return atomic_write(path, self.data, overwrite=overwrite)


class TrustedPipeline:
    """Wrap a diffusers pipeline so that each output carries a watermark and content credentials.

    ``identity`` (a ``trustgen.Identity``) supplies both the C2PA signer and the
    watermark key; without one, the local identity (``trustgen keys init``) is loaded.
    ``tsa_url`` names an RFC 3161 time-stamp authority: each signature is time-stamped, so the
    credentials stay valid after the signing certificate expires. ``register`` keeps each
    manifest in the manifest store ``store`` (a path or ``postgresql://`` URL; None: the local
    SQLite store in ``$TRUSTGEN_HOME``).
    """

    def __init__(
        self,
        pipeline: Any,
        *,
        identity: Any = None,
        model_id: str | None = None,
        record_prompt: bool = False,
        training_mining: str = "notAllowed",
        thumbnail: bool = True,
        tsa_url: str | None = None,
        register: bool = True,
        store: Any = None,
    ):
        for name in ("unet", "scheduler"):
            if getattr(pipeline, name, None) is None:
                raise InputError(f"pipeline {type(pipeline).__name__} has no {name}; cannot wrap it")
        self.pipeline = pipeline
        self.identity = identity
        self.model_id = model_id or _model_id(pipeline)
        self.record_prompt = record_prompt
        self.training_mining = training_mining
        self.thumbnail = thumbnail
        self.tsa_url = tsa_url
        self.register = register
        self.store = store
        self._model_sha256: str | None = None

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, **kwargs: Any) -> "TrustedPipeline":
        """Load a local folder in diffusers' layout (``model_index.json``); never downloads.

        ``path=None`` loads trustgen's embedded default model.
        """
        from .media import read_file

        folder = Path(path) if path is not None else default_model_path()
        if not folder.exists():
            raise InputError("no such model folder", path=folder)
        if not folder.is_dir():
            raise InputError("not a folder; expected a diffusers pipeline folder", path=folder)
        if not (folder / "model_index.json").is_file():
            raise InputError("no model_index.json: not a diffusers pipeline folder", path=folder)
        read_file(folder / "model_index.json")
        try:
            import diffusers
            import torch
        except ImportError as err:
            raise missing_extra(err, "generating images") from None

        diffusers.utils.logging.set_verbosity_error()
        try:  # float32 on the CPU by default, whatever the stored precision (ours is float16)
            pipe = diffusers.DiffusionPipeline.from_pretrained(
                str(folder), local_files_only=True, dtype=kwargs.pop("dtype", torch.float32))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"cannot load the pipeline: {first}", path=folder) from None
        kwargs.setdefault("model_id", "trustgen-default" if path is None else folder.name)
        return cls(pipe, **kwargs)

    @property
    def is_text_conditioned(self) -> bool:
        return "prompt" in inspect.signature(self.pipeline.__call__).parameters

    @property
    def model_sha256(self) -> str:
        """SHA-256 over every weight tensor of every component, in a stable order."""
        if self._model_sha256 is None:
            self._model_sha256 = _weights_sha256(self.pipeline)
        return self._model_sha256

    def __call__(
        self,
        prompt: str | None = None,
        *,
        num_images: int = 1,
        num_inference_steps: int = 50,
        guidance_scale: float | None = None,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        output_format: str = "png",
        quality: int = 95,
        **pipeline_kwargs: Any,
    ) -> list[GeneratedImage]:
        """Run the full sampler for ``num_images`` images (image ``i`` uses seed ``seed + i``),
        then watermark and sign each one."""
        from . import watermark
        from .credentials.sign import sign_generated

        output_format = writable_format(output_format).name  # refused before sampling, not after
        if num_images < 1:
            raise InputError("number of images must be at least 1")
        if prompt is None and self.is_text_conditioned:
            prompt = ""  # what the pipeline samples with, so that is what the record hashes
        identity = self._identity()
        signer = identity.signer(tsa_url=self.tsa_url)  # asks the authority before sampling
        seed = secrets.randbits(31) if seed is None else int(seed)
        seeds = [seed + i for i in range(num_images)]
        guidance_scale = self._guidance(guidance_scale)
        pixels = self.sample(prompt, seeds=seeds, num_inference_steps=num_inference_steps,
                             guidance_scale=guidance_scale, height=height, width=width,
                             **pipeline_kwargs)
        from PIL.Image import LANCZOS  # PIL loads with the first image, not with trustgen

        outputs = []
        for image, image_seed in zip(pixels, seeds):
            # A mark on a side under watermark.MARK_SIDE does not survive JPEG 50 or a halving:
            # the output is enlarged by a whole factor (the default model's 256 px become 512).
            image = image.resize(watermark.marking_size(*image.size), LANCZOS)
            provenance = self._provenance(image, image_seed, prompt, num_inference_steps,
                                          guidance_scale)
            # embed reads the mark back and raises WatermarkError if it does not read
            marked = watermark.embed(image, provenance.content_id, key=identity.watermark_key)
            encoded = encode_image(marked, output_format, quality=quality)
            bindings, actions = soft_bindings(
                _decoded(encoded),  # the pixels signed, as a reader decodes them (JPEG loses some)
                provenance.content_id, key=identity.watermark_key, scheme=watermark.DEFAULT_SCHEME)
            data = sign_generated(
                encoded,
                output_format,
                provenance,
                signer,
                training_mining=self.training_mining,
                thumbnail=self.thumbnail,
                soft_bindings=bindings,
                extra_actions=actions,
            )
            outputs.append(GeneratedImage(marked, data, output_format, provenance))
        return self._registered(outputs) if self.register else outputs

    def _registered(self, outputs: list[GeneratedImage]) -> list[GeneratedImage]:
        """Each output registered in the store; a store failure warns and keeps the image."""
        import dataclasses

        from .errors import TrustgenError
        from .store import open_store, register

        done = list(outputs)
        try:
            with open_store(self.store) as store:
                for i, out in enumerate(outputs):
                    register(out.data, store=store)
                    done[i] = dataclasses.replace(out, registered=True)
        except TrustgenError as err:
            warnings.warn(f"signed but not registered in the manifest store: {err}",
                          RegistrationWarning, stacklevel=3)
        return done

    def sample(
        self,
        prompt: str | None = None,
        *,
        seeds: list[int],
        num_inference_steps: int = 50,
        guidance_scale: float | None = None,
        height: int | None = None,
        width: int | None = None,
        **pipeline_kwargs: Any,
    ) -> list[Any]:
        """The sampler alone: one unmarked, unsigned PIL image per seed, for research and
        benchmarks (the wrapped pipeline gives the same without trustgen). Use the call for
        outputs that leave the process."""
        if num_inference_steps < 1:
            raise InputError("number of steps must be at least 1")
        if not self.is_text_conditioned:
            if prompt is not None:
                raise InputError(
                    f"model {self.model_id!r} is unconditional ({type(self.pipeline).__name__}); "
                    "it takes no prompt"
                )
            if height or width or guidance_scale is not None or pipeline_kwargs:
                raise InputError(
                    f"model {self.model_id!r} is unconditional; it takes no size, guidance or "
                    "pipeline arguments"
                )
            return self._sample_unconditional(seeds, num_inference_steps)
        return self._sample_text(prompt or "", seeds, num_inference_steps,
                                 self._guidance(guidance_scale), height, width, pipeline_kwargs)

    # -- sampling ---------------------------------------------------------------------------

    def _guidance(self, guidance_scale: float | None) -> float | None:
        """The guidance actually used: the caller's, else the pipeline's own default."""
        params = inspect.signature(self.pipeline.__call__).parameters
        if guidance_scale is None and "guidance_scale" in params and self.is_text_conditioned:
            return params["guidance_scale"].default
        return guidance_scale

    def _generators(self, seeds: list[int]):
        import torch

        return [torch.Generator("cpu").manual_seed(s) for s in seeds]

    def _initial_latents(self, seeds: list[int], shape: tuple[int, ...]):
        """One latent tensor per seed, drawn on the CPU so results match across devices."""
        import torch

        unet = self.pipeline.unet
        latents = [torch.randn(shape, generator=g, dtype=torch.float32) for g in self._generators(seeds)]
        return torch.stack(latents).to(device=unet.device, dtype=unet.dtype)

    def _sample_text(self, prompt, seeds, steps, guidance_scale, height, width, extra):
        """Text-to-image pipelines take ``latents``; the prompt passes straight through."""
        pipe = self.pipeline
        if "latents" not in inspect.signature(pipe.__call__).parameters:
            raise InputError(f"{type(pipe).__name__} does not accept initial latents; cannot wrap it")
        scale = getattr(pipe, "vae_scale_factor", 8)
        sample = pipe.unet.config.sample_size
        height = height or sample * scale
        width = width or sample * scale
        if height % scale or width % scale:
            raise InputError(f"height and width must be multiples of {scale}")
        latents = self._initial_latents(
            seeds, (pipe.unet.config.in_channels, height // scale, width // scale)
        )
        kwargs = dict(extra)
        if guidance_scale is not None:
            kwargs["guidance_scale"] = guidance_scale
        result = pipe(
            prompt=[prompt] * len(seeds),
            height=height,
            width=width,
            num_inference_steps=steps,
            latents=latents,
            generator=self._generators(seeds),
            output_type="pil",
            **kwargs,
        )
        return list(result.images)

    def _sample_unconditional(self, seeds, steps):
        """Unconditional pipelines (DDPM, DDIM, LDM) take no ``latents`` argument, so the wrapper
        runs their denoising loop itself, with the pipeline's own unet, scheduler, decoder and
        progress bar."""
        import torch

        pipe = self.pipeline
        unet, scheduler = pipe.unet, pipe.scheduler
        size = unet.config.sample_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        generators = self._generators(seeds)
        latents = self._initial_latents(seeds, (unet.config.in_channels, *size))
        latents = latents * scheduler.init_noise_sigma
        scheduler.set_timesteps(steps)
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

    # -- records ------------------------------------------------------------------------------

    def _identity(self):
        if self.identity is None:
            from .credentials.identity import Identity

            self.identity = Identity.load()
        return self.identity

    def _provenance(self, image, seed: int, prompt: str | None, steps: int,
                    guidance_scale: float | None) -> Provenance:
        from . import watermark

        return Provenance(
            content_id=watermark.new_content_id(),
            model_id=self.model_id,
            model_sha256=self.model_sha256,
            pipeline=type(self.pipeline).__name__,
            scheduler=type(self.pipeline.scheduler).__name__,
            steps=steps,
            guidance_scale=guidance_scale,
            seed=seed,
            width=image.width,
            height=image.height,
            prompt_sha256=None if prompt is None else hashlib.sha256(prompt.encode()).hexdigest(),
            prompt=prompt if self.record_prompt else None,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            generator=f"trustgen/{__version__}",
        )


def _decoded(data: bytes):
    from .media import decode_image

    return decode_image(data, rgb=True)


def _model_id(pipeline: Any) -> str:
    name = getattr(getattr(pipeline, "config", None), "_name_or_path", None)
    return Path(name).name if name else type(pipeline).__name__


def _weights_sha256(pipeline: Any) -> str:
    """Hash tensors as raw bytes (dtype-agnostic via a uint8 view), components sorted by name."""
    import torch

    digest = hashlib.sha256()
    for name, component in sorted(pipeline.components.items()):
        if not isinstance(component, torch.nn.Module):
            continue
        for key, tensor in sorted(component.state_dict().items()):
            digest.update(f"{name}.{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
