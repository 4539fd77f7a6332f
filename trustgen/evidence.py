"""The records that flow between trustgen's modules, and their JSON form.

Frozen dataclasses with no heavy imports, so that the CLI, reports and policies can use them
without loading torch or c2pa. A signal that was not checked is ``None``; a signal checked that
found nothing is a record saying so (``state="absent"``, ``detected=False``).

``Verdict.to_dict`` / ``Verdict.from_dict`` are derived from the dataclasses (sigstore-python's
``Bundle.to_json``/``from_json`` pattern) and round-trip exactly; the JSON Schema of that form
ships beside this module as ``verdict.schema.json``, versioned by ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

#: Version of the JSON form of a verdict (``verify --json``, JSONL reports, the service).
SCHEMA_VERSION = 4
#: Versions ``Verdict.from_dict`` reads: version 2 only added fields (the ingredient tree,
#: located failures, the detailed manifest), version 3 the ``recovered`` look-up and version 4
#: AI edits with their regions, the latent watermark and the detector's most synthetic region,
#: so older records read with their defaults.
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4)

#: C2PA states, from best to worst news about the credentials themselves.
C2PA_STATES = ("trusted", "valid", "invalid", "absent", "remote", "error")

#: IPTC digital source types that declare generative AI involvement.
AI_SOURCE_TYPES = frozenset(
    "http://cv.iptc.org/newscodes/digitalsourcetype/" + name
    for name in (
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    )
)
#: The AI source types that say only parts of the image were generated (an inpainted region);
#: the others say the whole image was.
AI_COMPOSITE_SOURCE_TYPES = frozenset(
    "http://cv.iptc.org/newscodes/digitalsourcetype/" + name
    for name in ("compositeWithTrainedAlgorithmicMedia", "compositeSynthetic")
)
#: IPTC digital source types that declare a photograph: a camera's capture, a scan of film or
#: a print, or captures combined (HDR, panorama).
CAPTURE_SOURCE_TYPES = frozenset(
    "http://cv.iptc.org/newscodes/digitalsourcetype/" + name
    for name in ("digitalCapture", "computationalCapture", "compositeCapture", "negativeFilm",
                 "positiveFilm", "print")
)


def is_synthetic(probability, threshold):
    """The detector's decision rule, the one place it is written: strictly above the threshold.

    Works elementwise on numpy arrays too (``detectors`` uses it for ``predict``)."""
    return probability > threshold


def is_watermarked(p_value: float | None, max_p_value: float) -> bool:
    """A watermark reading counts when its search-corrected p-value is at most the bound."""
    return p_value is not None and p_value <= max_p_value


# --- (de)serialisation, derived from the dataclasses -------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _build(tp: Any, value: Any) -> Any:
    """``value`` (plain JSON data) as an instance of the annotated type ``tp``."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(_build(item, v) for v in value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{tp.__name__}: expected an object, got {type(value).__name__}")
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"{tp.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
        return tp(**{k: _build(hints[k], v) for k, v in value.items()})
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class _Record:
    """``to_dict`` / ``from_dict`` for a frozen dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return _build(cls, data)


# --- the records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provenance(_Record):
    """What a generated image's credentials and watermark attest about how it was made."""

    content_id: str
    model_id: str
    model_sha256: str
    pipeline: str
    scheduler: str
    steps: int
    guidance_scale: float | None
    seed: int
    width: int
    height: int
    prompt_sha256: str | None
    prompt: str | None = None
    created: str = ""
    generator: str = ""
    # what the pipeline did (``pipelines.TASKS``; None in records older than the field) and,
    # for an edit, what it started from
    task: str | None = None
    source_sha256: str | None = None  # the source file's bytes as given
    mask_sha256: str | None = None  # the mask file's bytes as given (inpainting)
    control_sha256: str | None = None  # a ControlNet's control image file's bytes as given
    strength: float | None = None
    # {"x", "y", "width", "height"}: the generated region in output pixels, as the edit action's
    # rectangle (not an array: c2pa 0.38 stores an array of numbers under 256 as a byte string)
    region: dict[str, int] | None = None
    adapters: tuple[dict[str, Any], ...] = ()  # {"name", "kind", "sha256"}: LoRA, ControlNet
    latent_watermark: bool = False  # the initial latents carry the content id


