"""Manifests: what trustgen claims about a file, signed into it by c2pa.

Two kinds of claim. ``sign_generated`` states that trustgen made the image with a named model
(``c2pa.created``, trainedAlgorithmicMedia, the generation record); ``sign_edit`` that it
edited a source image with one (the source as parent, ``c2pa.edited``). ``sign_image`` signs files
trustgen did not make, in every format c2pa embeds manifests in (``media.signable_formats``:
images, video, audio, PDF, office documents): a file that already carries credentials becomes
the parent ingredient (``c2pa.opened``), anything else is ``c2pa.created`` with the source type
the user names. A c2patool-style manifest definition (``load_manifest_definition``) adds the
user's own assertions, actions and ingredients to that claim.
"""

from __future__ import annotations

import functools
import io
import json
import os
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, Sequence

from .._version import __version__
from ..errors import InputError, SigningError, one_line
from ..media import (
    atomic_write, check_writable, decodes, format_for_path, identify, lookup, probe_image,
    read_file, signable_formats, sniff_format,
)
from .timestamp import retry_time_stamp

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
    soft_bindings: Sequence[dict] = (),
    extra_actions: Sequence[dict] = (),
    inputs: Sequence[IngredientSource] = (),
) -> bytes:
    """Sign an image trustgen generated; the hard binding covers the (watermarked) pixels.

    ``training_mining`` fills every ``cawg.training-mining`` entry (None leaves it out).
    ``soft_bindings`` are ``c2pa.soft-binding`` assertions and ``extra_actions`` actions after
    ``c2pa.created`` (``c2pa.watermarked``), both built by the caller (``generate.soft_bindings``).
    ``inputs`` are ``inputTo`` ingredients (a ControlNet's control image).
    """
    mime = _mime(fmt)
    assertions = [
        _actions([{
            "action": "c2pa.created",
            "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
            "softwareAgent": _model_agent(provenance),
        }, *extra_actions]),
        *_generation_assertions(provenance, training_mining),
        *soft_bindings,
    ]
    title = f"{provenance.content_id}{lookup(mime).extension}"
    return _sign(_definition(title, mime, assertions), data, mime, signer, thumbnail=thumbnail,
                 ingredients=[IngredientSource(*i)._replace(relationship="inputTo") for i in inputs])


def sign_edit(
    data: bytes,
    fmt: str,
    provenance,
    signer: SignerSpec,
    *,
    source: IngredientSource,
    mask: IngredientSource | None = None,
    source_type: str,
    description: str,
    region: Sequence[int] | None = None,
    training_mining: str | None = "notAllowed",
    thumbnail: bool = True,
    soft_bindings: Sequence[dict] = (),
    extra_actions: Sequence[dict] = (),
) -> bytes:
    """Sign an edit trustgen generated from ``source`` (img2img, inpainting, instruction
    editing): the source is the parent ingredient (its own manifest kept), the mask an
    ``inputTo`` ingredient, and ``c2pa.edited`` follows ``c2pa.opened`` with ``source_type``,
    the model as software agent and ``region`` ((x, y, w, h) in the output's pixels) as the
    region of interest of its change."""
    edited = {"action": "c2pa.edited", "digitalSourceType": source_type_uri(source_type),
              "softwareAgent": _model_agent(provenance), "description": description}
    if region is not None:
        x, y, w, h = (int(v) for v in region)
        edited["changes"] = [{"region": [{"type": "spatial", "shape": {
            "type": "rectangle", "unit": "pixel", "origin": {"x": x, "y": y}, "width": w, "height": h,
        }}], "description": "generated region"}]
    mime = _mime(fmt)
    return sign_image(
        data, fmt, signer, parent=source._replace(relationship="parentOf"),
        ingredients=[mask._replace(relationship="inputTo")] if mask is not None else (),
        title=f"{provenance.content_id}{lookup(mime).extension}", thumbnail=thumbnail,
        extra_assertions=_generation_assertions(provenance, training_mining),
        soft_bindings=soft_bindings, extra_actions=[edited, *extra_actions],
    )


def _model_agent(provenance) -> dict:
    return {**_software_agent(), "org.trustgen.model": provenance.model_id}


