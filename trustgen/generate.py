"""TrustedPipeline: every image a diffusers pipeline makes leaves watermarked and signed.

The wrapper composes a pipeline rather than subclassing it. Each pipeline class it accepts
belongs to a family (``trustgen.pipelines``) that says how its initial noise is shaped and what
conditioning it takes; a class no family names is refused, never run unmarked. The wrapper owns
the initial noise (drawn from one seeded CPU ``torch.Generator`` per image, marked by the latent
watermark where the model can be inverted) and records the seed, scheduler, steps, guidance and
adapters. For each image it embeds the watermark, then signs the C2PA manifest over the
watermarked pixels, all in memory: nothing touches disk until ``GeneratedImage.save`` writes the
signed file atomically. An edit (img2img, inpainting, instruction editing) is signed with its
source as the parent ingredient, its mask as an input, and the generated region recorded.

Each manifest names two soft bindings (the watermark's content id and a PDQ fingerprint of the
signed pixels) and is registered in a manifest store (``register``, on by default: the local
SQLite store), so that a copy stripped of its credentials can be recovered by ``verify``. A store
that cannot be used loses no image: the image is still returned (``GeneratedImage.registered``
False) and a ``RegistrationWarning`` names the store and why.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import InputError
from .evidence import Provenance
from .media import atomic_write, encode_image, sha256_hex, writable_format
from .pipelines import Family, Request, adapters, family_for


class RegistrationWarning(UserWarning):
    """A generated image was signed but could not be registered in the manifest store."""


def soft_bindings(image, content_id: str, *, key: bytes | None, scheme: str,
                  latent: bool = False) -> tuple[list, list]:
    """The ``c2pa.soft-binding`` assertions (watermark under ``key``, fingerprint of ``image``,
    the signed pixels; with ``latent``, the latent watermark too) and the ``c2pa.watermarked``
    action, for ``credentials.sign``."""
    from . import fingerprint as fp, softbinding as sb
    from .watermark import PUBLIC_KEY, key_label

    bindings = [sb.watermark_binding(content_id, key=key_label(key or PUBLIC_KEY), scheme=scheme),
                sb.fingerprint_binding(fp.compute(image))]
    if latent:
        bindings.append(sb.latent_binding(content_id, key=key_label(key)))
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


@dataclass(frozen=True)
class EditInput:
    """An image an edit starts from: the file's bytes as given (hashed; the source's kept as
    the parent ingredient, its own manifest with it), its format and title, and its pixels."""

    data: bytes
    fmt: str
    title: str
    image: Any  # PIL.Image.Image: RGB for a source, L for a mask

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


def edit_input(value: Any, what: str, *, mask: bool = False, name: str | None = None) -> EditInput:
    """A file path, the file's bytes or a PIL image, read and decoded; a PIL image is kept as
    the PNG it encodes to. ``name``: the title's stem when the input is not a file (``what``)."""
    from .media import decodes, extension_for, identify, read_file

    path = None
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        data = read_file(path)
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif _is_pil(value):
        image = value.convert("L" if mask else "RGB")
        return EditInput(encode_image(image, "png"), "png", f"{name or what}.png", image)
    else:
        raise InputError(f"the {what} must be a file path, bytes or a PIL image, "
                         f"not {type(value).__name__}")
    fmt = identify(data, path)
    if not decodes(fmt):
        raise InputError(f"the {what} is not an image trustgen decodes", path=path)
    from .media import decode_image

    image = decode_image(data, path=path, rgb=not mask)
    title = path.name if path is not None else f"{name or what}{extension_for(fmt)}"
    return EditInput(data, fmt, title, image.convert("L") if mask else image)


