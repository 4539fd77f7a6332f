"""Verification policies: TOML data saying what to gather and how to judge it.

Judging is kept apart from gathering (in-toto's lesson): ``Policy.gather`` tells
``verify.Verifier`` which evidence to collect (trust anchors, EKUs, watermark keys and schemes,
the detector, remote manifests); ``Policy.judge`` holds the thresholds and actions, and
``Policy.decide`` turns gathered evidence into one ``Verdict``. Every name a policy gives (anchor
files, key files, schemes, labels, numbers) is checked when it is loaded, each error naming the
file, line and field, so a typo fails at start-up rather than as "not checked" on every image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from .errors import PolicyError, TrustgenError
from .evidence import (
    AI_COMPOSITE_SOURCE_TYPES, AI_SOURCE_TYPES, CAPTURE_SOURCE_TYPES, Evidence, Failure, Ingredient,
    ManifestEvidence, Reason, RecoveryEvidence, Verdict, is_watermarked,
)
from .labels import (
    EDIT_WORDS, LABELS, agent_text, failure_text, inside, reason, region_text, regions_text,
)

if TYPE_CHECKING:
    from .credentials.trust import TrustConfig

#: The loosest ``[watermark] max_p_value`` a policy may set: at 0.05 one unmarked image in
#: twenty already counts as marked, so anything looser is a mistake, not a policy.
MAX_P_VALUE_CEILING = 0.05

_LIST, _BOOL, _NUMBER, _STR = (list,), (bool,), (float, int), (str,)
_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "": {"name": _STR, "description": _STR, "passing_actions": _LIST, "default_action": _STR},
    "trust": {"anchors": _LIST, "ekus": _LIST, "local_identity": _BOOL, "allow_remote": _BOOL,
              "ocsp": _BOOL},
    "watermark": {"enabled": _BOOL, "schemes": _LIST, "key_files": _LIST,
                  "local_identity_key": _BOOL, "max_p_value": _NUMBER, "latent_models": _LIST},
    "detector": {"enabled": _BOOL, "threshold": _NUMBER, "target_fpr": _NUMBER},
    "store": {"enabled": _BOOL, "url": _STR, "resolvers": _LIST, "timeout": _NUMBER,
              "require_both_bindings": _BOOL},
}
_TABLES = {"trust", "watermark", "detector", "store", "actions"}
#: Longest a policy may let verify wait for one remote resolver request, in seconds.
MAX_RESOLVER_TIMEOUT = 60.0
_OID = re.compile(r"^[0-2](\.\d+)+$")

#: Policies are a few KB; a larger file is a mistake or an attack on the loader.
MAX_POLICY_BYTES = 1 << 20
#: Deepest nesting of arrays, tables and dotted keys a policy may use (they need 3): tomllib
#: recurses on arrays and inline tables and slows down quadratically on long dotted keys.
MAX_POLICY_NESTING = 32
_STRUCTURE = re.compile(r"[\"'#\[\]{}.=,\n]")


@dataclass(frozen=True)
class Gather:
    """What the verifier collects, already read: anchor and key files are loaded at load time."""

    trust: "TrustConfig"  # the policy's anchors, EKUs (None: the default list) and switches
    local_identity: bool = True
    watermark: bool = True
    watermark_schemes: tuple[str, ...] | None = None  # None: the schemes read by default
    watermark_keys: tuple[bytes, ...] = field(default=(), repr=False)  # from key_files
    watermark_local_key: bool = True
    #: Model folders to invert for the latent watermark (seconds per image each; off when empty).
    latent_models: tuple[str, ...] = ()
    detector: bool = True
    #: Look files without usable embedded credentials up in manifest stores: the local store
    #: (or the caller's), ``store_url`` and the remote ``resolvers`` (each request ``timeout`` s).
    store: bool = True
    store_url: str | None = None
    resolvers: tuple[str, ...] = ()
    resolver_timeout: float = 5.0


@dataclass(frozen=True)
class Judge:
    """How gathered evidence is judged: bounds, and the action for every label."""

    actions: Mapping[str, str]
    passing_actions: frozenset[str]
    max_p_value: float
    detector_threshold: float | None = None
    detector_target_fpr: float | None = None
    #: Recovered credentials count only when the watermark and the fingerprint name them both.
    require_both_bindings: bool = False


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy."""

    name: str
    source: str
    gather: Gather
    judge: Judge
    description: str = ""
    digest: str = field(default="", compare=False)
    text: str = field(default="", compare=False, repr=False)

    @classmethod
    def load(cls, name_or_path: "str | Path | Policy" = "default") -> "Policy":
        """A shipped policy by name (``default``, ``newsroom``, ...) or a TOML file by path."""
        if isinstance(name_or_path, Policy):
            return name_or_path
        text, source, base = _read_source(name_or_path)
        return _parse(text, source, base)

    def field_error(self, table: str, key: str, why: str) -> PolicyError:
        """A ``PolicyError`` pointing at ``[table] key`` in this policy's file."""
        return _error(self.source, _line_of(self.text, table, key), f"{table}.{key}", why)

    def decide(self, evidence: Evidence, *, no_pixels: str | None = None) -> Verdict:
        """The verdict for ``evidence``; the watermark search is judged at this policy's bound.
        ``no_pixels`` names the media type of a file without pixels to check (a PDF, a video):
        its watermark and detector are then "not applicable", not "not checked"."""
        if evidence.watermark is not None:
            evidence = dataclasses.replace(
                evidence, watermark=evidence.watermark.judged(self.judge.max_p_value))
        label, reasons = classify(evidence, no_pixels=no_pixels,
                                  require_both_bindings=self.judge.require_both_bindings)
        action = self.judge.actions[label]
        return Verdict(label=label, action=action, reasons=tuple(reasons), evidence=evidence,
                       policy=self.name, passed=action in self.judge.passing_actions)


