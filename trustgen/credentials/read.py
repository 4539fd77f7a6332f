"""Reading content credentials: c2pa's validation turned into one ``ManifestEvidence``.

A problem with the content is a finding, never an exception: no manifest is ``absent``, a
manifest at a URL that was not fetched is ``remote``, an unparseable or unsupported file is
``error`` with c2pa's reason. c2pa keeps ``trusted`` when only an ingredient fails, so each
ingredient carries its own failure codes for the policy and the table to show.

The ingredients form a tree at their real depth: each ingredient's own manifest (found by
its ``active_manifest`` label in the store c2pa read) contributes its ingredients, with each
level's codes corrected by what this validation saw. Each failure code of the active manifest is
located (the signature, an identity assertion, an ingredient's record or manifest), so a reason
can name the real cause. ``read_manifest(..., detailed=True)`` also returns the whole store as
c2patool shows it: every assertion, each signer's certificate chain and time stamp, the tree.

c2pa cannot narrow its EKU list (see trust.py), so the signers of the manifests it trusts are
checked against ``TrustConfig.accepted_ekus`` here, on the certificate c2pa verified; one outside
the list makes the manifest ``valid`` with ``signingCredential.untrusted``, as c2pa reports a
signer it does not trust.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Mapping

from ..errors import InputError, one_line
from ..evidence import (
    AI_SOURCE_TYPES,
    AIEdit,
    Failure,
    Ingredient,
    ManifestEvidence,
    Region,
    Signer,
)
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
#: c2pa's failure codes for a hard binding that does not match the bytes it was checked against
#: (a detached manifest of a re-encoded copy has only these).
HARD_BINDING_CODES = frozenset({
    "assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch",
    "assertion.collectionHash.mismatch", "assertion.dataHash.malformed",
})
_UNREADABLE_SIGNER = "its signing certificate cannot be read to check its extended key usage"

#: How far an ingredient tree is followed, in levels and in ingredients: a crafted store can
#: nest without end, loop, or point many ingredients at one manifest (a tree that doubles at
#: every level); real files stay far below both.
MAX_INGREDIENT_DEPTH = 32
MAX_INGREDIENTS = 2000
#: Regions of interest read from one manifest's edits; a real inpainting names a handful.
MAX_REGIONS = 64
#: Actions that open a manifest's story (they declare how the asset began, not an edit).
_OPENING_ACTIONS = ("c2pa.created", "c2pa.opened")

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
    return read_manifest(data, fmt=fmt, trust=trust, path=path, detached=detached)[0]


def read_manifest(
    data: bytes,
    *,
    fmt: str | None = None,
    trust: TrustConfig,
    path: str | os.PathLike | None = None,
    detached: bytes | None = None,
    detailed: bool = False,
) -> tuple[ManifestEvidence, dict | None]:
    """``read_credentials``, and with ``detailed`` the whole manifest store as c2patool shows it
    (``Evidence.manifest``; None when there is no manifest to show)."""
    import c2pa

    if not data:
        return ManifestEvidence(state="error", reason="empty file (0 bytes)"), None
    mime = _mime(data, fmt, path)
    known = lookup(mime)
    if known is not None and not known.carries_c2pa:  # c2pa would call it an unsupported type
        return ManifestEvidence(state="absent", reason=f"{known.name} files cannot carry C2PA credentials"), None
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), detached, context=_context(trust))
    except c2pa.C2paError.ManifestNotFound:
        return ManifestEvidence(state="absent", reason="no C2PA manifest in the file"), None
    except c2pa.C2paError.RemoteManifest as err:
        return _remote(err, trust.allow_remote), None
    except c2pa.C2paError as err:
        text = one_line(err)
        if text.startswith("Remote:"):
            return _remote(err, trust.allow_remote), None
        return ManifestEvidence(state="error", reason=text), None
    try:
        with reader:
            report = json.loads(reader.json())
            embedded = detached is None and reader.is_embedded()
            signatures = _manifest_signatures(reader, report)
        certificates = {label: _certificate(_leaf_certificate(cose)) for label, cose in signatures.items()}
        evidence = _evidence(report, embedded, certificates, _eku_refusals(report, certificates, trust),
                             size=lambda: _pixel_size(data))
        return evidence, (_detail(report, evidence, signatures) if detailed else None)
    except (c2pa.C2paError, ValueError, KeyError, TypeError, AttributeError) as err:
        return ManifestEvidence(state="error", reason=f"unreadable manifest report: {one_line(err)}"), None


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


def _evidence(report: dict, embedded: bool, certificates: dict, refused: dict[str, str],
              size=lambda: None) -> ManifestEvidence:
    """``size()``: the file's width and height in pixels (None if not an image), asked only when an
    edit declares regions to place."""
    label = report["active_manifest"]
    manifest = report["manifests"][label]
    results = report.get("validation_results") or {}
    failing = (results.get("activeManifest") or {}).get("failure") or ()
    codes = _failures(failing)
    if not results:  # older reports carry only the flat status list
        failing = report.get("validation_status") or ()
        codes = _failures(failing, filter_success=True)
    state = _STATES.get(report.get("validation_state"), "invalid" if codes else "valid")
    if label in refused:  # invalid only by its hard binding stays invalid, now untrusted too
        state = "valid" if state == "trusted" else state
        codes = tuple(sorted({*codes, _UNTRUSTED}))

    ingredients = _Tree(report, _deltas(results), certificates, refused).ingredients(label, (label,))
    failures = _locate([e for e in failing if isinstance(e, dict) and e.get("code") in codes],
                       label, manifest, report["manifests"])
    if label in refused:
        failures += (Failure(_UNTRUSTED, explanation=refused[label]),)

    actions, source_type, generation = [], None, None
    for assertion in manifest.get("assertions") or ():
        lab, body = assertion.get("label", ""), assertion.get("data")
        if lab in ("c2pa.actions", "c2pa.actions.v2") and isinstance(body, dict):
            for act in body.get("actions") or ():
                actions.append(act.get("action"))
                source_type = source_type or _clean(act.get("digitalSourceType"))
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
        ingredients=ingredients,
        signer=signer if sig else None,
        claim_generator=_claim_generator(manifest),
        actions=tuple(a for a in actions if a),
        digital_source_type=source_type,
        embedded=embedded,
        reason=refused.get(label),  # why trustgen refuses a signer c2pa trusted
        trustgen=generation,
        failures=failures,
        ai_edits=_ai_edits(manifest, size),
    )


def _ai_edits(manifest: dict, size=lambda: None) -> tuple[AIEdit, ...]:
    """The AI edits a manifest's actions declare (``size``: see ``_evidence``)."""
    edits = []
    for assertion in manifest.get("assertions") or ():
        if not isinstance(assertion, dict):
            continue
        body = assertion.get("data")
        if assertion.get("label") in ("c2pa.actions", "c2pa.actions.v2") and isinstance(body, dict):
            for act in body.get("actions") if isinstance(body.get("actions"), list) else ():
                edit = _ai_edit(act, size)
                if edit is not None:
                    edits.append(edit)
    return tuple(edits)


