"""Verification policies: TOML data that turns gathered evidence into one verdict.

Judging is kept apart from gathering (in-toto's lesson): ``verify.Verifier`` collects the
evidence, ``Policy.decide`` labels it and maps the label to the policy's action. The labels are
fixed by trustgen; a policy only chooses which action each label gets, which evidence to gather
(trust anchors, watermark keys, detector threshold) and which actions count as passing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from .errors import PolicyError
from .evidence import AI_SOURCE_TYPES, Evidence, ManifestEvidence, Verdict

#: Every label a verdict can carry, with what it means (also the order of the HTML report).
LABELS = {
    "trusted-ai": "trusted credentials declare AI generation",
    "trusted-capture": "trusted credentials declare capture or human editing",
    "trusted-capture-flagged": (
        "trusted credentials declare capture or editing, but an ingredient is AI-generated or "
        "fails validation, or an AI watermark is present"
    ),
    "credentials-invalid": "credentials present but tampered or invalid",
    "untrusted-ai": (
        "credentials intact from a signer not trusted; they or an AI watermark declare AI generation"
    ),
    "credentials-untrusted": "credentials intact, signer not trusted",
    "credentials-remote": "credentials stored at a URL that was not fetched",
    "ai-watermark": "no credentials read (none, or stored at a URL), but a known AI watermark",
    "likely-synthetic": "no credentials or watermark, but the detector says likely synthetic",
    "no-evidence": "no evidence either way (not a sign of authenticity)",
    "error": "the file could not be read or decoded",
}

_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "": {"name": (str,), "description": (str,), "passing_actions": (list,)},
    "trust": {
        "anchors": (list,), "ekus": (list,),
        "local_identity": (bool,), "allow_remote": (bool,), "ocsp": (bool,),
    },
    "watermark": {
        "enabled": (bool,), "schemes": (list,), "key_files": (list,),
        "local_identity_key": (bool,), "max_p_value": (float, int),
    },
    "detector": {"enabled": (bool,), "threshold": (float, int), "target_fpr": (float, int)},
    "actions": {label: (str,) for label in LABELS},
}
_TABLES = {"trust", "watermark", "detector", "actions"}
_OID = re.compile(r"^[0-2](\.\d+)+$")


@dataclass(frozen=True)
class Policy:
    """A loaded policy. Paths inside it are already resolved against the policy file's folder."""

    name: str
    source: str
    actions: dict[str, str]
    passing_actions: frozenset[str]
    description: str = ""
    trust_anchors: tuple[Path, ...] = ()
    ekus: tuple[str, ...] | None = None  # None: trustgen's default list (credentials.trust)
    local_identity: bool = True
    allow_remote: bool = False
    ocsp: bool = False
    watermark: bool = True
    watermark_schemes: tuple[str, ...] | None = None
    watermark_key_files: tuple[Path, ...] = ()
    watermark_local_key: bool = True
    max_p_value: float = 1e-6
    detector: bool = True
    detector_threshold: float | None = None
    detector_target_fpr: float | None = None
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

    def decide(self, evidence: Evidence) -> Verdict:
        label, reasons = classify(evidence, max_p_value=self.max_p_value)
        action = self.actions[label]
        return Verdict(
            label=label, action=action, reasons=tuple(reasons), evidence=evidence,
            policy=self.name, passed=action in self.passing_actions,
        )


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
            return path.read_text(encoding="utf-8"), str(path), path.resolve().parent
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

    for key, value in data.items():
        if key in _TABLES:
            if not isinstance(value, dict):
                raise fail("", key, "must be a table")
        elif key not in _SCHEMA[""]:
            raise fail("", key, f"unknown key (known: {', '.join([*_SCHEMA[''], *sorted(_TABLES)])})")
    for table, schema in _SCHEMA.items():
        section = data if table == "" else data.get(table, {})
        for key, value in section.items():
            if table == "" and key in _TABLES:
                continue
            if key not in schema:
                raise fail(table, key, f"unknown key (known: {', '.join(schema)})")
            if not isinstance(value, schema[key]) or (isinstance(value, bool) and bool not in schema[key]):
                names = ("number" if t in (float, int) else t.__name__ for t in schema[key])
                kinds = " or ".join(dict.fromkeys(names))
                raise fail(table, key, f"must be a {kinds}, not {type(value).__name__}")

    trust, wm, det, actions = (data.get(t, {}) for t in ("trust", "watermark", "detector", "actions"))

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
            if not p.is_file():
                raise fail(table, key, f"no such file: {p}")
            out.append(p)
        return tuple(out)

    def fraction(table: str, key: str, section: dict) -> float | None:
        value = section.get(key)
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise fail(table, key, f"must be between 0 and 1, not {value}")
        return None if value is None else float(value)

    missing = [label for label in LABELS if label not in actions]
    if missing:
        raise fail("actions", None, f"no action for label(s): {', '.join(missing)}")
    passing = strings("", "passing_actions", data)
    if not passing:
        raise fail("", "passing_actions", "is required: the actions that count as passing")
    unused = [a for a in passing if a not in actions.values()]
    if unused:
        raise fail("", "passing_actions", f"names action(s) no label maps to: {', '.join(unused)}")
    ekus = strings("trust", "ekus", trust)
    bad = [e for e in ekus if not _OID.match(e)]
    if bad:
        raise fail("trust", "ekus", f"not an OID: {bad[0]!r}")
    if "threshold" in det and "target_fpr" in det:
        raise fail("detector", "target_fpr", "give either threshold or target_fpr, not both")
    schemes = strings("watermark", "schemes", wm)

    return Policy(
        name=data.get("name", Path(source).stem),
        source=source,
        description=data.get("description", ""),
        actions=dict(actions),
        passing_actions=frozenset(passing),
        trust_anchors=paths("trust", "anchors", trust),
        ekus=ekus or None,
        local_identity=trust.get("local_identity", True),
        allow_remote=trust.get("allow_remote", False),
        ocsp=trust.get("ocsp", False),
        watermark=wm.get("enabled", True),
        watermark_schemes=schemes or None,
        watermark_key_files=paths("watermark", "key_files", wm),
        watermark_local_key=wm.get("local_identity_key", True),
        max_p_value=fraction("watermark", "max_p_value", wm) if "max_p_value" in wm else 1e-6,
        detector=det.get("enabled", True),
        detector_threshold=fraction("detector", "threshold", det),
        detector_target_fpr=fraction("detector", "target_fpr", det),
        digest=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )


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