def shipped_policies() -> list[str]:
    return sorted(p.name[:-5] for p in files("trustgen.policies").iterdir() if p.name.endswith(".toml"))


def _read_source(name_or_path: str | Path) -> tuple[str, str, Path | None]:
    text_name = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text_name or text_name.endswith(".toml")
    shipped = re.fullmatch(r"[A-Za-z0-9_-]+", text_name) and (
        files("trustgen.policies") / f"{text_name}.toml").is_file()
    # a shipped name wins over a stray file of that name in the working folder
    if looks_like_path or (not shipped and Path(text_name).is_file()):
        path = Path(name_or_path)
        if not path.is_file():
            raise PolicyError("no such policy file", path=path)
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_POLICY_BYTES + 1)
            if len(data) > MAX_POLICY_BYTES:
                raise PolicyError(f"policy file is larger than {MAX_POLICY_BYTES // 1024} KiB", path=path)
            return data.decode("utf-8"), str(path), path.resolve().parent
        except (OSError, UnicodeDecodeError) as err:
            raise PolicyError(f"cannot read policy file: {err}", path=path) from None
    if not shipped:
        known = ", ".join(shipped_policies())
        raise PolicyError(f"unknown policy {text_name!r}; shipped policies: {known}, or give a .toml path")
    resource = files("trustgen.policies") / f"{text_name}.toml"
    return resource.read_text(encoding="utf-8"), f"policy:{text_name}", None