def mask_region(mask, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h): the bounding box of the mask's nonzero pixels, scaled to ``size`` (the
    output's width and height) and rounded outwards to whole pixels."""
    import numpy as np

    rows, cols = np.nonzero(np.asarray(mask.convert("L")))
    if not len(rows):
        raise InputError("the mask selects nothing (no nonzero pixel); nothing would be inpainted")
    sx, sy = size[0] / mask.width, size[1] / mask.height
    x0, y0 = math.floor(cols.min() * sx), math.floor(rows.min() * sy)
    x1, y1 = math.ceil((cols.max() + 1) * sx), math.ceil((rows.max() + 1) * sy)
    return x0, y0, x1 - x0, y1 - y0


class TrustedPipeline:
    """Wrap a diffusers pipeline so that each output carries a watermark and content credentials.

    ``identity`` (a ``trustgen.Identity``) supplies both the C2PA signer and the
    watermark key; without one, the local identity (``trustgen keys init``) is loaded.
    ``tsa_url`` names an RFC 3161 time-stamp authority: each signature is time-stamped, so the
    credentials stay valid after the signing certificate expires. ``register`` keeps each
    manifest in the manifest store ``store`` (a path or ``postgresql://`` URL; None: the local
    SQLite store in ``$TRUSTGEN_HOME``). ``latent_watermark``: mark the initial noise with the
    content id (None: where ``watermark.latent.can_invert`` says the mark can be read back).
    ``progress_bar=False`` silences diffusers' progress bars.
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
        latent_watermark: bool | None = None,
        progress_bar: bool = True,
    ):
        self.family: Family = family_for(pipeline)  # refuses a pipeline it does not know
        self.pipeline = pipeline
        self.identity = identity
        self.model_id = model_id or _model_id(pipeline)
        self.record_prompt = record_prompt
        self.training_mining = training_mining
        self.thumbnail = thumbnail
        self.tsa_url = tsa_url
        self.register = register
        self.store = store
        self.latent_watermark = latent_watermark
        if not progress_bar:
            pipeline.set_progress_bar_config(disable=True)
        self._model_sha256: str | None = None

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str | None = None,
                        **kwargs: Any) -> "TrustedPipeline":
        """Load a local folder in diffusers' layout (``model_index.json``); never downloads.

        ``path=None`` loads trustgen's embedded default model; ``device`` moves it there.
        """
        from .pipelines.load import check_device, load_folder

        folder = Path(path) if path is not None else default_model_path()
        if device is not None:  # a device string torch cannot parse is refused before loading
            check_device(device)
        pipe = load_folder(folder, dtype=kwargs.pop("dtype", None),
                           quiet=not kwargs.get("progress_bar", True))
        kwargs.setdefault("model_id", "trustgen-default" if path is None else folder.name)
        wrapped = cls(pipe, **kwargs)
        return wrapped if device is None else wrapped.to(device)

    def to(self, device: Any) -> "TrustedPipeline":
        """Move the pipeline to ``device`` (``cuda``, ``mps``...). The noise is still drawn on
        the CPU, so a seed gives the same noise on every device."""
        try:
            self.pipeline.to(device)
        except (RuntimeError, ValueError, TypeError, AssertionError) as err:
            from .pipelines.load import first_line

            raise InputError(f"cannot use device {str(device)!r}: {first_line(err)}") from None
        return self

    @property
    def task(self) -> str:
        return self.family.task

    @property
    def is_text_conditioned(self) -> bool:
        return self.family.takes_prompt

    @property
    def model_sha256(self) -> str:
        """SHA-256 over every base weight tensor of every component, in a stable order
        (adapters apart: ``pipelines.adapters``)."""
        if self._model_sha256 is None:
            from .pipelines.weights import model_sha256

            self._model_sha256 = model_sha256(self.pipeline)
        return self._model_sha256

    def __call__(
        self,
        prompt: str | None = None,
        *,
        image: Any = None,
        mask_image: Any = None,
        strength: float | None = None,
        control_image: Any = None,
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
        then watermark and sign each one.

        An edit takes its source ``image`` (a path, the file's bytes or a PIL image; a file's
        own content credentials stay in the chain), inpainting a ``mask_image`` too (white
        where the image is regenerated, the source's size) and ``strength``; a ControlNet
        pipeline takes ``control_image``."""
        from . import watermark
        from .credentials.sign import IngredientSource, sign_edit, sign_generated

        output_format = writable_format(output_format).name  # refused before sampling, not after
        if num_images < 1:
            raise InputError("number of images must be at least 1")
        self._check_prompt(prompt)
        if prompt is None and self.is_text_conditioned:
            prompt = ""  # what the pipeline samples with, so that is what the record hashes
        source = None if image is None else edit_input(image, "source")
        mask = None if mask_image is None else edit_input(mask_image, "mask", mask=True)
        control = (None if control_image is None
                   else edit_input(control_image, "control image", name="control"))
        if mask is not None:
            mask_region(mask.image, mask.image.size)  # an empty mask is refused before sampling
        guidance_scale = self._guidance(guidance_scale)
        request = Request(prompt, num_inference_steps, guidance_scale, height, width,
                          source and source.image, mask and mask.image, strength,
                          control and control.image, pipeline_kwargs)
        self.family.check_request(self.pipeline, request)
        marked = self._latent_marked(request)
        identity = self._identity()
        signer = identity.signer(tsa_url=self.tsa_url)  # asks the authority before sampling
        seed = secrets.randbits(31) if seed is None else int(seed)
        seeds = [seed + i for i in range(num_images)]
        content_ids = [watermark.new_content_id() for _ in seeds]  # before sampling: the latent mark
        pixels = self.sample(prompt, seeds=seeds, num_inference_steps=num_inference_steps,
                             guidance_scale=guidance_scale, height=height, width=width,
                             image=request.image, mask_image=request.mask, strength=strength,
                             control_image=request.control_image,
                             content_ids=content_ids if marked else None, **pipeline_kwargs)
        record = {
            "task": self.family.task,
            "strength": self.family.strength(self.pipeline, request),
            "source_sha256": source and source.sha256,
            "mask_sha256": mask and mask.sha256,
            "control_sha256": control and control.sha256,
            "adapters": tuple(adapters(self.pipeline)),
            "latent_watermark": marked,
        }
        from PIL.Image import LANCZOS  # PIL loads with the first image, not with trustgen

        outputs = []
        for picture, image_seed, content_id in zip(pixels, seeds, content_ids):
            # A mark on a side under watermark.MARK_SIDE does not survive JPEG 50 or a halving:
            # the output is enlarged by a whole factor (the default model's 256 px become 512).
            picture = picture.resize(watermark.marking_size(*picture.size), LANCZOS)
            region = None if mask is None else mask_region(mask.image, picture.size)
            provenance = self._provenance(
                picture, content_id, image_seed, prompt, num_inference_steps, guidance_scale,
                region=region and dict(zip(("x", "y", "width", "height"), region)), **record)
            # embed reads the mark back and raises WatermarkError if it does not read
            picture = watermark.embed(picture, content_id, key=identity.watermark_key)
            encoded = encode_image(picture, output_format, quality=quality)
            bindings, actions = soft_bindings(
                _decoded(encoded),  # the pixels signed, as a reader decodes them (JPEG loses some)
                content_id, key=identity.watermark_key, scheme=watermark.DEFAULT_SCHEME,
                latent=marked)
            common = {"training_mining": self.training_mining, "thumbnail": self.thumbnail,
                      "soft_bindings": bindings, "extra_actions": actions}
            if source is None:
                data = sign_generated(encoded, output_format, provenance, signer, **common,
                                      inputs=[] if control is None else [IngredientSource(
                                          control.data, control.fmt, control.title)])
            else:
                data = sign_edit(
                    encoded, output_format, provenance, signer,
                    source=IngredientSource(source.data, source.fmt, source.title),
                    mask=None if mask is None else IngredientSource(
                        encode_image(mask.image, "png"), "png", "mask.png"),
                    source_type=self.family.source_type, region=region,
                    description=f"{self.family.verb} with {self.model_id}", **common)
            outputs.append(GeneratedImage(picture, data, output_format, provenance))
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
        image: Any = None,
        mask_image: Any = None,
        strength: float | None = None,
        control_image: Any = None,
        content_ids: list[str] | None = None,
        **pipeline_kwargs: Any,
    ) -> list[Any]:
        """The sampler alone: one unsigned PIL image per seed, for research and benchmarks (the
        wrapped pipeline gives the same without trustgen). With ``content_ids`` (one per seed)
        the initial noise carries them (the latent watermark); without, it is plain noise.
        Images in are as for the call. Use the call for outputs that leave the process."""
        import torch

        image, mask_image, control_image = (
            None if value is None else value if _is_pil(value) else edit_input(value, what, mask=m).image
            for value, what, m in ((image, "source", False), (mask_image, "mask", True),
                                   (control_image, "control image", False)))
        if num_inference_steps < 1:
            raise InputError("number of steps must be at least 1")
        self._check_prompt(prompt)
        if content_ids is not None and len(content_ids) != len(seeds):
            raise InputError("give one content id per seed")
        request = Request(prompt if prompt is not None or not self.is_text_conditioned else "",
                          num_inference_steps, self._guidance(guidance_scale), height, width,
                          image, mask_image, strength, control_image, pipeline_kwargs)

        def noise(shape: tuple) -> Any:
            """One row per seed, each from its own seeded CPU generator."""
            generators = self._generators(seeds)
            if content_ids is None:
                rows = [torch.randn(shape, generator=g, dtype=torch.float32) for g in generators]
            else:
                from .watermark.latent import marked_noise

                key = self._identity().watermark_key
                rows = [marked_noise(tuple(shape), cid, key=key, generator=g)
                        for cid, g in zip(content_ids, generators)]
            return torch.stack(rows)

        return self.family.run(self.pipeline, request, noise=noise,
                               generators=self._generators(seeds))

    # -- sampling ---------------------------------------------------------------------------

    def _check_prompt(self, prompt: str | None) -> None:
        if prompt is not None and not self.is_text_conditioned:
            raise InputError(f"model {self.model_id!r} is unconditional "
                             f"({type(self.pipeline).__name__}); it takes no prompt")

    def _latent_marked(self, request: Request) -> bool:
        """Whether this request's initial noise carries the latent watermark."""
        draws = self.family.draws_noise(self.pipeline, request)
        if self.latent_watermark is None:  # on where it can be read back
            if self.family.is_edit or not draws:
                return False
            from .watermark.latent import can_invert

            return bool(can_invert(self.pipeline))
        if self.latent_watermark and not draws:
            raise InputError(f"{type(self.pipeline).__name__} draws this request's noise itself "
                             "(an edit below strength 1); it cannot carry a latent watermark")
        return bool(self.latent_watermark)

    def _guidance(self, guidance_scale: float | None) -> float | None:
        """The guidance actually used: the caller's, else the pipeline's own default."""
        params = inspect.signature(self.pipeline.__call__).parameters
        if guidance_scale is None and "guidance_scale" in params and self.is_text_conditioned:
            return params["guidance_scale"].default
        return guidance_scale

    def _generators(self, seeds: list[int]):
        import torch

        return [torch.Generator("cpu").manual_seed(s) for s in seeds]

    # -- records ------------------------------------------------------------------------------

    def _identity(self):
        if self.identity is None:
            from .credentials.identity import Identity

            self.identity = Identity.load()
        return self.identity

    def _provenance(self, image, content_id: str, seed: int, prompt: str | None, steps: int,
                    guidance_scale: float | None, **record: Any) -> Provenance:
        return Provenance(
            content_id=content_id,
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
            **record,
        )


def _is_pil(value: Any) -> bool:
    return hasattr(value, "mode") and hasattr(value, "size") and hasattr(value, "convert")


def _decoded(data: bytes):
    from .media import decode_image

    return decode_image(data, rgb=True)


def _model_id(pipeline: Any) -> str:
    name = getattr(getattr(pipeline, "config", None), "_name_or_path", None)
    return Path(name).name if name else type(pipeline).__name__
