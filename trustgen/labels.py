"""What a verdict can say: its labels and its reasons, as data.

A label is a name with a meaning, a tone (how reports colour it) and a default action in the
plain ``pass``/``warn``/``fail`` vocabulary; a policy maps labels to its own actions, and a label
a policy does not name gets the policy's ``default_action``, else the label's own, so a label
added in a later release never breaks a user's policy. A reason is a stable code with one
sentence template: programs assert codes, people read the text, and the wording lives only here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import Reason

#: Tones a report colours labels by.
TONES = ("good", "ai", "warn", "bad", "none")


@dataclass(frozen=True)
class Label:
    name: str
    meaning: str
    tone: str
    default_action: str


#: Every label a verdict can carry, in the order reports list them.
LABELS: dict[str, Label] = {}


def register_label(name: str, meaning: str, *, tone: str, default_action: str) -> Label:
    """Add a label; its reasons and the policy's ``classify`` say when it applies."""
    if name in LABELS:
        raise ValueError(f"label {name!r} is already registered")
    if tone not in TONES:
        raise ValueError(f"tone {tone!r} is not one of {', '.join(TONES)}")
    LABELS[name] = label = Label(name, meaning, tone, default_action)
    return label


register_label("trusted-ai", "trusted credentials declare AI generation",
               tone="good", default_action="pass")
register_label("trusted-capture", "trusted credentials declare capture or human editing",
               tone="good", default_action="pass")
register_label("trusted-capture-flagged",
               "trusted credentials declare capture or editing, but an ingredient is AI-generated "
               "or fails validation, or an AI watermark is present", tone="warn", default_action="warn")
register_label("credentials-invalid", "credentials present but tampered or invalid",
               tone="bad", default_action="fail")
register_label("untrusted-ai",
               "credentials intact from a signer not trusted; they or an AI watermark declare AI "
               "generation", tone="ai", default_action="warn")
register_label("credentials-untrusted", "credentials intact, signer not trusted",
               tone="warn", default_action="warn")
register_label("credentials-remote", "credentials stored at a URL that was not fetched",
               tone="warn", default_action="warn")
register_label("ai-watermark", "no credentials read (none, or stored at a URL), but a known AI watermark",
               tone="ai", default_action="warn")
register_label("likely-synthetic", "no credentials or watermark, but the detector says likely synthetic",
               tone="ai", default_action="warn")
register_label("no-evidence", "no evidence either way (not a sign of authenticity)",
               tone="none", default_action="warn")
register_label("error", "the file could not be read or decoded", tone="bad", default_action="fail")


#: Reason codes and their sentence templates (``str.format`` fields).
REASONS: dict[str, str] = {
    "file.unreadable": "The file could not be verified: {message}.",
    "c2pa.trusted": "Content credentials are valid and signed by a trusted signer{signer}.",
    "c2pa.declares-ai": "They declare the image AI-generated ({source_type}).",
    "c2pa.declares-capture": "They declare capture or editing, not AI generation ({declared}).",
    "c2pa.invalid": "Content credentials are present but fail validation ({what}).",
    "c2pa.error": "Content credentials are present but cannot be validated ({what}).",
    "c2pa.untrusted": "Content credentials are intact but the signer{signer} is not trusted by this "
                      "policy{claim}.",
    "c2pa.signer-refused": "trustgen refuses this signer: {why}.",
    "c2pa.remote": "Content credentials are stored at a remote URL that was not fetched "
                   "(allow_remote is off).",
    "c2pa.absent": "No content credentials.",
    "c2pa.not-checked": "Content credentials were not checked.",
    "ingredient.invalid": "Ingredient '{title}' fails validation ({codes}).",
    "ingredient.declares-ai": "Ingredient '{title}' declares AI generation ({source_type}).",
    "watermark.found": "A {scheme} watermark was found ({content_id}, p-value {p_value:.1e}).",
    "watermark.public-key": "The watermark is under trustgen's public key, which anyone can use to "
                            "make such a mark.",
    "watermark.weak": "A {scheme} watermark candidate has p-value {p_value:.1e}, above this "
                      "policy's limit {limit:.0e}.",
    "watermark.absent": "No known watermark was found{searched}.",
    "watermark.not-checked": "The watermark was not checked.",
    "watermark.not-applicable": "No watermark scheme can read an image this small.",
    "content-id.unmarked": "The credentials name trustgen content id {claimed}, but no trustgen "
                           "watermark was found.",
    "content-id.mismatch": "The credentials name content id {claimed} but the watermark carries "
                           "{found}.",
    "detector.score": "The detector ({model}) gives probability {probability:.2f} of synthetic, "
                      "{side} its threshold {threshold:.2f}.",
    "detector.not-run": "The synthetic-image detector was not run.",
    "absence": "Absence of marks is not evidence that the image is authentic.",
}


def reason(code: str, **fields) -> Reason:
    """The ``Reason`` for ``code`` with its sentence filled in."""
    return Reason(code, REASONS[code].format(**fields))