def _generation_assertions(provenance, training_mining: str | None) -> list[dict]:
    """trustgen's generation record, and ``cawg.training-mining`` unless ``training_mining`` is None."""
    assertions = [{"label": "org.trustgen.generation", "data": provenance.to_dict()}]
    if training_mining is not None:
        if training_mining not in TRAINING_MINING:
            raise InputError(f"training_mining must be one of {TRAINING_MINING}, not {training_mining!r}")
        assertions.append({
            "label": "cawg.training-mining",
            "data": {"entries": {k: {"use": training_mining} for k in _TRAINING_ENTRIES}},
        })
    return assertions


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
    definition: "ManifestDefinition | None" = None,
    soft_bindings: Sequence[dict] = (),
    extra_actions: Sequence[dict] = (),
    extra_assertions: Sequence[dict] = (),
) -> bytes:
    """Sign a file trustgen did not generate; returns the signed file's bytes.

    The parent is ``parent`` if given, else the image itself when it already carries
    credentials (its manifest is kept as the parent ingredient's). With a parent the first
    action is ``c2pa.opened``; without one it is ``c2pa.created`` with ``source_type``,
    which is then required. ``source_type`` given together with a parent is recorded on the
    edit actions (e.g. compositeWithTrainedAlgorithmicMedia after generative fill).

    ``definition`` adds a manifest definition's assertions and actions (after trustgen's
    ``c2pa.created``, which it may supply itself), ingredients, title and claim generator.
    ``soft_bindings`` and ``extra_actions``: as for ``sign_generated``; ``extra_assertions``
    are added as they are (``sign_edit``'s generation record).
    """
    fmt = fmt or sniff_format(data)
    mime = _mime(fmt, path=path)
    data = _signable(data, fmt, path)
    ingredients = [IngredientSource(*i) for i in ingredients]
    if definition is not None:
        ingredients += definition.ingredients
        title = definition.title or title
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
        raise InputError(f"{which}a file has at most one parent ingredient", path=path)

    uri = None if source_type is None else source_type_uri(source_type)
    declared = [dict(a) for a in definition.actions] if definition is not None else []
    opening = bool(declared) and declared[0].get("action") in ("c2pa.created", "c2pa.opened")
    if opening and declared[0]["action"] == "c2pa.created" and not parents:
        declared[0].setdefault("softwareAgent", _software_agent())
        if uri is not None:
            declared[0]["digitalSourceType"] = uri
        uri = uri or declared[0].get("digitalSourceType")
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
        first = None if opening else {"action": "c2pa.created", "digitalSourceType": uri,
                                      "softwareAgent": _software_agent()}
    edits += [dict(a) for a in extra_actions]
    listed = ([first] if first else []) + declared + ([] if parents else edits)
    assertions = (([_actions(listed)] if listed else []) + list(definition.assertions if definition else ())
                  + list(extra_assertions) + list(soft_bindings))
    return _sign(
        _definition(title, mime, assertions, definition), data, mime, signer, thumbnail=thumbnail,
        parent=parents[0] if parents else None, ingredients=ingredients, edits=edits if parents else (),
    )


class ManifestDefinition(NamedTuple):
    """A c2patool-style manifest definition, checked (``load_manifest_definition``)."""

    source: str  # the file it was read from, to name in errors
    title: str | None = None
    actions: tuple[dict, ...] = ()  # from its c2pa.actions assertion, in order
    assertions: tuple[dict, ...] = ()  # every other assertion, as given
    ingredients: tuple[IngredientSource, ...] = ()  # ingredient_paths, read (componentOf)
    fields: Mapping[str, Any] = MappingProxyType({})  # to c2pa as given: claim_generator_info ...
    tsa_url: str | None = None  # c2patool's ta_url


#: Largest manifest definition read; definitions are a few KB.
MAX_DEFINITION_BYTES = 1 << 20

#: c2patool's definition fields trustgen reads, those it passes to c2pa as they are, and those
#: it refuses with the reason.
_DEFINITION_READ = ("title", "assertions", "ingredient_paths", "base_path", "ta_url", "format",
                    "claim_generator", "claim_generator_info", "claim_version")
_DEFINITION_PASSED = ("vendor", "ingredients", "metadata", "label", "instance_id")
_DEFINITION_REFUSED = {
    "alg": "trustgen takes the algorithm from the key (--alg to choose)",
    "private_key": "trustgen signs with --key/--cert or the local identity",
    "sign_cert": "trustgen signs with --key/--cert or the local identity",
    "thumbnail": "trustgen makes the thumbnail (--no-thumbnail leaves it out)",
    "redactions": "trustgen does not redact assertions",
}


