"""Reading content credentials: c2pa's validation turned into one ``ManifestEvidence``.

A problem with the content is a finding, never an exception: no manifest is ``absent``, a
manifest at a URL that was not fetched is ``remote``, an unparseable or unsupported file is
``error`` with c2pa's reason. c2pa keeps ``trusted`` when only an ingredient fails, so each
ingredient carries its own failure codes for the policy and the table to show.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading

from ..errors import InputError, one_line
from ..evidence import Ingredient, ManifestEvidence, Signer
from ..media import format_for_path, lookup, mime_for, read_file, sniff_format
from .trust import TrustConfig

_STATES = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}
_SUCCESS_SUFFIXES = (".validated", ".trusted", ".match", ".insideValidity")
_INFORMATIONAL = frozenset({
    "ingredient.unknownProvenance", "signingCredential.ocsp.skipped",
    "signingCredential.ocsp.inaccessible", "timeStamp.mismatch", "timeStamp.untrusted",
    "timeStamp.outsideValidity", "algorithm.deprecated",
})
_URL = re.compile(r"https?://\S+")

_contexts: dict[TrustConfig, object] = {}
_contexts_lock = threading.Lock()


def read_credentials(
    data: bytes,
    *,
    fmt: str | None = None,
    trust: TrustConfig,
    path: str | os.PathLike | None = None,
    detached: bytes | None = None,
) -> ManifestEvidence:
    """Validate ``data``'s C2PA manifest (or the ``detached`` sidecar manifest) under ``trust``.

    The format comes from ``fmt``, else the file's magic bytes, else ``path``'s extension, so a
    wrong extension does not matter. Thread-safe: c2pa contexts are shared per ``TrustConfig``.
    """
    import c2pa

    if not data:
        return ManifestEvidence(state="error", reason="empty file (0 bytes)")
    mime = _mime(data, fmt, path)
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), detached, context=_context(trust))
    except c2pa.C2paError.ManifestNotFound:
        return ManifestEvidence(state="absent", reason="no C2PA manifest in the file")
    except c2pa.C2paError.RemoteManifest as err:
        return _remote(err, trust.allow_remote)
    except c2pa.C2paError as err:
        text = one_line(err)
        if text.startswith("Remote:"):
            return _remote(err, trust.allow_remote)
        return ManifestEvidence(state="error", reason=text)
    try:
        with reader:
            report = json.loads(reader.json())
            embedded = detached is None and reader.is_embedded()
            certificate = _certificate_info(reader, report.get("active_manifest"))
        return _evidence(report, embedded, certificate)
    except (c2pa.C2paError, ValueError, KeyError, TypeError, AttributeError) as err:
        return ManifestEvidence(state="error", reason=f"unreadable manifest report: {one_line(err)}")


def read_credentials_file(
    path: str | os.PathLike,
    *,
    trust: TrustConfig,
    detached: str | os.PathLike | None = None,
) -> ManifestEvidence:
    """``read_credentials`` on a file; a missing path or a directory is an ``error`` result."""
    try:
        data = read_file(path)
        sidecar = None if detached is None else read_file(detached)
    except InputError as err:
        return ManifestEvidence(state="error", reason=str(err))
    return read_credentials(data, trust=trust, path=path, detached=sidecar)


def _context(trust: TrustConfig):
    """One c2pa context per trust configuration: parsing the anchors costs more than a read."""
    ctx = _contexts.get(trust)
    if ctx is None:
        import c2pa

        with _contexts_lock:
            ctx = _contexts.get(trust)
            if ctx is None:
                if len(_contexts) >= 16:
                    _contexts.clear()  # contexts still in use stay alive through their readers
                ctx = _contexts[trust] = c2pa.Context.from_dict(trust.c2pa_settings())
    return ctx


def _mime(data: bytes, fmt: str | None, path) -> str | None:
    """A format trustgen does not know goes to c2pa as given, for c2pa to judge."""
    if fmt:
        known = lookup(fmt)
        return known.mime if known else fmt
    name = sniff_format(data) or (format_for_path(path) if path is not None else None)
    return mime_for(name) if name else None


def _remote(err, fetching_allowed: bool) -> ManifestEvidence:
    found = _URL.search(str(err))
    where = f" at {found.group(0).rstrip(').,;')}" if found else ""
    why = (f"it could not be fetched ({one_line(err)})" if fetching_allowed
           else "fetching remote manifests is off")
    return ManifestEvidence(state="remote", embedded=False,
                            reason=f"the manifest is remote{where}; {why}")


def _certificate_info(reader, label) -> dict:
    """Subject and issuer of the signing certificate: only c2pa's crJSON report names both."""
    import c2pa

    try:
        for manifest in json.loads(reader.crjson()).get("manifests") or ():
            if manifest.get("label") == label:
                return manifest.get("signature") or {}
    except (c2pa.C2paError, ValueError, AttributeError):
        pass
    return {}