def _parse(text: str, source: str, base: Path | None) -> Policy:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    from . import watermark
    from .credentials.trust import TrustConfig

    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write; TOML forbids it
    deep = _too_deep(text)
    if deep:
        raise _error(source, deep, None, f"invalid TOML: nested more than {MAX_POLICY_NESTING} levels deep")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m.group(1)) if m else None
        raise _error(source, line, None, f"invalid TOML: {msg[: m.start()].strip() if m else msg}")

    def fail(table: str, key: str | None, why: str) -> PolicyError:
        dotted = ".".join(p for p in (table, key) if p) or None
        return _error(source, _line_of(text, table, key), dotted, why)

    schema = {**_SCHEMA, "actions": {label: _STR for label in LABELS}}
    for key, value in data.items():
        if key in _TABLES:
            if not isinstance(value, dict):
                raise fail("", key, "must be a table")
        elif key not in schema[""]:
            raise fail("", key, f"unknown key (known: {', '.join([*schema[''], *sorted(_TABLES)])})")
    for table, known in schema.items():
        section = data if table == "" else data.get(table, {})
        for key, value in section.items():
            if table == "" and key in _TABLES:
                continue
            if key not in known:
                what = "label" if table == "actions" else "key"
                raise fail(table, key, f"unknown {what} (known: {', '.join(known)})")
            if not isinstance(value, known[key]) or (isinstance(value, bool) and bool not in known[key]):
                names = ("number" if t in (float, int) else t.__name__ for t in known[key])
                kinds = " or ".join(dict.fromkeys(names))
                raise fail(table, key, f"must be a {kinds}, not {type(value).__name__}")

    trust, wm, det, store, actions = (data.get(t, {}) for t in ("trust", "watermark", "detector",
                                                                "store", "actions"))

    def strings(table: str, key: str, section: dict) -> tuple[str, ...]:
        value = section.get(key, [])
        if not all(isinstance(v, str) and v for v in value):
            raise fail(table, key, "must be a list of non-empty strings")
        return tuple(value)

    def paths(table: str, key: str, section: dict) -> tuple[Path, ...]:
        out = []
        for entry in strings(table, key, section):
            p = Path(entry).expanduser()
            if not p.is_absolute():
                if base is None:
                    raise fail(table, key, f"relative path {entry!r} in a shipped policy")
                p = base / p
            try:
                found = p.is_file()
            except OSError as err:  # a name too long, a loop of links: the policy's error
                raise fail(table, key, f"cannot use {entry[:80]!r}: {err.strerror}") from None
            if not found:
                raise fail(table, key, f"no such file: {p}")
            out.append(p)
        return tuple(out)

    def checked(table: str, key: str, load):
        """``load()``, with any error it raises pointed at ``[table] key``."""
        try:
            return load()
        except TrustgenError as err:
            raise fail(table, key, err.message) from None

    def fraction(table: str, key: str, section: dict, *, upper: float = 1.0,
                 zero: bool = False) -> float | None:
        """A number in (0, upper], or [0, upper] when ``zero`` is allowed."""
        if key not in section:
            return None
        value = float(section[key])
        if not (0.0 <= value if zero else 0.0 < value) or value > upper:
            lowest = "at least 0" if zero else "above 0"
            raise fail(table, key, f"must be {lowest} and at most {upper:g}, not {section[key]}")
        return value

    default_action = data.get("default_action")
    resolved = {name: actions.get(name) or default_action or label.default_action
                for name, label in LABELS.items()}
    passing = strings("", "passing_actions", data)
    if not passing:
        raise fail("", "passing_actions", "is required: the actions that count as passing")
    unused = [a for a in passing if a not in resolved.values()]
    if unused:
        raise fail("", "passing_actions", f"names action(s) no label maps to: {', '.join(unused)}")
    ekus = strings("trust", "ekus", trust)
    bad = [e for e in ekus if not _OID.match(e)]
    if bad:
        raise fail("trust", "ekus", f"not an OID: {bad[0]!r}")
    if "threshold" in det and "target_fpr" in det:
        raise fail("detector", "target_fpr", "give either threshold or target_fpr, not both")
    anchors = paths("trust", "anchors", trust)
    trust_config = checked("trust", "anchors", lambda: TrustConfig.from_files(
        anchors, allow_remote=trust.get("allow_remote", False)))
    resolvers = strings("store", "resolvers", store)
    bad = [r for r in resolvers if not r.startswith(("http://", "https://"))]
    if bad:
        raise fail("store", "resolvers", f"not an http:// or https:// URL: {bad[0]!r}")
    if "url" in store and not store["url"].strip():
        raise fail("store", "url", "must be a file path, sqlite:///path or postgresql://... URL")
    timeout = fraction("store", "timeout", store, upper=MAX_RESOLVER_TIMEOUT)
    schemes = strings("watermark", "schemes", wm)
    key_files = paths("watermark", "key_files", wm)
    latent_models = []
    for entry in strings("watermark", "latent_models", wm):
        folder = Path(entry).expanduser()
        if not folder.is_absolute():
            if base is None:
                raise fail("watermark", "latent_models", f"relative path {entry!r} in a shipped policy")
            folder = base / folder
        if not (folder / "model_index.json").is_file():
            raise fail("watermark", "latent_models", f"not a diffusers model folder: {folder}")
        latent_models.append(folder)

    gather = Gather(
        trust=dataclasses.replace(trust_config, eku_oids=ekus or None, ocsp=trust.get("ocsp", False)),
        local_identity=trust.get("local_identity", True),
        watermark=wm.get("enabled", True),
        watermark_schemes=checked("watermark", "schemes",
                                  lambda: watermark.check_schemes(schemes)) if schemes else None,
        watermark_keys=checked("watermark", "key_files", lambda: tuple(
            watermark.read_key_file(f) for f in key_files)),
        watermark_local_key=wm.get("local_identity_key", True),
        latent_models=tuple(str(m) for m in latent_models),
        detector=det.get("enabled", True),
        store=store.get("enabled", True),
        store_url=store.get("url"),
        resolvers=resolvers,
        resolver_timeout=5.0 if timeout is None else timeout,
    )
    max_p = fraction("watermark", "max_p_value", wm, upper=MAX_P_VALUE_CEILING)
    judge = Judge(
        actions=MappingProxyType(resolved),
        passing_actions=frozenset(passing),
        max_p_value=watermark.FALSE_ALARM if max_p is None else max_p,
        detector_threshold=fraction("detector", "threshold", det, zero=True),
        detector_target_fpr=fraction("detector", "target_fpr", det),
        require_both_bindings=store.get("require_both_bindings", False),
    )
    return Policy(
        name=data.get("name", Path(source).stem), source=source, gather=gather, judge=judge,
        description=data.get("description", ""), digest=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )


