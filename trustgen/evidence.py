"""The records that flow between trustgen's modules.

Frozen dataclasses with no heavy imports, so that the CLI, reports and policies can use them
without loading torch or c2pa. A signal that was not checked is ``None``; a signal checked that
found nothing is a record saying so (``state="absent"``, ``detected=False``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

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


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Provenance:
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

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class Ingredient:
    title: str | None
    relationship: str | None
    codes: tuple[str, ...] = ()
    has_manifest: bool = False
    digital_source_type: str | None = None  # what the ingredient's own manifest declares


@dataclass(frozen=True)
class Signer:
    common_name: str | None = None
    organization: str | None = None
    issuer: str | None = None
    algorithm: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class ManifestEvidence:
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

    def __post_init__(self) -> None:
        if self.state not in C2PA_STATES:
            raise ValueError(f"unknown C2PA state {self.state!r}")

    @property
    def ingredient_codes(self) -> tuple[str, ...]:
        return tuple(code for ing in self.ingredients for code in ing.codes)

    @property
    def declares_ai(self) -> bool:
        return self.digital_source_type in AI_SOURCE_TYPES

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class WatermarkEvidence:
    """A watermark search: what was looked for (``schemes_checked``) and the best reading.

    ``key`` names the key that matched: ``"public"`` for the documented public key (anyone can
    make such a mark), else ``"sha256:"`` and the first 16 hex digits of the key's SHA-256.
    """

    detected: bool
    scheme: str | None = None
    content_id: str | None = None
    p_value: float | None = None
    bit_errors: int | None = None
    key: str | None = None
    schemes_checked: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class DetectorEvidence:
    probability: float
    threshold: float
    model: str

    @property
    def synthetic(self) -> bool:
        return self.probability >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class Evidence:
    """Everything gathered about one file, before any policy judges it."""

    path: str | None
    sha256: str | None = None
    c2pa: ManifestEvidence | None = None
    watermark: WatermarkEvidence | None = None
    detector: DetectorEvidence | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    """A policy's judgement: a label, the action it maps to, and the sentences that decided."""

    label: str
    action: str
    reasons: tuple[str, ...]
    evidence: Evidence
    policy: str = "default"
    passed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines record documented in ARCHITECTURE.md."""
        ev = self.evidence
        c2pa = None
        if ev.c2pa is not None:
            m = ev.c2pa
            c2pa = {
                "state": m.state,
                "codes": list(m.codes),
                "ingredients": [
                    {"title": i.title, "relationship": i.relationship, "codes": list(i.codes),
                     "digital_source_type": i.digital_source_type}
                    for i in m.ingredients
                ],
                "signer": _plain(m.signer),
                "digital_source_type": m.digital_source_type,
                "claim_generator": m.claim_generator,
                "actions": list(m.actions),
                "embedded": m.embedded,
                "reason": m.reason,
            }
        return {
            "path": ev.path,
            "verdict": self.label,
            "action": self.action,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "policy": self.policy,
            "sha256": ev.sha256,
            "error": ev.error,
            "c2pa": c2pa,
            "watermark": None if ev.watermark is None else ev.watermark.to_dict(),
            "detector": None if ev.detector is None else ev.detector.to_dict(),
        }
