"""Reading content credentials: c2pa's validation turned into one ``ManifestEvidence``.

A problem with the content is a finding, never an exception: no manifest is ``absent``, a
manifest at a URL that was not fetched is ``remote``, an unparseable or unsupported file is
``error`` with c2pa's reason. c2pa keeps ``trusted`` when only an ingredient fails, so each
ingredient carries its own failure codes for the policy and the table to show.

c2pa cannot narrow its EKU list (see trust.py), so the signers of the manifests it trusts are
checked against ``TrustConfig.accepted_ekus`` here, on the certificate c2pa verified; one outside
the list makes the manifest ``valid`` with ``signingCredential.untrusted``, as c2pa reports a
signer it does not trust.
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
from .trust import TrustConfig, signer_eku_problem

_STATES = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}
_SUCCESS_SUFFIXES = (".validated", ".trusted", ".match", ".insideValidity")
_INFORMATIONAL = frozenset({
    "ingredient.unknownProvenance", "signingCredential.ocsp.skipped",
    "signingCredential.ocsp.inaccessible", "timeStamp.mismatch", "timeStamp.untrusted",
    "timeStamp.outsideValidity", "algorithm.deprecated",
})
_URL = re.compile(r"https?://\S+")
_UNTRUSTED = "signingCredential.untrusted"
_UNREADABLE_SIGNER = "its signing certificate cannot be read to check its extended key usage"

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
    known = lookup(mime)
    if known is not None and not known.carries_c2pa:  # c2pa would call it an unsupported type
        return ManifestEvidence(state="absent", reason=f"{known.name} files cannot carry C2PA credentials")
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
            certificates = _signing_certificates(reader, report)
        return _evidence(report, embedded, certificates, _eku_refusals(report, certificates, trust))
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


def _evidence(report: dict, embedded: bool, certificates: dict, refused: dict[str, str]
              ) -> ManifestEvidence:
    label = report["active_manifest"]
    manifest = report["manifests"][label]
    results = report.get("validation_results") or {}
    codes = _failures((results.get("activeManifest") or {}).get("failure"))
    if not results:  # older reports carry only the flat status list
        codes = _failures(report.get("validation_status"), filter_success=True)
    state = _STATES.get(report.get("validation_state"), "invalid" if codes else "valid")
    if label in refused:
        state, codes = "valid", tuple(sorted({*codes, _UNTRUSTED}))

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
        if ing.get("active_manifest") in refused:
            ing_codes.add(_UNTRUSTED)
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
    leaf = certificates.get(label)
    signer = Signer(
        common_name=_name(leaf, "subject", "COMMON_NAME") or sig.get("common_name"),
        # c2pa-rs's signature_info calls the subject's organisation "issuer"
        organization=_name(leaf, "subject", "ORGANIZATION_NAME") or sig.get("issuer"),
        issuer=(_name(leaf, "issuer", "COMMON_NAME")
                or _name(leaf, "issuer", "ORGANIZATION_NAME")),
        algorithm=(sig.get("alg") or "").lower() or None,
        time=sig.get("time"),
    )
    return ManifestEvidence(
        state=state,
        codes=codes,
        ingredients=tuple(ingredients),
        signer=signer if sig else None,
        claim_generator=_claim_generator(manifest),
        actions=tuple(a for a in actions if a),
        digital_source_type=source_type,
        embedded=embedded,
        reason=refused.get(label),  # why trustgen refuses a signer c2pa trusted
        trustgen=generation,
    )


def _signing_certificates(reader, report: dict) -> dict:
    """Manifest label -> signing (leaf) certificate, for the active manifest and its
    ingredients' manifests, read from the store c2pa validated (a URI naming a manifest streams
    that manifest's store, ingredients' claims included). c2pa's own reports name the signer's
    organisation but not its issuer, and do not give the certificate to check its EKUs."""
    import c2pa
    from cryptography import x509

    store = io.BytesIO()
    try:
        reader.resource_to_stream(f"self#jumbf=/c2pa/{report['active_manifest']}", store)
        signatures = _signatures(store.getvalue())
    except (c2pa.C2paError, ValueError):
        return {}
    out = {}
    for label, cose in signatures.items():
        leaf = _leaf_certificate(cose)
        try:
            out[label] = None if leaf is None else x509.load_der_x509_certificate(leaf)
        except (ValueError, x509.InvalidVersion):  # a damaged certificate: unreadable, not a crash
            out[label] = None
    return out


def _name(cert, which: str, attribute: str) -> str | None:
    """The ``attribute`` (``COMMON_NAME``, ``ORGANIZATION_NAME``) of a certificate's subject or
    issuer."""
    from cryptography.x509.oid import NameOID

    if cert is None:
        return None
    found = getattr(cert, which).get_attributes_for_oid(getattr(NameOID, attribute))
    return str(found[0].value) if found else None


def _eku_refusals(report: dict, certificates: dict, trust: TrustConfig) -> dict[str, str]:
    """Manifest label -> why its signer is outside ``trust``'s EKU list, for the active manifest
    and its ingredients' when c2pa trusts the file (otherwise nothing is trusted to narrow).
    c2pa accepts emailProtection, timeStamping and OCSPSigning whatever the list says."""
    if report.get("validation_state") != "Trusted":
        return {}
    active = report["active_manifest"]
    ingredients = report["manifests"][active].get("ingredients") or ()
    labels = {active} | {i.get("active_manifest") for i in ingredients if i.get("active_manifest")}
    refused = {}
    for label in labels:
        leaf = certificates.get(label)
        problem = _UNREADABLE_SIGNER if leaf is None else signer_eku_problem(leaf, trust.accepted_ekus)
        if problem:
            refused[label] = problem
    return refused


def _signatures(store: bytes) -> dict[str, bytes]:
    """Manifest label -> its COSE signature, from a JUMBF manifest store (c2pa's own
    serialization of what it validated): store / manifest / c2pa.signature / cbor."""
    out = {}
    for kind, start, end in _boxes(store, 0, len(store)):
        if kind != b"jumb":
            continue
        for label, (m_start, m_end) in _superboxes(store, start, end).items():
            signature = _superboxes(store, m_start, m_end).get("c2pa.signature")
            if signature is not None:
                out[label] = next((store[s:e] for k, s, e in _boxes(store, *signature)
                                   if k == b"cbor"), b"")
    return out


def _superboxes(buf: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    """The labelled JUMBF superboxes in ``buf[start:end]``: label -> span of their content."""
    out: dict[str, tuple[int, int]] = {}
    for kind, s, e in _boxes(buf, start, end):
        if kind != b"jumb":
            continue
        kind, d_start, d_end = next(_boxes(buf, s, e), (b"", s, s))
        toggles = buf[d_start + 16] if kind == b"jumd" and d_end > d_start + 16 else 0
        if toggles & 2:  # the description box carries a label: UTF-8, NUL-terminated
            label = buf[d_start + 17:buf.index(b"\0", d_start + 17, d_end)].decode("utf-8", "replace")
            out.setdefault(label, (d_end, e))
    return out


def _boxes(buf: bytes, start: int, end: int):
    """(type, content start, end) of each box in ``buf[start:end]``."""
    while start + 8 <= end:
        size, head = int.from_bytes(buf[start:start + 4], "big"), 8
        if size == 1:
            size, head = int.from_bytes(buf[start + 8:start + 16], "big"), 16
        elif size == 0:
            size = end - start
        if size < head or start + size > end:
            raise ValueError("malformed JUMBF box")
        yield buf[start + 4:start + 8], start + head, start + size
        start += size


def _leaf_certificate(cose: bytes) -> bytes | None:
    """The signing certificate of a COSE_Sign1, found where c2pa-rs looks: ``x5chain`` (33, or the
    text label) in the protected header, else the text label in the unprotected one."""
    import cbor2

    try:
        sign1 = cbor2.loads(cose)
        sign1 = sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1
        protected = cbor2.loads(sign1[0]) if sign1[0] else {}
        chain = protected.get(33, protected.get("x5chain"))
        if chain is None:
            chain = sign1[1].get("x5chain")
    except (cbor2.CBORError, ValueError, IndexError, TypeError, AttributeError, RecursionError):
        return None
    if isinstance(chain, (list, tuple)):  # cbor2 gives arrays inside maps as tuples
        chain = next((c for c in chain if isinstance(c, bytes)), None)
    return chain if isinstance(chain, bytes) else None


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