def _too_deep(text: str) -> int | None:
    """The line where arrays, tables and dotted keys nest past ``MAX_POLICY_NESTING``, outside
    strings and comments; None if they never do. One linear pass, before tomllib sees the text."""
    depth = dots = at = 0
    while found := _STRUCTURE.search(text, at):
        char, at = found.group(), found.end()
        if char in "\"'":
            at = _string_end(text, found.start())
        elif char == "#":
            at = _line_end(text, at)
        elif char in "[{":
            depth, dots = depth + 1, 0
        elif char in "]}":
            depth, dots = max(depth - 1, 0), 0
        elif char == ".":
            dots += 1  # a dotted key nests a level per dot; a value has at most one
        else:
            dots = 0
        if depth + dots > MAX_POLICY_NESTING:
            return text.count("\n", 0, found.start()) + 1
    return None


def _string_end(text: str, start: int) -> int:
    """Where the TOML string opening at ``start`` ends (at its line's end if a one-line string
    is not closed there: tomllib reports that)."""
    quote = text[start]
    multiline = text.startswith(quote * 3, start)
    close, at = (quote * 3, start + 3) if multiline else (quote, start + 1)
    limit = len(text) if multiline else _line_end(text, at)
    while (end := text.find(close, at, limit)) >= 0:
        escapes = end
        while quote == '"' and escapes > at and text[escapes - 1] == "\\":
            escapes -= 1
        if (end - escapes) % 2:  # an escaped quote
            at = end + 1
            continue
        run = len(close)
        while multiline and run < 5 and text.startswith(quote, end + run):
            run += 1  # up to two quotes end the content just before the closing three
        return end + run
    return limit


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end


def _error(source: str, line: int | None, dotted: str | None, why: str) -> PolicyError:
    where = f"line {line}: " if line else ""
    what = f"field '{dotted}': " if dotted else ""
    err = PolicyError(f"{where}{what}{why}", path=source)
    err.line, err.field = line, dotted
    return err