def _ai_edit(act, size) -> AIEdit | None:
    """An action other than the opening ``c2pa.created``/``c2pa.opened`` that declares an AI
    source type, with the regions its ``changes`` name (``size``: see ``_evidence``); None for
    any other action."""
    if not isinstance(act, dict) or act.get("action") in _OPENING_ACTIONS:
        return None
    source_type = _clean(act.get("digitalSourceType"))
    if source_type not in AI_SOURCE_TYPES or not isinstance(act.get("action"), str):
        return None
    agent, model, software = act.get("softwareAgent"), None, None
    if isinstance(agent, dict):
        model = agent.get("org.trustgen.model") if isinstance(agent.get("org.trustgen.model"), str) else None
        name = " ".join(str(agent[k]) for k in ("name", "version") if isinstance(agent.get(k), (str, int, float)))
        software = name or None
    elif isinstance(agent, str):
        software = agent
    boxes = []
    for change in act.get("changes") if isinstance(act.get("changes"), list) else ():
        ranges = change.get("region") if isinstance(change, dict) else None
        for roi in ranges if isinstance(ranges, list) else ():
            box = _spatial_box(roi)
            if box is not None and len(boxes) < MAX_REGIONS:
                boxes.append(box)
    found = size() if boxes else None
    description = act.get("description")
    return AIEdit(action=act["action"], digital_source_type=source_type, model=model or None,
                  software=software, description=description if isinstance(description, str) else None,
                  regions=tuple(_placed(box, found) for box in boxes))


