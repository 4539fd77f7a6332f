"""What a verdict can say: its labels and its reasons, as data.

A label is a name with a meaning, a tone (how reports colour it) and a default action in the
plain ``pass``/``warn``/``fail`` vocabulary; a policy maps labels to its own actions, and a label
a policy does not name gets the policy's ``default_action``, else the label's own, so a label
added in a later release never breaks a user's policy. A reason is a stable code with one
sentence template: programs assert codes, people read the text, and the wording lives only here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import Failure, Reason

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
register_label("recovered-ai",
               "no embedded credentials, but trusted credentials recovered from a manifest store "
               "(by watermark or fingerprint) declare AI generation; the pixels are not the signed "
               "ones", tone="ai", default_action="warn")
register_label("recovered-capture",
               "no embedded credentials, but trusted credentials recovered from a manifest store "
               "declare capture or editing; the pixels are not the signed ones",
               tone="warn", default_action="warn")
register_label("copied-mark",
               "a watermark names the credentials of another picture: likely copied onto this one, "
               "never recovered provenance", tone="bad", default_action="fail")
register_label("ai-watermark", "no credentials read (none, or stored at a URL), but a known AI watermark",
               tone="ai", default_action="warn")
register_label("issuer-watermark",
               "no credentials or readable watermark, but a trustgen mark's public layer names its issuer",
               tone="warn", default_action="warn")
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
    "c2pa.invalid-ingredients": "The active manifest validates, but c2pa marks the credentials "
                                "invalid because of their ingredients ({what}).",
    "c2pa.error": "Content credentials are present but cannot be validated ({what}).",
    "c2pa.untrusted": "Content credentials are intact but the signer{signer} is not trusted by this "
                      "policy{claim}.",
    "c2pa.signer-refused": "trustgen refuses this signer: {why}.",
    "c2pa.unverified-part": "Content credentials are intact and their signer{signer} is trusted, "
                            "but not all of them verify: {what}{claim}.",
    "c2pa.also-fails": "They also fail: {what}.",
    "c2pa.remote": "Content credentials are stored at a remote URL that was not fetched "
                   "(allow_remote is off).",
    "c2pa.absent": "No content credentials.",
    "c2pa.not-checked": "Content credentials were not checked.",
    "recovery.trusted": "Content credentials recovered from {source} by {how} are valid and signed "
                        "by a trusted signer{signer} (manifest {manifest_id}).",
    "recovery.pixels-changed": "The pixels are not the signed ones: the file was re-encoded or "
                               "edited since signing, as any copy is (not a sign of tampering).",
    "recovery.pixels-match": "The file's bytes are the signed ones.",
    "recovery.untrusted": "Content credentials recovered from {source} by {how} are intact, but the "
                          "signer{signer} is not trusted by this policy; they are not used.",
    "recovery.invalid": "Content credentials recovered from {source} by {how} fail validation "
                        "({what}); they are not used.",
    "recovery.bindings-disagree": "This policy requires the watermark and the fingerprint to name "
                                  "the same manifest; here only the {how} does, so the recovered "
                                  "credentials are not used.",
    "recovery.copied-mark": "The watermark names manifest {manifest_id}, which was made for another "
                            "picture: the mark was likely copied onto this image, so it is not "
                            "recovered provenance.",
    "recovery.none": "No manifest store holds credentials for this file (asked: {stores}).",
    "store.not-consulted": "A manifest store was not consulted: {why}.",
    "ingredient.invalid": "Ingredient '{title}'{inside} fails validation ({codes}).",
    "ingredient.declares-ai": "Ingredient '{title}'{inside} declares AI generation ({source_type}).",
    "watermark.found": "A {scheme} watermark was found ({content_id}, p-value {p_value:.1e}).",
    "watermark.public-key": "The watermark is under trustgen's public key, which anyone can use to "
                            "make such a mark.",
    "watermark.weak": "A {scheme} watermark candidate has p-value {p_value:.1e}, above this "
                      "policy's limit {limit:.0e}.",
    "watermark.issuer": "A trustgen watermark from issuer {issuer} is present (p-value {p_value:.1e}), "
                        "but its key is not held here: its content id cannot be read or checked; "
                        "ask that issuer's manifest repository.",
    "watermark.damaged": "A trustgen watermark from this verifier's own issuer {issuer} is present "
                         "(p-value {p_value:.1e}), but its keyed payload did not decode (a damaged copy).",
    "watermark.absent": "No known watermark was found{searched}.",
    "watermark.not-checked": "The watermark was not checked.",
    "watermark.not-applicable": "No watermark scheme can read an image this small.",
    "watermark.media-type": "The watermark is not applicable to this media type ({media}).",
    "content-id.unmarked": "The credentials name trustgen content id {claimed}, but no trustgen "
                           "watermark was found.",
    "content-id.mismatch": "The credentials name content id {claimed} but the watermark carries "
                           "{found}.",
    "detector.score": "The detector ({model}) gives probability {probability:.2f} of synthetic, "
                      "{side} its threshold {threshold:.2f}.",
    "detector.not-run": "The synthetic-image detector was not run.",
    "detector.media-type": "The synthetic-image detector is not applicable to this media type "
                           "({media}).",
    "absence": "Absence of marks is not evidence that the image is authentic.",
}


#: How a reason names where a failure code points (``evidence.Failure``).
PLACES: dict[str, str] = {
    "signature": "the active manifest's claim or signature",
    "identity": "identity assertion '{assertion}'{who}",
    "record": "the active manifest's record of ingredient '{ingredient}' ({assertion})",
    "ingredient": "ingredient '{ingredient}'",
    "assertion": "assertion '{assertion}' of the active manifest",
    "inside": " (inside {path})",
}


def failure_text(failure: Failure) -> str:
    """``code`` in the place it points: ``cawg.x509.credential.untrusted in identity assertion
    'cawg.identity' (C2PA Signer)``."""
    if failure.assertion and failure.assertion.startswith("cawg.identity"):
        place = PLACES["identity"].format(assertion=failure.assertion,
                                          who=f" ({failure.identity})" if failure.identity else "")
    elif failure.assertion and failure.ingredient is not None:
        place = PLACES["record"].format(ingredient=failure.ingredient, assertion=failure.assertion)
    elif failure.ingredient is not None:
        place = PLACES["ingredient"].format(ingredient=failure.ingredient)
    elif failure.assertion:
        place = PLACES["assertion"].format(assertion=failure.assertion)
    else:
        place = PLACES["signature"]
    return f"{failure.code} in {place}"


def inside(titles) -> str:
    """`` (inside 'a.jpg' > 'b.jpg')`` for an ingredient below the first level of the tree."""
    titles = [f"'{t or 'untitled'}'" for t in titles]
    return PLACES["inside"].format(path=" > ".join(titles)) if titles else ""


def reason(code: str, **fields) -> Reason:
    """The ``Reason`` for ``code`` with its sentence filled in."""
    return Reason(code, REASONS[code].format(**fields))
