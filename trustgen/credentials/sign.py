"""Manifests: what trustgen claims about an image, signed into the file by c2pa.

Two kinds of claim. ``sign_generated`` states that trustgen made the image with a named model
(``c2pa.created``, trainedAlgorithmicMedia, the generation record). ``sign_image`` signs images
trustgen did not make: a file that already carries credentials becomes the parent ingredient
(``c2pa.opened``), anything else is ``c2pa.created`` with the source type the user names.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple, Sequence

from .._version import __version__
from ..errors import InputError, SigningError, one_line
from ..media import (
    atomic_write, check_writable, format_for_path, lookup, probe_image, read_file, signable_formats,
    sniff_format,
)

if TYPE_CHECKING:  # signers are used only through c2pa_signer(): no import cycle with keys
    from .keys import SignerSpec

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"

#: The IPTC digital source type vocabulary, by the short names the CLI accepts.
SOURCE_TYPES = (
    "digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print",
    "minorHumanEdits", "humanEdits", "compositeWithTrainedAlgorithmicMedia",
    "algorithmicallyEnhanced", "digitalCreation", "dataDrivenMedia", "trainedAlgorithmicMedia",
    "algorithmicMedia", "screenCapture", "virtualRecording", "composite", "compositeCapture",
    "compositeSynthetic",
)

#: C2PA actions a user may record; c2pa.created / c2pa.opened are trustgen's to choose.
EDIT_ACTIONS = (
    "c2pa.color_adjustments", "c2pa.converted", "c2pa.cropped", "c2pa.drawing", "c2pa.edited",
    "c2pa.edited.metadata", "c2pa.filtered", "c2pa.orientation", "c2pa.placed",
    "c2pa.published", "c2pa.redacted", "c2pa.removed", "c2pa.repackaged", "c2pa.resized",
    "c2pa.transcoded", "c2pa.translated", "c2pa.watermarked", "c2pa.unknown",
)

RELATIONSHIPS = ("parentOf", "componentOf", "inputTo")

TRAINING_MINING = ("allowed", "notAllowed", "constrained")
_TRAINING_ENTRIES = (
    "cawg.ai_generative_training", "cawg.ai_inference", "cawg.ai_training", "cawg.data_mining",
)

#: Long edge of the embedded thumbnail; c2pa's default upscales to 1024 px (tens of KB). At 256 px
#: and c2pa's "low" JPEG quality a 512x512 photo's manifest stays near 14 KB (medium: ~22 KB).
THUMBNAIL_LONG_EDGE = 256


class IngredientSource(NamedTuple):
    """A file that went into the signed image: its bytes, format, title and relationship."""

    data: bytes
    fmt: str | None
    title: str
    relationship: str = "componentOf"
    source: str | None = None  # the file it was read from, to name in errors

    @property
    def name(self) -> str:
        return self.source or self.title


def source_type_uri(name: str) -> str:
    """``digitalCapture`` or a full IPTC URI -> the URI; unknown names are an input error."""
    if name.startswith(IPTC) and name[len(IPTC):] in SOURCE_TYPES:
        return name
    if name in SOURCE_TYPES:
        return IPTC + name
    raise InputError(f"unknown digital source type {name!r}; use one of: {', '.join(SOURCE_TYPES)}")


def parse_action(spec: str | tuple) -> dict:
    """``c2pa.cropped``, ``cropped`` or ``cropped:to 4:3`` -> a c2pa action object."""
    if isinstance(spec, tuple):
        name, description = spec
    else:
        name, _, description = spec.partition(":")
    name = name.strip()
    if "." not in name:
        name = "c2pa." + name
    if name.startswith("c2pa.") and name not in EDIT_ACTIONS:
        raise InputError(f"unknown action {name!r}; use one of: {', '.join(EDIT_ACTIONS)}")
    action = {"action": name, "softwareAgent": _software_agent()}
    if description:
        action["description"] = description.strip()
    return action


def sign_generated(
    data: bytes,
    fmt: str,
    provenance,
    signer: SignerSpec,
    *,
    training_mining: str | None = "notAllowed",
    thumbnail: bool = True,
) -> bytes:
    """Sign an image trustgen generated; the hard binding covers the (watermarked) pixels.

    ``training_mining`` fills every ``cawg.training-mining`` entry (None leaves it out).
    """
    mime = _mime(fmt)
    agent = _software_agent()
    agent["org.trustgen.model"] = provenance.model_id
    assertions = [
        _actions([{
            "action": "c2pa.created",
            "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
            "softwareAgent": agent,
        }]),
        {"label": "org.trustgen.generation", "data": provenance.to_dict()},
    ]
    if training_mining is not None:
        if training_mining not in TRAINING_MINING:
            raise InputError(f"training_mining must be one of {TRAINING_MINING}, not {training_mining!r}")
        assertions.append({
            "label": "cawg.training-mining",
            "data": {"entries": {k: {"use": training_mining} for k in _TRAINING_ENTRIES}},
        })
    title = f"{provenance.content_id}{lookup(mime).extension}"
    return _sign(_definition(title, mime, assertions), data, mime, signer, thumbnail=thumbnail)


def sign_image(
    data: bytes,
    fmt: str | None,
    signer: SignerSpec,
    *,
    source_type: str | None = None,
    parent: IngredientSource | tuple | None = None,
    ingredients: Iterable[IngredientSource | tuple] = (),
    actions: Sequence[str | tuple] = (),
    title: str = "image",
    thumbnail: bool = True,
    path: str | os.PathLike | None = None,
) -> bytes:
    """Sign an image trustgen did not generate; returns the signed file's bytes.

    The parent is ``parent`` if given, else the image itself when it already carries
    credentials (its manifest is kept as the parent ingredient's). With a parent the first
    action is ``c2pa.opened``; without one it is ``c2pa.created`` with ``source_type``,
    which is then required. ``source_type`` given together with a parent is recorded on the
    edit actions (e.g. compositeWithTrainedAlgorithmicMedia after generative fill).
    """
    fmt = fmt or sniff_format(data)
    mime = _mime(fmt, path=path)
    probe_image(data, path=path)  # a corrupt input fails here, by name (c2pa catches truncation)
    ingredients = [IngredientSource(*i) for i in ingredients]
    for ing in ingredients:
        if ing.relationship not in RELATIONSHIPS:
            raise InputError(f"unknown relationship {ing.relationship!r}; use one of {', '.join(RELATIONSHIPS)}")
    parents = [i for i in ingredients if i.relationship == "parentOf"]
    if parent is not None:
        parents.insert(0, IngredientSource(*parent)._replace(relationship="parentOf"))
    ingredients = [i for i in ingredients if i.relationship != "parentOf"]
    credentialed = _has_manifest(data, mime)
    if credentialed:
        parents.insert(0, IngredientSource(data, fmt, Path(path).name if path else title, "parentOf"))
    if len(parents) > 1:
        which = "the input carries content credentials, so it is the parent; " if credentialed else ""
        raise InputError(f"{which}an image has at most one parent ingredient", path=path)

    uri = None if source_type is None else source_type_uri(source_type)
    edits = [parse_action(a) for a in actions]
    components = [f"ingredient-{i}" for i, ing in enumerate(ingredients) if ing.relationship == "componentOf"]
    for edit in edits:
        if edit["action"] in ("c2pa.placed", "c2pa.removed"):  # c2pa requires the link
            if not components:
                raise InputError(f"{edit['action']} needs an ingredient with relationship componentOf")
            edit["parameters"] = {"ingredientIds": components}
    if parents:
        if uri is not None:
            edits = edits or [parse_action("c2pa.edited")]
            for e in edits:
                e["digitalSourceType"] = uri
        first = None
    else:
        if uri is None:
            raise InputError(
                "has no content credentials; say where it came from with a source type "
                "(e.g. --source-type digitalCapture)", path=path,
            )
        first = {"action": "c2pa.created", "digitalSourceType": uri, "softwareAgent": _software_agent()}
    assertions = [_actions([first] + edits)] if first else []
    return _sign(
        _definition(title, mime, assertions), data, mime, signer, thumbnail=thumbnail,
        parent=parents[0] if parents else None, ingredients=ingredients, edits=edits if parents else (),
    )


def check_sign_paths(input_path: str | os.PathLike, output_path: str | os.PathLike, *,
                     overwrite: bool) -> None:
    """Refuse OUTPUT before any work: never INPUT itself, never an existing file unasked."""
    check_writable(output_path, overwrite=overwrite, inputs=[input_path])


def sign_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    signer: SignerSpec,
    *,
    source_type: str | None = None,
    ingredients: Iterable[tuple[str | os.PathLike, str]] = (),
    actions: Sequence[str] = (),
    overwrite: bool = False,
    thumbnail: bool = True,
) -> Path:
    """``trustgen sign``: INPUT is never modified; OUTPUT is written atomically, never INPUT."""
    src, dst = Path(input_path), Path(output_path)
    check_sign_paths(src, dst, overwrite=overwrite)
    data = read_file(src)
    fmt = sniff_format(data)
    _mime(fmt, path=src)
    out_fmt = format_for_path(dst)
    if out_fmt is not None and out_fmt != fmt:
        raise InputError(f"output extension says {out_fmt} but the image is {fmt}; signing does not convert", path=dst)
    sources = []
    for ing_path, relationship in ingredients:
        ing_data = read_file(ing_path)
        sources.append(IngredientSource(ing_data, sniff_format(ing_data), Path(ing_path).name,
                                        relationship, str(ing_path)))
    signed = sign_image(
        data, fmt, signer, source_type=source_type, ingredients=sources, actions=actions,
        title=dst.name, thumbnail=thumbnail, path=src,
    )
    return atomic_write(dst, signed, overwrite=overwrite)


def probe_sign(signer: SignerSpec) -> None:
    """Sign a 16x16 image and discard it: c2pa checks the certificate only when signing."""
    assertions = [_actions([{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCreation"}])]
    _sign(_definition("probe.png", "image/png", assertions), _probe_png(), "image/png", signer,
          thumbnail=False)


# ----------------------------------------------------------------------------- internals


def _sign(definition, data, mime, signer: SignerSpec, *, thumbnail, parent=None, ingredients=(), edits=()):
    import c2pa

    try:
        builder = c2pa.Builder(definition, context=_builder_context(thumbnail))
        try:
            if parent is not None:
                _add_ingredient(builder, parent, {"title": parent.title, "relationship": "parentOf"})
                builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            for i, ing in enumerate(ingredients):
                _add_ingredient(builder, ing, {"title": ing.title, "relationship": ing.relationship,
                                               "label": f"ingredient-{i}"})
            for action in edits:
                builder.add_action(action)
            out = io.BytesIO()
            builder.sign(signer.c2pa_signer(), mime, io.BytesIO(data), out)
        finally:
            builder.close()
    except c2pa.C2paError as err:
        raise SigningError(one_line(err)) from None
    return out.getvalue()


def _definition(title: str, mime: str, assertions: list) -> dict:
    return {
        "claim_generator_info": [{"name": "trustgen", "version": __version__}],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }


def _actions(actions: list) -> dict:
    return {"label": "c2pa.actions.v2", "data": {"actions": actions}}


def _software_agent() -> dict:
    return {"name": "trustgen", "version": __version__}


@functools.lru_cache(maxsize=2)
def _builder_context(thumbnail: bool):
    """One c2pa context per thumbnail setting, shared: building one parses settings each time."""
    import c2pa

    from .trust import DEFAULT_EKUS

    return c2pa.Context.from_dict({
        # c2pa verifies after signing; without an EKU list it accepts only emailProtection
        "trust": {"trust_config": "\n".join(DEFAULT_EKUS) + "\n"},
        "builder": {"thumbnail": {
            "enabled": thumbnail, "long_edge": THUMBNAIL_LONG_EDGE, "format": "jpeg", "quality": "low",
        }},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    })


@functools.lru_cache(maxsize=1)
def _reader_context():
    import c2pa

    return c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})


def _has_manifest(data: bytes, mime: str) -> bool:
    import c2pa

    meta = _metadata(data, mime)
    if b"c2pa" not in meta and b"provenance" not in meta:
        return False  # no JUMBF "c2pa" box and no XMP reference to a remote manifest: skip c2pa
    try:
        c2pa.Reader(mime, io.BytesIO(data), context=_reader_context()).close()
    except c2pa.C2paError.ManifestNotFound:
        return False
    except c2pa.C2paError:
        return True  # present but broken: kept as parent, its failures recorded there
    return True


def _add_ingredient(builder, ing: IngredientSource, definition: dict) -> None:
    import c2pa

    try:
        builder.add_ingredient(definition, _ingredient_mime(ing), io.BytesIO(ing.data))
    except c2pa.C2paError as err:
        raise InputError(f"ingredient cannot be read: {one_line(err)}", path=ing.name) from None


def _metadata(data: bytes, mime: str) -> bytes:
    """The bytes where a manifest or its XMP reference can sit, pixel data left out (scanning
    a large PNG's IDAT twice costs more than the rest of signing). Whole file if unsure."""
    if mime == "image/jpeg":  # metadata segments all come before the first scan
        start_of_scan = data.find(b"\xff\xda")
        return data if start_of_scan < 0 else data[:start_of_scan]
    if mime == "image/png" and data.startswith(b"\x89PNG\r\n\x1a\n"):
        parts, at = [], 8
        while at + 8 <= len(data):
            length = int.from_bytes(data[at:at + 4], "big")
            if data[at + 4:at + 8] != b"IDAT":
                parts.append(data[at:at + 12 + length])
            at += 12 + length
        return b"".join(parts)
    return data


def _ingredient_mime(ing: IngredientSource) -> str:
    """Ingredients may be any format c2pa reads (it refuses the rest with its own reason)."""
    known = lookup(ing.fmt)
    if known is not None:
        return known.mime
    if ing.fmt and "/" in ing.fmt:
        return ing.fmt
    raise InputError("ingredient is not a recognised image file", path=ing.name)


def _mime(fmt: str | None, *, path=None) -> str:
    """The MIME type to sign ``fmt`` (a name, extension or MIME type) as, if trustgen signs it."""
    known = lookup(fmt)
    if known is not None and known.can_sign:
        return known.mime
    name = known.name if known else fmt
    what = f"{name} files" if name else "files of this type (not a recognised image)"
    raise SigningError(
        f"cannot embed content credentials into {what}; trustgen signs {', '.join(signable_formats())}",
        path=path,
    )


@functools.lru_cache(maxsize=1)
def _probe_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 128, 128)).save(buf, "PNG")
    return buf.getvalue()