def _spatial_box(roi) -> tuple | None:
    """``(x, y, width, height, shape, unit)`` of a spatial region of interest (a rectangle; a
    circle's or polygon's bounding box); None for a temporal, textual or malformed one."""
    if not isinstance(roi, dict) or roi.get("type", "spatial") != "spatial":
        return None
    shape = roi.get("shape")
    if not isinstance(shape, dict):
        return None
    kind, unit = shape.get("type"), shape.get("unit", "pixel")
    if unit not in ("pixel", "percent"):
        return None
    if kind == "polygon":
        points = [(_number(v.get("x")), _number(v.get("y"))) for v in shape.get("vertices") or ()
                  if isinstance(v, dict)] if isinstance(shape.get("vertices"), list) else []
        if len(points) < 3 or any(c is None for p in points for c in p):
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    elif kind in ("rectangle", "circle"):
        origin = shape.get("origin") if isinstance(shape.get("origin"), dict) else {}
        x, y = _number(origin.get("x")), _number(origin.get("y"))
        w = _number(shape.get("width"))
        h = _number(shape.get("height", shape.get("width") if kind == "circle" else None))
        if None in (x, y, w, h):
            return None
        if kind == "circle":  # the origin is the centre, the width the diameter
            x, y = x - w / 2, y - h / 2
    else:
        return None
    if w <= 0 or h <= 0:
        return None
    return x, y, w, h, kind, unit


def _placed(box: tuple, size: tuple[int, int] | None) -> Region:
    """A declared box in the file's pixels, cut to the image where its size is known."""
    x, y, w, h, shape, unit = box
    if size is None:
        return Region(x, y, w, h, shape=shape, unit=unit)
    width, height = size
    if unit == "percent":
        x, w, y, h = x * width / 100, w * width / 100, y * height / 100, h * height / 100
    left, top = min(max(x, 0.0), width), min(max(y, 0.0), height)
    right, bottom = max(min(x + w, width), left), max(min(y + h, height), top)
    clipped = (left, top, right, bottom) != (x, y, x + w, y + h)
    return Region(round(left, 2), round(top, 2), round(right - left, 2), round(bottom - top, 2),
                  shape=shape, clipped=clipped)


def _number(value) -> float | None:
    """A finite JSON number; None for anything else (a string, a boolean, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _pixel_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image's header, without decoding; None if Pillow cannot read it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - not an image (a PDF, a video) or a damaged one: no size
        return None


def _detail(report: dict, evidence: ManifestEvidence, signatures: dict[str, bytes]) -> dict:
    """The whole store as c2patool shows it (``Evidence.manifest``, verdict.schema.json): every
    manifest with all its assertions, signer chain, time stamp and the status entries that
    concern it; the ingredient tree from the active manifest; c2pa's own validation report."""
    active = report["active_manifest"]
    results = report.get("validation_results") or {}
    entries = _status_entries(report)
    manifests = [_manifest_detail(label, body, signatures.get(label), entries)
                 for label, body in sorted(report["manifests"].items(), key=lambda kv: kv[0] != active)]

    def node(ing: Ingredient) -> dict:
        return {"label": ing.manifest_label, "title": ing.title, "relationship": ing.relationship,
                "signer": ing.signer, "codes": list(ing.codes),
                "children": [node(child) for child in ing.ingredients]}

    return {
        "active_manifest": active,
        "manifests": manifests,
        "tree": {"label": active, "title": report["manifests"][active].get("title"),
                 "relationship": None, "signer": evidence.signer and evidence.signer.common_name,
                 "codes": list(evidence.codes), "children": [node(i) for i in evidence.ingredients]},
        "validation_state": report.get("validation_state"),
        "validation_results": results or None,
    }