def _line_of(text: str, table: str, key: str | None) -> int | None:
    """The line where ``key`` is set in ``[table]`` (or the table's header); tomllib won't say.

    Finds ``key = `` under ``[table]`` (or ``[[table]]``), ``table.key = `` anywhere, and a
    ``table = {...}`` inline table.
    """
    current, header_line = "", None
    name = r'(?:"[^"]+"|\'[^\']+\'|[A-Za-z0-9_-]+)'
    key_re = re.compile(rf"^\s*({name}(?:\s*\.\s*{name})*)\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip().strip('"')
            if current == table:
                header_line = number
            continue
        m = key_re.match(line)
        if not m:
            continue
        parts = [p.strip().strip("\"'") for p in m.group(1).split(".")]
        path = ([current] if current else []) + parts
        if key is not None and path == [p for p in (table, key) if p]:
            return number
        if path == [table] and header_line is None:  # an inline table: table = { ... }
            header_line = number
    return header_line


# --- labelling ---------------------------------------------------------------------------------


def classify(evidence: Evidence, *, no_pixels: str | None = None,
             require_both_bindings: bool = False) -> tuple[str, list[Reason]]:
    """The label for judged ``evidence`` and one reason per piece of evidence that decided it
    (``no_pixels``: see ``Policy.decide``; ``require_both_bindings``: ``Judge``'s)."""
    if evidence.error is not None:
        message = evidence.error
        if evidence.path and message.startswith(f"{evidence.path}: "):
            message = message[len(evidence.path) + 2:]
        return "error", [reason("file.unreadable", message=message)]
    m, wm, det = evidence.c2pa, evidence.watermark, evidence.detector
    found = wm is not None and (wm.detected or _latent_found(wm))
    reasons: list[Reason] = []

    if m is not None and m.state == "trusted":
        reasons.append(reason("c2pa.trusted", signer=_signer(m)))
        mismatch = _content_id_check(m, wm)
        if m.declares_ai or m.ai_edits:
            edited_capture, edits = _ai_edit_reasons(m)
            reasons += edits or [reason("c2pa.declares-ai", source_type=_short(m.digital_source_type))]
            reasons += _watermark_reasons(wm, only_found=True)
            reasons += _detector_reasons(det, no_pixels)
            label = "ai-edited-capture" if edited_capture else "trusted-ai"
            return label, reasons + _ingredient_flags(m) + mismatch
        reasons.append(reason("c2pa.declares-capture", declared=_declared(m)))
        flags = _ingredient_flags(m)
        if found:
            flags += _watermark_reasons(wm)
        reasons += _detector_reasons(det, no_pixels)
        reasons += flags + mismatch
        return ("trusted-capture-flagged" if flags else "trusted-capture"), reasons

    if m is not None and m.state == "invalid":
        reasons += _invalid_reasons(m)
    elif m is not None and m.state == "error":
        reasons.append(reason("c2pa.error", what=m.reason or "c2pa gave no reason"))
    elif m is not None and m.state == "valid":
        claim = f"; they claim {_declared(m)}" if m.digital_source_type or m.actions else ""
        signer_codes = [f for f in _failures(m) if f.code.startswith(_SIGNER_CODES)]
        others = [f for f in _failures(m) if not f.code.startswith(_SIGNER_CODES)]
        if signer_codes or m.reason or not others:
            reasons.append(reason("c2pa.untrusted", signer=_signer(m), claim=claim))
            if m.reason:  # c2pa trusted the chain, but trustgen's own signer rules did not
                reasons.append(reason("c2pa.signer-refused", why=m.reason))
            if others:
                reasons.append(reason("c2pa.also-fails", what=_where(others)))
        else:  # the signer is trusted; something else (an identity assertion) is not
            reasons.append(reason("c2pa.unverified-part", signer=_signer(m), what=_where(others),
                                  claim=claim))
    elif m is not None and m.state == "remote":
        reasons.append(reason("c2pa.remote"))
    if reasons:
        if m.state in ("valid", "invalid"):
            reasons += _ingredient_flags(m)
        # Credentials that are not trusted prove nothing, so they never hide an AI watermark.
        reasons += _watermark_reasons(wm, only_found=True)
        reasons += _detector_reasons(det, no_pixels)
        if m.state == "valid":
            return ("untrusted-ai" if m.declares_ai or m.ai_edits or found
                    else "credentials-untrusted"), reasons
        if m.state == "remote":
            return ("ai-watermark" if found else "credentials-remote"), reasons
        return "credentials-invalid", reasons

    reasons.append(reason("c2pa.absent" if m is not None else "c2pa.not-checked"))
    if evidence.recovered is not None:
        label, more = _recovery(evidence.recovered, require_both_bindings)
        reasons += more
        if label is not None:
            reasons += _watermark_reasons(wm, only_found=True)
            return label, reasons + _detector_reasons(det)
    if no_pixels:  # neither pixel signal applies: nothing more to find
        reasons += _detector_reasons(det, no_pixels)
    else:
        reasons += _watermark_reasons(wm)
    if found:
        return "ai-watermark", reasons
    if not no_pixels and wm is not None and wm.public is not None and wm.public.present:
        return "issuer-watermark", reasons + _detector_reasons(det)
    if det is not None:
        reasons += _detector_reasons(det)
        if det.synthetic:
            return "likely-synthetic", reasons
    elif not no_pixels:
        reasons.append(reason("detector.not-run"))
    reasons.append(reason("absence"))
    return "no-evidence", reasons


def _recovery(rec: RecoveryEvidence, require_both: bool) -> tuple[str | None, list[Reason]]:
    """The label recovered credentials decide (None: they decide nothing) and their reasons.
    Only trusted credentials count, never those a copied mark names."""
    out = [reason("store.not-consulted", why=why) for why in rec.unavailable]
    copied = [reason("recovery.copied-mark", manifest_id=rec.copied_from)] if rec.copied_mark else []
    if not rec.found:
        if copied:
            return "copied-mark", out + copied
        if rec.stores:
            out.append(reason("recovery.none", stores=", ".join(rec.stores)))
        return None, out
    how = {"both": "watermark and fingerprint", "watermark": "watermark",
           "fingerprint": "fingerprint"}[rec.matched_by]
    if rec.watermark_p_value is not None:
        how += f" (p-value {rec.watermark_p_value:.1e}"
        how += "" if rec.fingerprint_distance is None else f", distance {rec.fingerprint_distance} bits"
        how += ")"
    elif rec.fingerprint_distance is not None:
        how += f" (distance {rec.fingerprint_distance} bits)"
    where = dict(source=rec.source or "a manifest store", how=how)
    if rec.state != "trusted":
        if rec.state == "valid":
            out.append(reason("recovery.untrusted", signer=_signer_text(rec.signer), **where))
        else:
            out.append(reason("recovery.invalid", what=", ".join(rec.codes) or rec.state, **where))
        return None, out + copied
    if require_both and not rec.bindings_agree:
        out.append(reason("recovery.bindings-disagree", how=rec.matched_by))
        return None, out + copied
    out.append(reason("recovery.trusted", signer=_signer_text(rec.signer),
                      manifest_id=rec.manifest_id, **where))
    if rec.declares_ai:
        out.append(reason("c2pa.declares-ai", source_type=_short(rec.digital_source_type)))
    else:
        declared = (f"source type {_short(rec.digital_source_type)}" if rec.digital_source_type
                    else "no source type")
        out.append(reason("c2pa.declares-capture", declared=declared))
    out.append(reason("recovery.pixels-match" if rec.pixels_match else "recovery.pixels-changed"))
    return ("recovered-ai" if rec.declares_ai else "recovered-capture"), out + copied


def _signer(m: ManifestEvidence) -> str:
    return _signer_text(m.signer)


def _signer_text(s) -> str:
    if s is None or not (s.common_name or s.organization):
        return ""
    who = ", ".join(p for p in (s.common_name, s.organization) if p)
    return f" ({who}{', issued by ' + s.issuer if s.issuer else ''})"


def _short(uri: str | None) -> str:
    return (uri or "").strip().rsplit("/", 1)[-1]


def _declared(m: ManifestEvidence) -> str:
    parts = []
    if m.digital_source_type:
        parts.append(f"source type {_short(m.digital_source_type)}")
    if m.actions:
        parts.append("actions " + ", ".join(dict.fromkeys(m.actions)))
    return "; ".join(parts) or "no source type or actions"


#: Failure codes about the signer's credential (c2pa's and trustgen's EKU refusal).
_SIGNER_CODES = ("signingCredential.",)


def _failures(m: ManifestEvidence):
    """The active manifest's failures with where they point; bare codes from older records."""
    located = {f.code for f in m.failures}
    return [*m.failures, *(Failure(code) for code in m.codes if code not in located)]


def _where(failures) -> str:
    return "; ".join(failure_text(f) for f in failures)


def _invalid_reasons(m: ManifestEvidence) -> list[Reason]:
    """What makes the credentials invalid: the active manifest's own failures where they point,
    else (c2pa may fail a file for its ingredients alone) the failing ingredients."""
    if m.codes:
        return [reason("c2pa.invalid", what=_where(_failures(m)))]
    failing = [f"'{ing.title or 'untitled'}'{inside(a.title for a in path)}: {', '.join(ing.codes)}"
               for path, ing in m.walk_ingredients() if ing.codes]
    if failing:
        return [reason("c2pa.invalid-ingredients", what="; ".join(failing))]
    return [reason("c2pa.invalid", what=m.reason or "c2pa gave no failure code")]


def _ingredient_flags(m: ManifestEvidence) -> list[Reason]:
    """One reason per failing or AI-declaring ingredient, at any depth of the tree, naming
    where it sits."""
    out = []
    for path, ing in m.walk_ingredients():
        title, where = ing.title or "untitled", inside(a.title for a in path)
        if ing.codes:
            out.append(reason("ingredient.invalid", title=title, inside=where, codes=", ".join(ing.codes)))
        if (ing.digital_source_type or "").strip() in AI_SOURCE_TYPES:
            out.append(reason("ingredient.declares-ai", title=title, inside=where,
                              source_type=_short(ing.digital_source_type)))
    return out


#: Source types a photograph keeps through an edit (besides none declared): human edits,
#: enhancement, and AI in parts only; any other (a whole image generated, a digital creation, a
#: screenshot) ends the chain back to a capture.
_PHOTO_EDIT_SOURCE_TYPES = AI_COMPOSITE_SOURCE_TYPES | {
    "http://cv.iptc.org/newscodes/digitalsourcetype/" + name
    for name in ("minorHumanEdits", "humanEdits", "algorithmicallyEnhanced")
}


def _ai_edit_reasons(m: ManifestEvidence) -> tuple[bool, list[Reason]]:
    """Whether trusted credentials ``m`` declare an AI-edited capture (every AI edit in parts
    only, and the source a trusted capture), and the reasons that say what was edited, by
    what, and from which source; no reasons when ``m`` declares no AI edit."""
    # the first source type declared is the opening action's when no AI edit declares it
    declared_first = m.digital_source_type not in {e.digital_source_type for e in m.ai_edits}
    if not m.ai_edits or (declared_first and m.declares_ai):  # AI-made from the start: no edit
        return False, []
    capture, source, earlier = _capture(m)
    whole = [e for e in m.ai_edits if not e.composite]
    out = []
    if whole and (capture or _parent(m.ingredients)):
        edit = whole[0]
        out.append(reason("c2pa.ai-regenerated", source_type=_short(edit.digital_source_type),
                          agent=agent_text(edit), source=source))
    elif whole:  # regenerated from nothing recorded: plain AI generation
        out.append(reason("c2pa.declares-ai", source_type=_short(whole[0].digital_source_type)))
    else:
        for edit in m.ai_edits:
            if capture:
                out.append(reason("c2pa.ai-edited-capture", capture=capture,
                                  regions=regions_text(edit.regions), agent=agent_text(edit)))
            else:
                out.append(reason("c2pa.ai-edit", source_type=_short(edit.digital_source_type),
                                  regions=regions_text(edit.regions), agent=agent_text(edit),
                                  source=source))
    for edit in m.ai_edits:
        for region in edit.regions:
            if region.empty:
                out.append(reason("c2pa.region-outside"))
            elif region.clipped:
                out.append(reason("c2pa.region-clipped", region=region_text(region)))
    if capture and not whole:
        for where, edit in earlier:
            out.append(reason("c2pa.earlier-ai-edit", regions=regions_text(edit.regions),
                              agent=agent_text(edit), **where))
    return bool(capture) and not whole, out


def _capture(m: ManifestEvidence) -> tuple[str | None, str, list]:
    """Who signed the trusted capture that ``m``'s chain of parents leads back to (None: it
    leads to none), the words for the source image, for the reasons, and the AI edits the
    links before the capture declare (``(where, edit)``).

    A capture its own opening action declares is its signer's. Otherwise each parent, from the
    nearest, must carry credentials that validate under this trust (no failure codes) and
    declare a capture, or an edit a photograph stays one through (``_PHOTO_EDIT_SOURCE_TYPES``)
    with a parent of its own."""
    if m.digital_source_type in CAPTURE_SOURCE_TYPES:
        who = (m.signer and (m.signer.common_name or m.signer.organization)) or "an unnamed signer"
        return who, EDIT_WORDS["capture"].format(title="this image", signer=who), []
    path, earlier, node = [], [], _parent(m.ingredients)
    if node is None:
        return None, EDIT_WORDS["no-source"], []
    first = node
    while node is not None:
        where = {"title": node.title or "untitled", "inside": inside(a.title or "untitled" for a in path)}
        if not node.has_manifest:
            return None, EDIT_WORDS["no-credentials"].format(**where), []
        if node.codes:
            return None, EDIT_WORDS["fails"].format(**where), []
        earlier += [(where, edit) for edit in node.ai_edits]
        declared = node.digital_source_type
        if declared in CAPTURE_SOURCE_TYPES:
            who = node.signer or "an unnamed signer"
            return who, EDIT_WORDS["capture"].format(title=first.title or "untitled", signer=who), earlier
        if declared is not None and declared not in _PHOTO_EDIT_SOURCE_TYPES:
            return None, EDIT_WORDS["not-capture"].format(declared=_short(declared), **where), []
        path.append(node)
        node = _parent(node.ingredients)
    last = path[-1]
    return None, EDIT_WORDS["not-capture"].format(
        declared="no source type", title=last.title or "untitled",
        inside=inside(a.title or "untitled" for a in path[:-1])), []


def _parent(ingredients) -> Ingredient | None:
    return next((i for i in ingredients if i.relationship == "parentOf"), None)


def _latent_found(wm) -> bool:
    return wm.latent is not None and wm.latent.detected


def _watermark_reasons(wm, *, only_found: bool = False) -> list[Reason]:
    """The post-hoc mark's reasons, then the latent mark's when it was read (a latent mark
    found makes the post-hoc mark's absence no finding of its own)."""
    if wm is None or not _latent_found(wm):
        return _posthoc_reasons(wm, only_found=only_found)
    lat = wm.latent
    out = _posthoc_reasons(wm, only_found=True)
    out.append(reason("watermark.latent-found", model=lat.model, content_id=lat.content_id,
                      p_value=lat.p_value))
    if lat.ids_agree is False:
        out.append(reason("watermark.latent-mismatch", latent=lat.content_id,
                          posthoc=wm.content_id))
    return out


def _posthoc_reasons(wm, *, only_found: bool = False) -> list[Reason]:
    if wm is None:
        return [] if only_found else [reason("watermark.not-checked")]
    if wm.detected:
        cid = f"content id {wm.content_id}" if wm.content_id else "no content id"
        out = [reason("watermark.found", scheme=wm.scheme, content_id=cid, p_value=wm.p_value)]
        return out + ([reason("watermark.public-key")] if wm.key == "public" else [])
    if only_found:
        return []
    if not wm.schemes_checked:
        return [reason("watermark.not-applicable")]
    if wm.public is not None and wm.public.present:
        code = "watermark.damaged" if wm.public.key_held else "watermark.issuer"
        return [reason(code, issuer=wm.public.issuer, p_value=wm.public.p_value)]
    if wm.candidate is not None and is_watermarked(wm.p_value, MAX_P_VALUE_CEILING):
        # a reading that a looser policy could accept, but this one does not
        return [reason("watermark.weak", scheme=wm.candidate.scheme, p_value=wm.p_value,
                       limit=wm.max_p_value)]
    return [reason("watermark.absent", searched=f" (searched: {', '.join(wm.schemes_checked)})")]


def _content_id_check(m: ManifestEvidence, wm) -> list[Reason]:
    claimed = (m.trustgen or {}).get("content_id")
    if not claimed or wm is None:
        return []
    if not wm.detected and not _latent_found(wm):
        return [reason("content-id.unmarked", claimed=claimed)]
    found = wm.content_id if wm.detected else wm.latent.content_id
    if found and found != claimed:
        return [reason("content-id.mismatch", claimed=claimed, found=found)]
    return []


def _detector_reasons(det, no_pixels: str | None = None) -> list[Reason]:
    """The detector's score, whenever it ran: a weaker signal is reported even when it did not
    decide. For a file without pixels, that neither pixel signal applies to its media type."""
    if det is None and no_pixels:
        return [reason("watermark.media-type", media=no_pixels),
                reason("detector.media-type", media=no_pixels)]
    if det is None:
        return []
    return [reason("detector.score", model=det.model, probability=det.probability,
                   threshold=det.threshold, side="above" if det.synthetic else "at or below")]