@dataclass(frozen=True)
class Ingredient(_Record):
    """An ingredient a manifest records, with its own manifest's ingredients beneath it, at
    their real depth (a tree, not a flat list)."""

    title: str | None
    relationship: str | None
    codes: tuple[str, ...] = ()
    has_manifest: bool = False
    digital_source_type: str | None = None  # what the ingredient's own manifest declares
    manifest_label: str | None = None
    signer: str | None = None  # the common name of its manifest's signer
    ingredients: tuple["Ingredient", ...] = ()
    #: The AI edits its own manifest declares, regions in its own pixels (not cut to them).
    ai_edits: tuple["AIEdit", ...] = ()

    def walk(self, path: tuple["Ingredient", ...] = ()):
        """``(ancestors, ingredient)`` for this ingredient and every one beneath it, depth first."""
        yield path, self
        for child in self.ingredients:
            yield from child.walk((*path, self))


@dataclass(frozen=True)
class Failure(_Record):
    """Where one failure code of the active manifest points: the claim or signature (no
    ``assertion``), an assertion such as ``cawg.identity``, or an ingredient's record or manifest
    (``ingredient``, its title)."""

    code: str
    assertion: str | None = None
    ingredient: str | None = None
    identity: str | None = None  # who an identity assertion names (its credential's subject)
    explanation: str | None = None


@dataclass(frozen=True)
class Region(_Record):
    """A region of interest an edit action declares, as its bounding box in the file's pixels
    (a circle's or polygon's box; a box given in percent converted). ``clipped``: the declared
    region reached outside the image and was cut to it (a box left 0 wide lies wholly outside).
    ``unit`` stays ``percent`` only when the image's size could not be read to convert it."""

    x: float
    y: float
    width: float
    height: float
    shape: str = "rectangle"
    unit: str = "pixel"
    clipped: bool = False

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0


@dataclass(frozen=True)
class AIEdit(_Record):
    """An action other than a manifest's opening one (``c2pa.created``/``c2pa.opened``) that
    declares an AI source type: an inpainting (a composite, with the ``regions`` it generated)
    or a regeneration of the whole image (img2img, instruction editing). ``model``: the model its software agent names
    (``org.trustgen.model``); ``software``: the agent's name and version."""

    action: str
    digital_source_type: str
    model: str | None = None
    software: str | None = None
    description: str | None = None
    regions: tuple[Region, ...] = ()

    @property
    def composite(self) -> bool:
        return self.digital_source_type in AI_COMPOSITE_SOURCE_TYPES