def _status_entries(report: dict) -> list[dict]:
    """Every status entry of c2pa's report (``kind``: success, informational or failure), from
    the active manifest's results and every ingredient delta, once each."""
    results = report.get("validation_results") or {}
    groups = [results.get("activeManifest") or {}]
    groups += [d.get("validationDeltas") or {} for d in results.get("ingredientDeltas") or ()]
    out, seen = [], set()
    for group in groups:
        for kind in ("success", "informational", "failure"):
            for e in group.get(kind) or ():
                if isinstance(e, dict) and (kind, e.get("code"), e.get("url")) not in seen:
                    seen.add((kind, e.get("code"), e.get("url")))
                    out.append({"code": e.get("code"), "kind": kind, "url": e.get("url"),
                                "explanation": e.get("explanation")})
    if not results:  # older reports: one flat list
        for e in report.get("validation_status") or ():
            if isinstance(e, dict):
                kind = "success" if str(e.get("code", "")).endswith(_SUCCESS_SUFFIXES) else "failure"
                out.append({"code": e.get("code"), "kind": kind, "url": e.get("url"),
                            "explanation": e.get("explanation")})
    return out


def _manifest_detail(label: str, manifest: dict, cose: bytes | None, entries: list[dict]) -> dict:
    sig = manifest.get("signature_info") or {}
    own = f"self#jumbf=/c2pa/{label}"
    mine = [e for e in entries if str(e.get("url")) in (own, label) or str(e.get("url")).startswith(own + "/")]
    stamp = None if cose is None else _timestamp_certificate(cose)
    timestamp = None
    if stamp is not None or sig.get("time"):
        timestamp = {"time": sig.get("time"),
                     "authority": _name(stamp, "subject", "COMMON_NAME") or _name(stamp, "subject", "ORGANIZATION_NAME"),
                     "codes": sorted({e["code"] for e in mine if str(e.get("code")).startswith("timeStamp.")})}
    return {
        "label": label,
        "title": manifest.get("title"),
        "format": manifest.get("format"),
        "instance_id": manifest.get("instance_id"),
        "claim_generator": _claim_generator(manifest),
        "claim_generator_info": list(manifest.get("claim_generator_info") or ()),
        "signature": {
            "issuer": sig.get("issuer"), "common_name": sig.get("common_name"),
            "alg": sig.get("alg"), "time": sig.get("time"), "timestamp": timestamp,
            "chain": [_certificate_detail(c) for c in ([] if cose is None else _cose_chain(cose))],
        },
        "assertions": [{"label": a.get("label"), "data": a.get("data")}
                       for a in manifest.get("assertions") or () if isinstance(a, dict)],
        "ingredients": [{
            "title": i.get("title"), "relationship": i.get("relationship"), "format": i.get("format"),
            "manifest_label": i.get("active_manifest"),
            "validation_status": _recorded_status(i),
        } for i in manifest.get("ingredients") or () if isinstance(i, dict)],
        "validation_status": mine,
    }


def _recorded_status(ingredient: dict) -> list[dict]:
    """What the signer recorded about an ingredient's validation, as c2pa reports it."""
    if ingredient.get("validation_status"):
        return list(ingredient["validation_status"])
    results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
    return [{**e, "kind": kind} for kind in ("success", "informational", "failure")
            for e in results.get(kind) or () if isinstance(e, dict)]


def _certificate_detail(der: bytes) -> dict:
    """A chain certificate's names, serial and validity; a field that cannot be parsed (the
    library parses names lazily) is null rather than the whole reading lost."""
    cert = _certificate(der)
    fields = {
        "subject": lambda: cert.subject.rfc4514_string(),
        "issuer": lambda: cert.issuer.rfc4514_string(),
        "serial": lambda: format(cert.serial_number, "x"),
        "not_before": lambda: cert.not_valid_before_utc.isoformat(),
        "not_after": lambda: cert.not_valid_after_utc.isoformat(),
    }
    out = {}
    for key, get in fields.items():
        try:
            out[key] = None if cert is None else get()
        except ValueError:
            out[key] = None
    return out