def load_manifest_definition(path: str | os.PathLike) -> ManifestDefinition:
    """Read and check a c2patool manifest definition (``c2patool -m DEF.json``): ``title``,
    ``claim_generator_info`` (or the older ``claim_generator`` string), ``assertions`` (a
    ``c2pa.actions`` assertion's actions join trustgen's), ``ingredient_paths`` (files, relative
    to the definition or its ``base_path``, recorded as componentOf), ``ta_url``, and c2pa's own
    ``vendor``, ``ingredients``, ``metadata``, ``label``, ``instance_id``; ``format`` is checked,
    and the file's own used. Every problem is one ``InputError`` naming the file and the field."""
    where = Path(path)
    raw = read_file(where)
    if len(raw) > MAX_DEFINITION_BYTES:
        raise InputError(f"manifest definition is larger than {MAX_DEFINITION_BYTES // 1024} KiB", path=where)
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("manifest definition is not UTF-8 text", path=where) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}", path=where) from None

    def fail(field: str, why: str) -> InputError:
        return InputError(f"manifest definition field '{field}': {why}", path=where)

    if not isinstance(body, dict):
        raise InputError("a manifest definition is a JSON object", path=where)
    for key in body:
        if key in _DEFINITION_REFUSED:
            raise fail(key, f"not supported: {_DEFINITION_REFUSED[key]}")
        if key not in _DEFINITION_READ + _DEFINITION_PASSED:
            raise fail(key, f"unknown (known: {', '.join(_DEFINITION_READ + _DEFINITION_PASSED)})")

    def text(key: str) -> str | None:
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(key, "must be a non-empty string")
        return value

    def objects(key: str) -> list:
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise fail(key, "must be a list of objects")
        return value

    if body.get("claim_version", 2) != 2:
        raise fail("claim_version", "c2pa 0.38 writes version 2 claims only")
    if text("format") is not None:
        known = lookup(body["format"])
        if known is None:
            raise fail("format", f"unknown format {body['format']!r}")
    fields = {k: body[k] for k in _DEFINITION_PASSED if k in body}
    for key in ("vendor", "label", "instance_id"):
        text(key)
    objects("ingredients")
    generators = objects("claim_generator_info")
    if len(generators) > 1:
        raise fail("claim_generator_info", "c2pa 0.38 allows one claim generator")
    for info in generators:
        if not isinstance(info.get("name"), str) or not info["name"].strip():
            raise fail("claim_generator_info[0].name", "must be a non-empty string")
    legacy = text("claim_generator")
    if legacy and not generators:  # c2patool's older "Name/1.0" user agent string
        name, _, version = legacy.partition("/")
        generators = [{"name": name, **({"version": version} if version else {})}]
    if generators:
        fields["claim_generator_info"] = generators

    actions, assertions = [], []
    for i, assertion in enumerate(objects("assertions")):
        label = assertion.get("label")
        if not isinstance(label, str) or not label.strip():
            raise fail(f"assertions[{i}].label", "must be a non-empty string")
        if "data" not in assertion:
            raise fail(f"assertions[{i}].data", "is missing")
        if label in ("c2pa.actions", "c2pa.actions.v2"):
            listed = assertion["data"].get("actions") if isinstance(assertion["data"], dict) else None
            if not isinstance(listed, list) or not listed:
                raise fail(f"assertions[{i}].data.actions", "must be a non-empty list of actions")
            for k, act in enumerate(listed):
                if not isinstance(act, dict) or not isinstance(act.get("action"), str):
                    raise fail(f"assertions[{i}].data.actions[{k}].action", "must be a string")
            if actions:
                raise fail(f"assertions[{i}]", "a manifest has one c2pa.actions assertion")
            actions = listed
        else:
            assertions.append(assertion)

    base = where.parent
    if text("base_path") is not None:
        base = base / Path(body["base_path"]).expanduser()
    paths = body.get("ingredient_paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise fail("ingredient_paths", "must be a list of file paths")
    ingredients = []
    for entry in paths:
        file = base / Path(entry).expanduser()
        if file.suffix.lower() == ".json":
            raise fail("ingredient_paths", f"{entry}: ingredient definition files are not supported; "
                                           "name the ingredient's own file")
        data = read_file(file)
        ingredients.append(IngredientSource(data, identify(data, file), file.name, "componentOf",
                                            str(file)))
    return ManifestDefinition(
        source=str(where), title=text("title"), actions=tuple(actions), assertions=tuple(assertions),
        ingredients=tuple(ingredients), fields=MappingProxyType(fields), tsa_url=text("ta_url"),
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
    definition: "ManifestDefinition | None" = None,
    soft_bindings: Sequence[dict] = (),
    extra_actions: Sequence[dict] = (),
) -> Path:
    """``trustgen sign``: INPUT is never modified; OUTPUT is written atomically, never INPUT."""
    src, dst = Path(input_path), Path(output_path)
    check_sign_paths(src, dst, overwrite=overwrite)
    data = read_file(src)
    fmt = identify(data, src)
    _mime(fmt, path=src)
    out_fmt = format_for_path(dst)
    if out_fmt is not None and out_fmt != fmt:
        raise InputError(f"output extension says {out_fmt} but the file is {fmt}; signing does not convert", path=dst)
    sources = []
    for ing_path, relationship in ingredients:
        ing_data = read_file(ing_path)
        sources.append(IngredientSource(ing_data, identify(ing_data, ing_path), Path(ing_path).name,
                                        relationship, str(ing_path)))
    signed = sign_image(
        data, fmt, signer, source_type=source_type, ingredients=sources, actions=actions,
        title=dst.name, thumbnail=thumbnail, path=src, definition=definition,
        soft_bindings=soft_bindings, extra_actions=extra_actions,
    )
    return atomic_write(dst, signed, overwrite=overwrite)


def probe_sign(signer: SignerSpec) -> None:
    """Sign a 16x16 image and discard it: c2pa checks the certificate only when signing."""
    assertions = [_actions([{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCreation"}])]
    _sign(_definition("probe.png", "image/png", assertions), _probe_png(), "image/png", signer,
          thumbnail=False)


# ----------------------------------------------------------------------------- internals


@retry_time_stamp  # c2pa asks the time-stamp authority inside builder.sign; a builder signs once
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


def _definition(title: str, mime: str, assertions: list,
                user: "ManifestDefinition | None" = None) -> dict:
    """c2pa's manifest definition: trustgen's claim, with a user definition's fields (its claim
    generator replaces trustgen's: c2pa 0.38 allows one; trustgen stays the actions' agent)."""
    out = {
        "claim_generator_info": [_software_agent()],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }
    if user is not None:
        out.update(user.fields)
    return out


def _signable(data: bytes, fmt: str | None, path) -> bytes:
    """The bytes c2pa will sign. Refuses, by name, what c2pa would refuse with a puzzling message
    (pixels that do not decode, a bare JPEG XL codestream); a ZIP package (DOCX, ODT, EPUB...) with
    compressed entries, which c2pa 0.38 cannot sign, is repacked with its entries stored."""
    if decodes(fmt):
        probe_image(data, path=path)  # a corrupt input fails here, by name (c2pa catches truncation)
    elif fmt == "jxl" and data.startswith(b"\xff\x0a"):
        raise SigningError("a bare JPEG XL codestream cannot carry content credentials; save it in "
                           "the JPEG XL container (e.g. cjxl --container=1)", path=path)
    elif data.startswith(b"PK\x03\x04"):
        return _stored_zip(data, fmt, path)
    return data


def _stored_zip(data: bytes, fmt: str | None, path) -> bytes:
    """The same package with every entry stored, in the same order (an ODF or EPUB ``mimetype``
    entry stays first), so any reader opens the same documents."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if all(i.compress_type == zipfile.ZIP_STORED for i in entries):
                return data
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as stored:
                for info in entries:
                    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    copy.external_attr, copy.comment = info.external_attr, info.comment
                    stored.writestr(copy, archive.read(info), zipfile.ZIP_STORED)
                stored.comment = archive.comment
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        raise InputError(f"not a valid {fmt} file (a damaged ZIP package)", path=path) from None
    return out.getvalue()


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
    what = f"{name} files" if name else "files of this type (not a recognised media format)"
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