def _evidence(report: dict, embedded: bool, certificate: dict) -> ManifestEvidence:
    label = report["active_manifest"]
    manifest = report["manifests"][label]
    results = report.get("validation_results") or {}
    codes = _failures((results.get("activeManifest") or {}).get("failure"))
    if not results:  # older reports carry only the flat status list
        codes = _failures(report.get("validation_status"), filter_success=True)

    deltas: dict[str, dict] = {}
    for delta in results.get("ingredientDeltas") or ():
        merged = deltas.setdefault(delta.get("ingredientAssertionURI", ""), {"success": [], "failure": []})
        for kind in ("success", "failure"):
            merged[kind].extend((delta.get("validationDeltas") or {}).get(kind) or ())
    prefix = f"self#jumbf=/c2pa/{label}/c2pa.assertions/"
    ingredients = []
    for ing in manifest.get("ingredients") or ():
        # What the signer recorded about the ingredient, corrected by what this validation saw
        # (the delta): e.g. recorded signingCredential.untrusted, now trusted under our anchors.
        recorded = set(_failures(ing.get("validation_status"), filter_success=True))
        recorded |= set(_failures(((ing.get("validation_results") or {}).get("activeManifest") or {}).get("failure")))
        delta = deltas.get(prefix + str(ing.get("label")), {})
        now_ok = {_family(c) for c in _codes(delta.get("success"))}
        ing_codes = {c for c in recorded if _family(c) not in now_ok} | set(_codes(delta.get("failure")))
        ingredients.append(Ingredient(
            title=ing.get("title"),
            relationship=ing.get("relationship"),
            codes=tuple(sorted(ing_codes)),
            has_manifest=bool(ing.get("active_manifest") or ing.get("manifest_data")),
            digital_source_type=_source_type(report["manifests"].get(ing.get("active_manifest")) or {}),
        ))

    actions, source_type, generation = [], None, None
    for assertion in manifest.get("assertions") or ():
        lab, body = assertion.get("label", ""), assertion.get("data")
        if lab in ("c2pa.actions", "c2pa.actions.v2") and isinstance(body, dict):
            for act in body.get("actions") or ():
                actions.append(act.get("action"))
                source_type = source_type or act.get("digitalSourceType")
        elif lab == "org.trustgen.generation" and isinstance(body, dict):
            generation = body

    sig = manifest.get("signature_info") or {}
    cert = certificate.get("certificateInfo") or {}
    subject, issuer = cert.get("subject") or {}, cert.get("issuer") or {}
    signer = Signer(
        common_name=subject.get("CN") or sig.get("common_name"),
        # c2pa-rs's signature_info calls the subject's organisation "issuer"
        organization=subject.get("O") or sig.get("issuer"),
        issuer=issuer.get("CN") or issuer.get("O"),
        algorithm=(sig.get("alg") or certificate.get("algorithm") or "").lower() or None,
        time=sig.get("time") or (certificate.get("timeStampInfo") or {}).get("timestamp"),
    )
    return ManifestEvidence(
        state=_STATES.get(report.get("validation_state"), "invalid" if codes else "valid"),
        codes=codes,
        ingredients=tuple(ingredients),
        signer=signer if sig else None,
        claim_generator=_claim_generator(manifest),
        actions=tuple(a for a in actions if a),
        digital_source_type=source_type,
        embedded=embedded,
        trustgen=generation,
    )


def _source_type(manifest: dict) -> str | None:
    """The first digital source type a manifest's actions declare (an ingredient's, too)."""
    for assertion in manifest.get("assertions") or ():
        body = assertion.get("data")
        if assertion.get("label") in ("c2pa.actions", "c2pa.actions.v2") and isinstance(body, dict):
            for act in body.get("actions") or ():
                if act.get("digitalSourceType"):
                    return act["digitalSourceType"]
    return None


def _failures(entries, *, filter_success: bool = False) -> tuple[str, ...]:
    codes = set()
    for entry in entries or ():
        code = entry.get("code") if isinstance(entry, dict) else None
        if not code:
            continue
        if filter_success and (code.endswith(_SUCCESS_SUFFIXES) or code in _INFORMATIONAL):
            continue
        codes.add(code)
    return tuple(sorted(codes))


def _codes(entries) -> list[str]:
    return [e["code"] for e in entries or () if isinstance(e, dict) and e.get("code")]


def _family(code: str) -> str:
    """``signingCredential.untrusted`` -> ``signingCredential``; ``assertion.dataHash.mismatch``
    -> ``assertion.dataHash``."""
    return code.rsplit(".", 1)[0]


def _claim_generator(manifest: dict) -> str | None:
    if manifest.get("claim_generator"):
        return manifest["claim_generator"]
    parts = []
    for info in manifest.get("claim_generator_info") or ():
        if isinstance(info, dict) and info.get("name"):
            parts.append(f"{info['name']}/{info['version']}" if info.get("version") else info["name"])
    return " ".join(parts) or None