def _deltas(results: dict) -> dict[str, dict]:
    """Ingredient assertion URI -> what this validation saw of that ingredient, for every
    manifest of the store (a delta's URI names the manifest that records the ingredient)."""
    deltas: dict[str, dict] = {}
    for delta in results.get("ingredientDeltas") or ():
        merged = deltas.setdefault(delta.get("ingredientAssertionURI", ""), {"success": [], "failure": []})
        for kind in ("success", "failure"):
            merged[kind].extend((delta.get("validationDeltas") or {}).get(kind) or ())
    return deltas


class _Tree:
    """Builds the ingredient tree from the store c2pa read, guarded against loops and blow-up."""

    def __init__(self, report: dict, deltas: dict, certificates: dict, refused: dict[str, str]):
        self.manifests = report["manifests"]
        self.deltas, self.certificates, self.refused = deltas, certificates, refused
        self.budget = MAX_INGREDIENTS

    def ingredients(self, label: str, ancestors: tuple[str, ...]) -> tuple[Ingredient, ...]:
        """The ingredients the manifest ``label`` records, each with its own beneath it."""
        out = []
        prefix = f"self#jumbf=/c2pa/{label}/c2pa.assertions/"
        for ing in (self.manifests.get(label) or {}).get("ingredients") or ():
            if self.budget <= 0:
                break
            self.budget -= 1
            # What the signer recorded about the ingredient, corrected by what this validation saw
            # (the delta): e.g. recorded signingCredential.untrusted, now trusted under our anchors.
            recorded = set(_failures(ing.get("validation_status"), filter_success=True))
            recorded |= set(_failures(((ing.get("validation_results") or {}).get("activeManifest") or {}).get("failure")))
            delta = self.deltas.get(prefix + str(ing.get("label")), {})
            now_ok = {_family(c) for c in _codes(delta.get("success"))}
            codes = {c for c in recorded if _family(c) not in now_ok} | set(_codes(delta.get("failure")))
            child = ing.get("active_manifest")
            if child in self.refused:
                codes.add(_UNTRUSTED)
            own = self.manifests.get(child) if isinstance(child, str) else None
            nested = ()
            if own is not None and child not in ancestors and len(ancestors) < MAX_INGREDIENT_DEPTH:
                nested = self.ingredients(child, (*ancestors, child))
            out.append(Ingredient(
                title=ing.get("title"),
                relationship=ing.get("relationship"),
                codes=tuple(sorted(codes)),
                has_manifest=bool(child or ing.get("manifest_data")),
                digital_source_type=_source_type(own or {}),
                manifest_label=child if isinstance(child, str) else None,
                signer=(_name(self.certificates.get(child), "subject", "COMMON_NAME")
                        or ((own or {}).get("signature_info") or {}).get("common_name")),
                ingredients=nested,
                ai_edits=_ai_edits(own or {}),
            ))
        return tuple(out)


def _locate(entries, label: str, manifest: dict, manifests: dict) -> tuple[Failure, ...]:
    """Where each failing status entry of the active manifest points, from its URL: the
    signature or claim, an assertion (an identity assertion, an ingredient's record), an
    ingredient's manifest (by its label), or an assertion inside an ingredient's manifest."""
    ingredients = [i for i in manifest.get("ingredients") or () if isinstance(i, dict)]
    by_record = {str(i.get("label")): i.get("title") for i in ingredients}
    by_manifest = {i.get("active_manifest"): i.get("title") for i in ingredients if i.get("active_manifest")}
    bodies = {a.get("label"): a.get("data") for a in manifest.get("assertions") or () if isinstance(a, dict)}
    own = f"self#jumbf=/c2pa/{label}/"
    out: dict[tuple, Failure] = {}
    for entry in entries:
        url = str(entry.get("url") or "")
        assertion = ingredient = identity = None
        if url.startswith(own + "c2pa.assertions/"):
            assertion = url[len(own + "c2pa.assertions/"):].split("/", 1)[0]
            ingredient = by_record.get(assertion)
            if assertion.startswith("cawg.identity"):
                identity = _identity_name(bodies.get(assertion))
        elif url in by_manifest:
            ingredient = by_manifest[url]
        elif url.startswith("self#jumbf=/c2pa/") and not url.startswith(own):
            other = url[len("self#jumbf=/c2pa/"):].split("/", 1)[0]
            ingredient = by_manifest.get(other) or (manifests.get(other) or {}).get("title")
        failure = Failure(entry["code"], assertion=assertion, ingredient=ingredient, identity=identity,
                          explanation=entry.get("explanation"))
        out.setdefault((failure.code, assertion, ingredient), failure)
    return tuple(out.values())