@dataclass(frozen=True)
class Signer(_Record):
    common_name: str | None = None
    organization: str | None = None
    issuer: str | None = None
    algorithm: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class ManifestEvidence(_Record):
    """The C2PA reading of one file: its state and what its active manifest claims."""

    state: str
    codes: tuple[str, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    signer: Signer | None = None
    claim_generator: str | None = None
    actions: tuple[str, ...] = ()
    digital_source_type: str | None = None
    embedded: bool | None = None
    reason: str | None = None
    trustgen: dict[str, Any] | None = None
    failures: tuple[Failure, ...] = ()  # where each of ``codes`` points
    ai_edits: tuple[AIEdit, ...] = ()  # edits that declare AI, in the order of the actions

    def __post_init__(self) -> None:
        if self.state not in C2PA_STATES:
            raise ValueError(f"unknown C2PA state {self.state!r}")

    @property
    def ingredient_codes(self) -> tuple[str, ...]:
        """The failure codes of the active manifest's own ingredients (the tree's first level)."""
        return tuple(code for ing in self.ingredients for code in ing.codes)

    def walk_ingredients(self):
        """``(ancestors, ingredient)`` for every ingredient of the tree, depth first."""
        for ing in self.ingredients:
            yield from ing.walk()

    @property
    def declares_ai(self) -> bool:
        return self.digital_source_type in AI_SOURCE_TYPES


@dataclass(frozen=True)
class WatermarkEvidence(_Record):
    """A watermark search: what was looked for (``schemes_checked``) and the best reading.

    ``p_value`` is the best reading's p-value multiplied by the number of readings tried, so the
    search itself cannot manufacture a detection; it is always reported, so a policy can judge
    it at its own bound (``judged``). ``detected`` says whether it passed ``max_p_value``;
    ``scheme``, ``content_id`` and ``key`` are given only then. ``key`` names the key that
    matched: ``"public"`` for the documented public key (anyone can make such a mark), else
    ``"sha256:"`` and the first 16 hex digits of the key's SHA-256.
    """

    detected: bool
    scheme: str | None = None
    content_id: str | None = None
    p_value: float | None = None
    bit_errors: int | None = None
    key: str | None = None
    schemes_checked: tuple[str, ...] = ()
    max_p_value: float | None = None
    #: The best reading whatever its strength, so a looser bound can still accept it.
    candidate: "WatermarkReading | None" = None
    #: The key-less public layer of a trustgen mark, read when no held key decoded one.
    public: "PublicWatermark | None" = None
    #: The latent watermark, read by inverting a model the policy names (None: not read).
    latent: "LatentWatermark | None" = None

    def judged(self, max_p_value: float) -> "WatermarkEvidence":
        """This search judged at another bound (a policy's ``max_p_value``)."""
        best = self.candidate
        if best is None or not is_watermarked(self.p_value, max_p_value):
            judged = dataclasses.replace(self, detected=False, scheme=None, content_id=None,
                                         key=None, max_p_value=max_p_value)
        else:
            judged = dataclasses.replace(self, detected=True, scheme=best.scheme,
                                         content_id=best.content_id, key=best.key,
                                         max_p_value=max_p_value)
        return judged.with_latent(self.latent and self.latent.judged(max_p_value))

    def with_latent(self, latent: "LatentWatermark | None") -> "WatermarkEvidence":
        """This search with the latent mark's reading; ``ids_agree`` compares the two marks'
        content ids when both were detected."""
        if latent is not None:
            both = self.detected and latent.detected
            latent = dataclasses.replace(
                latent, ids_agree=(self.content_id == latent.content_id) if both else None)
        return dataclasses.replace(self, latent=latent)


@dataclass(frozen=True)
class LatentWatermark(_Record):
    """The latent watermark (keyed initial latents carrying the content id), read by inverting
    ``model``: judged like the post-hoc mark (``p_value`` multiplied by every key and
    registration tried; ``content_id`` and ``key`` given when it passed ``max_p_value``;
    ``candidate_id`` is what decoded, found or not). ``ids_agree``: both marks were detected and
    name the same content id (None when they were not both detected)."""

    detected: bool
    model: str
    p_value: float | None = None
    content_id: str | None = None
    key: str | None = None
    bit_errors: int | None = None
    candidate_id: str | None = None
    candidate_key: str | None = None
    max_p_value: float | None = None
    ids_agree: bool | None = None

    def judged(self, max_p_value: float) -> "LatentWatermark":
        ok = is_watermarked(self.p_value, max_p_value)
        return dataclasses.replace(self, detected=ok, max_p_value=max_p_value,
                                   content_id=self.candidate_id if ok else None,
                                   key=self.candidate_key if ok else None)


@dataclass(frozen=True)
class PublicWatermark(_Record):
    """A trustgen mark's public layer, readable without the issuer's key: that a mark is there
    (``p_value`` judged at the policy's bound: ``present``) and the issuer id it claims (24 bits
    of a hash of the issuer's watermark key; anyone can write one, so it is a lead, not proof).
    ``key_held``: the issuer is one whose key this verifier holds, so the keyed payload itself
    did not decode (a damaged copy)."""

    present: bool
    p_value: float
    issuer: str | None = None
    key_held: bool = False


@dataclass(frozen=True)
class WatermarkReading(_Record):
    """The most significant reading of a search: scheme, key and decoded id, found or not."""

    scheme: str
    content_id: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class DetectorEvidence(_Record):
    """The detector's score for the whole image and, where it scored crops, its most synthetic
    crop: that crop's probability under the same calibration (a maximum over crops, so it runs
    higher than the whole-image score on real photos too) and box (x, y, w, h) in pixels."""

    probability: float
    threshold: float
    model: str
    region_probability: float | None = None
    region_box: tuple[int, ...] | None = None

    @property
    def synthetic(self) -> bool:
        return bool(is_synthetic(self.probability, self.threshold))


@dataclass(frozen=True)
class RecoveryEvidence(_Record):
    """A look-up in manifest stores of a file without usable embedded credentials.

    ``matched_by`` is ``watermark``, ``fingerprint``, ``both`` or None (nothing found). The
    recovered manifest is judged as a detached manifest of this file: ``state`` is c2pa's verdict
    with the hard binding set aside (``trusted``, ``valid``, ``invalid``, ``error``), and
    ``pixels_match`` False says the pixels are not the signed ones (any re-encoded copy).
    ``copied_mark`` flags a watermark whose manifest shows another picture; that manifest is
    never the result. ``stores`` were asked; ``unavailable`` says, one line each, which were not.
    """

    matched_by: str | None = None
    manifest_id: str | None = None
    source: str | None = None
    content_id: str | None = None
    watermark_p_value: float | None = None
    fingerprint_distance: int | None = None
    fingerprint_variant: int | None = None
    bindings_agree: bool = False
    copied_mark: bool = False
    copied_from: str | None = None
    pixels_match: bool | None = None
    state: str | None = None
    codes: tuple[str, ...] = ()
    signer: Signer | None = None
    digital_source_type: str | None = None
    stores: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.matched_by is not None

    @property
    def declares_ai(self) -> bool:
        return self.digital_source_type in AI_SOURCE_TYPES


@dataclass(frozen=True)
class Evidence(_Record):
    """Everything gathered about one file, before any policy judges it."""

    path: str | None
    sha256: str | None = None
    c2pa: ManifestEvidence | None = None
    watermark: WatermarkEvidence | None = None
    detector: DetectorEvidence | None = None
    error: str | None = None
    #: The whole manifest store as c2patool shows it (``verify --detailed``); None otherwise.
    manifest: dict[str, Any] | None = None
    #: The look-up in manifest stores; None when not made (embedded credentials, or no stores).
    recovered: RecoveryEvidence | None = None


@dataclass(frozen=True)
class Reason(_Record):
    """One sentence of a verdict, with a stable ``code`` for programs (``labels.REASONS``)."""

    code: str
    text: str


@dataclass(frozen=True)
class Verdict(_Record):
    """A policy's judgement: a label, the action it maps to, and the reasons that decided."""

    label: str
    action: str
    reasons: tuple[Reason, ...]
    evidence: Evidence
    policy: str = "default"
    passed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``verdict.schema.json``): the evidence's fields at the top level,
        beside ``schema_version``, ``verdict`` (the label), ``action``, ``passed``, ``policy``
        and ``reasons``."""
        plain = _plain(self)
        evidence = plain.pop("evidence")
        return {"schema_version": SCHEMA_VERSION, "path": evidence.pop("path"),
                "verdict": plain.pop("label"), **plain, **evidence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        """The inverse of ``to_dict``; refuses another schema version or unknown fields."""
        data = dict(data)
        version = data.pop("schema_version", None)
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(f"verdict schema version {version!r}; this trustgen reads "
                             f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}")
        evidence_fields = {f.name for f in dataclasses.fields(Evidence)}
        evidence = {k: data.pop(k) for k in list(data) if k in evidence_fields}
        data["label"] = data.pop("verdict")
        return _build(cls, {**data, "evidence": evidence})

    def at_path(self, path: str | None) -> "Verdict":
        """The same verdict for a copy of the file at ``path`` (a cache hit under a new name)."""
        return dataclasses.replace(self, evidence=dataclasses.replace(self.evidence, path=path))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Verdict":
        return cls.from_dict(json.loads(text))


def verdict_schema() -> dict[str, Any]:
    """The JSON Schema of ``Verdict.to_dict()`` shipped with the package."""
    return json.loads((files(__package__) / "verdict.schema.json").read_text(encoding="utf-8"))