def classify(evidence: Evidence, *, max_p_value: float = 1e-6) -> tuple[str, list[str]]:
    """The label for ``evidence`` and one sentence per piece of evidence that decided it."""
    if evidence.error is not None:
        message = evidence.error
        if evidence.path and message.startswith(f"{evidence.path}: "):
            message = message[len(evidence.path) + 2:]
        return "error", [f"The file could not be verified: {message}."]
    m, wm, det = evidence.c2pa, evidence.watermark, evidence.detector
    watermark_found = wm is not None and wm.detected and (wm.p_value is None or wm.p_value <= max_p_value)
    reasons: list[str] = []

    if m is not None and m.state == "trusted":
        reasons.append(f"Content credentials are valid and signed by a trusted signer{_signer(m)}.")
        mismatch = _content_id_check(m, wm, watermark_found)
        if m.declares_ai:
            reasons.append(f"They declare the image AI-generated ({_short(m.digital_source_type)}).")
            reasons += _watermark_sentences(wm, watermark_found, max_p_value, only_found=True)
            reasons += _detector_sentences(det)
            return "trusted-ai", reasons + _ingredient_flags(m) + mismatch
        reasons.append(f"They declare capture or editing, not AI generation ({_declared(m)}).")
        flags = _ingredient_flags(m)
        if watermark_found:
            flags += _watermark_sentences(wm, watermark_found, max_p_value)
        reasons += _detector_sentences(det)
        reasons += flags + mismatch
        return ("trusted-capture-flagged" if flags else "trusted-capture"), reasons

    if m is not None and m.state in ("invalid", "error"):
        what = ", ".join(m.codes) or m.reason or "unreadable manifest"
        verb = "fail validation" if m.state == "invalid" else "cannot be validated"
        reasons.append(f"Content credentials are present but {verb} ({what}).")
    elif m is not None and m.state == "valid":
        claim = f"; they claim {_declared(m)}" if m.digital_source_type or m.actions else ""
        reasons.append(f"Content credentials are intact but the signer{_signer(m)} is not trusted "
                       f"by this policy{claim}.")
    elif m is not None and m.state == "remote":
        reasons.append("Content credentials are stored at a remote URL that was not fetched "
                       "(allow_remote is off).")
    if reasons:
        # Credentials that are not trusted prove nothing, so they never hide an AI watermark.
        reasons += _watermark_sentences(wm, watermark_found, max_p_value, only_found=True)
        reasons += _detector_sentences(det)
        if m.state == "valid":
            ai = m.declares_ai or watermark_found
            return ("untrusted-ai" if ai else "credentials-untrusted"), reasons
        if m.state == "remote":
            return ("ai-watermark" if watermark_found else "credentials-remote"), reasons
        return "credentials-invalid", reasons

    reasons.append("No content credentials." if m is not None else "Content credentials were not checked.")
    reasons += _watermark_sentences(wm, watermark_found, max_p_value)
    if watermark_found:
        return "ai-watermark", reasons
    if det is None:
        reasons.append("The synthetic-image detector was not run.")
    else:
        reasons += _detector_sentences(det)
        if det.synthetic:
            return "likely-synthetic", reasons
    reasons.append("Absence of marks is not evidence that the image is authentic.")
    return "no-evidence", reasons