def _identity_name(body) -> str | None:
    """Who a CAWG identity assertion names: its X.509 credential's subject, or the verified
    identities of an identity claims aggregation."""
    if not isinstance(body, dict):
        return None
    info = body.get("signature_info")
    if isinstance(info, dict):
        who = ", ".join(str(info[k]) for k in ("common_name", "issuer") if info.get(k))
        if who:
            return who
    names = []
    for ident in (body.get("signer_payload") or {}).get("verifiedIdentities") or ():
        if isinstance(ident, dict):
            names.append(str(ident.get("name") or ident.get("username") or ident.get("type") or ""))
    return ", ".join(n for n in names if n) or None


def _manifest_signatures(reader, report: dict) -> dict[str, bytes]:
    """Manifest label -> COSE signature, for the active manifest and its ingredients'
    manifests, read from the store c2pa validated (a URI naming a manifest streams that
    manifest's store, ingredients' claims included). c2pa's own reports name the signer's
    organisation but not its issuer or chain, and do not give the certificate to check its EKUs."""
    import c2pa

    store = io.BytesIO()
    try:
        reader.resource_to_stream(f"self#jumbf=/c2pa/{report['active_manifest']}", store)
        return _signatures(store.getvalue())
    except (c2pa.C2paError, ValueError):
        return {}


def _certificate(der: bytes | None):
    """A DER certificate parsed; None for none or a damaged one (unreadable, not a crash)."""
    from cryptography import x509

    try:
        return None if der is None else x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):
        return None


def _name(cert, which: str, attribute: str) -> str | None:
    """The ``attribute`` (``COMMON_NAME``, ``ORGANIZATION_NAME``) of a certificate's subject or
    issuer; None when it has none or its name cannot be parsed (names are parsed lazily, so a
    damaged one fails only here)."""
    from cryptography.x509.oid import NameOID

    if cert is None:
        return None
    try:
        found = getattr(cert, which).get_attributes_for_oid(getattr(NameOID, attribute))
    except ValueError:
        return None
    return str(found[0].value) if found else None


def _eku_refusals(report: dict, certificates: dict, trust: TrustConfig) -> dict[str, str]:
    """Manifest label -> why its signer is outside ``trust``'s EKU list, for the active manifest
    and its ingredients' (at any depth) when c2pa trusts the file, or would but for the hard
    binding (a detached manifest recovered for a copy), otherwise nothing is trusted to narrow.
    c2pa accepts emailProtection, timeStamping and OCSPSigning whatever the list says."""
    if report.get("validation_state") != "Trusted" and not _trusted_but_hard_binding(report):
        return {}
    refused = {}
    for label in report["manifests"]:  # the active manifest and every ingredient's, at any depth
        leaf = certificates.get(label)
        problem = _UNREADABLE_SIGNER if leaf is None else signer_eku_problem(leaf, trust.accepted_ekus)
        if problem:
            refused[label] = problem
    return refused


def _trusted_but_hard_binding(report: dict) -> bool:
    """c2pa calls the manifest invalid only because its hard binding does not match this file."""
    results = (report.get("validation_results") or {}).get("activeManifest") or {}
    codes = set(_failures(results.get("failure") or ()))
    trusted = {e.get("code") for e in results.get("success") or () if isinstance(e, dict)}
    return (report.get("validation_state") == "Invalid" and bool(codes)
            and codes <= HARD_BINDING_CODES and "signingCredential.trusted" in trusted)


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
    chain = _cose_chain(cose)
    return chain[0] if chain else None


def _cose_chain(cose: bytes) -> list[bytes]:
    """The DER certificates of a COSE_Sign1's ``x5chain``, leaf first (see ``_leaf_certificate``)."""
    protected, unprotected = _cose_headers(cose)
    chain = protected.get(33, protected.get("x5chain"))
    if chain is None:
        chain = unprotected.get("x5chain")
    if isinstance(chain, bytes):
        return [chain]
    if isinstance(chain, (list, tuple)):  # cbor2 gives arrays inside maps as tuples
        return [c for c in chain if isinstance(c, bytes)]
    return []


def _cose_headers(cose: bytes) -> tuple[dict, dict]:
    """A COSE_Sign1's protected and unprotected header maps; empty ones if it cannot be parsed."""
    import cbor2

    try:
        sign1 = cbor2.loads(cose)
        sign1 = sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1
        protected = cbor2.loads(sign1[0]) if sign1[0] else {}
        unprotected = sign1[1]
    except (cbor2.CBORError, ValueError, IndexError, TypeError, AttributeError, RecursionError):
        return {}, {}
    return (protected if isinstance(protected, Mapping) else {},  # cbor2 nests frozendicts
            unprotected if isinstance(unprotected, Mapping) else {})


def _timestamp_certificate(cose: bytes):
    """The certificate of the time-stamp authority whose RFC 3161 token the signature carries
    (``sigTst2`` or ``sigTst``), or None."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import pkcs7

    _, unprotected = _cose_headers(cose)
    for key in ("sigTst2", "sigTst"):
        tokens = unprotected.get(key)
        tokens = tokens.get("tstTokens") if isinstance(tokens, Mapping) else None
        for token in tokens if isinstance(tokens, (list, tuple)) else ():
            value = token.get("val") if isinstance(token, Mapping) else None
            if not isinstance(value, bytes):
                continue
            try:
                with warnings.catch_warnings():  # some TSAs' certificate sets are BER, not DER
                    warnings.simplefilter("ignore")
                    certs = pkcs7.load_der_pkcs7_certificates(_timestamp_token(value))
            except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm):
                continue  # c2pa's timeStamp codes still say what it made of the token
            for cert in certs:
                try:
                    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
                except (x509.ExtensionNotFound, ValueError):
                    continue
                if x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in usage:
                    return cert
            if certs:
                return certs[0]
    return None


def _timestamp_token(value: bytes) -> bytes:
    """The token (a CMS ContentInfo) of a ``sigTst`` value: v1 signatures store the whole
    TimeStampResp, whose first element is the PKIStatusInfo, v2 (``sigTst2``) the token alone."""
    items = list(_der_children(value))
    if len(items) == 2 and value[items[0][0]] == 0x30 and value[items[0][1]] == 0x02:
        start, _, end = items[1]
        return value[start:end]
    return value


def _der_children(buf: bytes):
    """(start, content start, end) of each element inside the DER SEQUENCE ``buf``."""
    def header(at: int) -> tuple[int, int]:
        if at + 2 > len(buf):
            raise ValueError("truncated DER")
        length, at = buf[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            length, at = int.from_bytes(buf[at:at + count], "big"), at + count
        return at, at + length

    if not buf or buf[0] != 0x30:
        return
    try:
        at, end = header(0)
        while at < min(end, len(buf)):
            content, stop = header(at)
            yield at, content, stop
            at = stop
    except ValueError:
        return


def _source_type(manifest: dict) -> str | None:
    """The first digital source type a manifest's actions declare (an ingredient's, too)."""
    for assertion in manifest.get("assertions") or ():
        body = assertion.get("data")
        if assertion.get("label") in ("c2pa.actions", "c2pa.actions.v2") and isinstance(body, dict):
            for act in body.get("actions") or ():
                if _clean(act.get("digitalSourceType")):
                    return _clean(act["digitalSourceType"])
    return None


def _clean(uri) -> str | None:
    """A digital source type as written, less the stray spaces some signers leave around it."""
    return uri.strip() or None if isinstance(uri, str) else None


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