def _signer(m: ManifestEvidence) -> str:
    s = m.signer
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


def _ingredient_flags(m: ManifestEvidence) -> list[str]:
    out = []
    for ing in m.ingredients:
        title = ing.title or "untitled"
        if ing.codes:
            out.append(f"Ingredient '{title}' fails validation ({', '.join(ing.codes)}).")
        if ing.digital_source_type in AI_SOURCE_TYPES:
            out.append(f"Ingredient '{title}' declares AI generation ({_short(ing.digital_source_type)}).")
    return out


def _watermark_sentences(wm, found: bool, max_p: float, *, only_found: bool = False) -> list[str]:
    if wm is None:
        return [] if only_found else ["The watermark was not checked."]
    if found:
        p = "" if wm.p_value is None else f", p-value {wm.p_value:.1e}"
        cid = f"content id {wm.content_id}" if wm.content_id else "no content id"
        public = (" under trustgen's public key, which anyone can use to make such a mark"
                  if wm.key == "public" else "")
        return [f"A {wm.scheme or 'known'} watermark was found ({cid}{p}){public}."]
    if wm.detected:  # found by the scheme, but weaker than this policy accepts
        return [f"A {wm.scheme} watermark candidate has p-value {wm.p_value:.1e}, "
                f"above this policy's limit {max_p:.0e}."]
    searched = f" (searched: {', '.join(wm.schemes_checked)})" if wm.schemes_checked else ""
    return [] if only_found else [f"No known watermark was found{searched}."]


def _content_id_check(m: ManifestEvidence, wm, found: bool) -> list[str]:
    claimed = (m.trustgen or {}).get("content_id")
    if not claimed or wm is None:
        return []
    if not found:
        return [f"The credentials name trustgen content id {claimed}, but no trustgen watermark was found."]
    if wm.content_id and wm.content_id != claimed:
        return [f"The credentials name content id {claimed} but the watermark carries {wm.content_id}."]
    return []


def _detector_sentences(det) -> list[str]:
    """The detector's score, whenever it ran: a weaker signal is reported even when it did not
    decide."""
    if det is None:
        return []
    side = "at or above" if det.synthetic else "below"
    return [
        f"The detector ({det.model}) gives probability {det.probability:.2f} of synthetic, "
        f"{side} its threshold {det.threshold:.2f}."
    ]
