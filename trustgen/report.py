"""Renderers of verdicts: JSON lines, CSV, and one HTML file.

Each takes ``Verdict`` objects (a report rebuilt from a JSONL file or the batch cache goes
through ``Verdict.from_dict`` first) and returns bytes; the caller writes them with
``media.atomic_write``. What a file says about itself goes through ``trustgen.display``: CSV
cells cannot run as formulas, and no control character or undecodable byte of a name reaches
a reader. The HTML page is a Jinja2 template (``templates/report.html.j2``), autoescaped so a
hostile file name, signer or reason is shown as text; it is self-contained
(inline CSS, script and thumbnails as data URIs), so it can be mailed or archived with a
verification run and still open years later without a network. Each row shows trustgen's
rendering of the file beside the claim thumbnail its credentials carry (the only picture of a
PDF, a sound or a video), badges coloured by the action the policy takes, and the ingredient
tree as a tree; an AI edit's declared regions are drawn over the file's preview, beside the
thumbnail of the source it was made from. ``render_html(..., media={name: bytes})`` renders files that exist only in
memory (an upload) without reading the disk.
"""

from __future__ import annotations

import base64
import csv
import io
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import jinja2
import markupsafe

from ._version import __version__
from .credentials.thumbnails import ingredient_key, manifest_thumbnails
from .display import csv_cell, safe_value
from .evidence import Ingredient, Signer, Verdict
from .labels import LABELS, Label, agent_text, edit_text, failure_text, regions_text
from .media import decode_image, format_for_path, lookup, read_file, sniff_format
from .policy import Policy

CSV_COLUMNS = (
    "path", "verdict", "action", "passed", "c2pa_state", "c2pa_codes", "signer",
    "digital_source_type", "ingredient_codes", "watermark_detected", "watermark_scheme",
    "content_id", "p_value", "detector_probability", "detector_threshold", "detector_model",
    "reasons", "error", "sha256", "reason_codes",
)
THUMBNAIL_SIDE = 96
INGREDIENT_THUMBNAIL_SIDE = 40
SOURCE_THUMBNAIL_SIDE = 56
#: Ingredients nested deeper than this are counted, not drawn (a hostile manifest can nest far).
MAX_TREE_DEPTH = 12
#: Folders listed in the header of a report over several; the rest are counted.
MAX_FOLDERS_LISTED = 20
#: How a label's own default action (``labels.Label.default_action``) colours a policy's action.
_TONE_OF_DEFAULT = {"pass": "good", "warn": "warn", "fail": "bad"}
#: Action tones from best to worst news.
_SEVERITY = ("good", "warn", "bad")
#: C2PA states with a manifest c2pa parsed, whose thumbnails can be read.
_READ_STATES = ("trusted", "valid", "invalid")


def render_jsonl(verdicts: Iterable[Verdict]) -> bytes:
    return "".join(v.to_json() + "\n" for v in verdicts).encode()


def render_csv(verdicts: Iterable[Verdict]) -> bytes:
    """One row per verdict; an unchecked signal leaves its cells empty; text cells go through
    ``display.csv_cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for v in verdicts:
        e = v.evidence
        c2pa, wm, det = e.c2pa, e.watermark, e.detector
        writer.writerow(csv_cell(cell) for cell in [
            e.path, v.label, v.action, v.passed,
            c2pa and c2pa.state, c2pa and " ".join(c2pa.codes), c2pa and _signer_text(c2pa.signer),
            c2pa and c2pa.digital_source_type, c2pa and " ".join(c2pa.ingredient_codes),
            wm and wm.detected, wm and wm.scheme, wm and wm.content_id, wm and wm.p_value,
            det and det.probability, det and det.threshold, det and det.model,
            " ".join(r.text for r in v.reasons), e.error, e.sha256,
            " ".join(r.code for r in v.reasons),
        ])
    return buf.getvalue().encode()


def thumbnail_uri(path: str | None, data: bytes | None = None, *, side: int = THUMBNAIL_SIDE) -> str | None:
    """A small JPEG of an image (``data``, else the file at ``path``) as a data URI, or None if
    it cannot be read or decoded, whatever the decoder raised: the file's row says why (its
    verdict met the same decoder)."""
    made = _thumbnail(path, data, side)
    return made and made[0]


def _thumbnail(path: str | None, data: bytes | None, side: int):
    """``thumbnail_uri``'s data URI with the thumbnail's and the image's own (width, height)."""
    try:
        if data is None:
            if not path:
                return None
            data = read_file(path)
        image = decode_image(data, path=path, rgb=True)
    except Exception:  # noqa: BLE001 - see thumbnail_uri
        return None
    size = image.size
    image.thumbnail((side, side))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), image.size, size


@dataclass
class Previews:
    """What a row shows of its file: trustgen's rendering of the pixels, the active manifest's
    claim thumbnail, and the thumbnails of the ingredients in the tree, by ``ingredient_key``."""

    file: str | None = None
    claim: str | None = None
    active: str | None = None
    ingredients: dict[str, str] = field(default_factory=dict)
    recovered: str | None = None  # the claim thumbnail of credentials recovered from a store
    #: The file preview's (width, height) in CSS pixels, and the regions its AI edits declare,
    #: as ``{"left", "top", "width", "height", "text"}`` in percent of the image, to draw on it.
    file_size: tuple[int, int] | None = None
    regions: list[dict] = field(default_factory=list)
    source: str | None = None  # an AI edit's source image: its parent ingredient's thumbnail


def previews(verdict: Verdict, data: bytes | None = None) -> Previews:
    """The ``Previews`` of a verdict's file, from ``data`` or else read from its path."""
    path = verdict.evidence.path
    if data is None:
        try:
            data = read_file(path) if path else None
        except Exception:  # noqa: BLE001 - an unreadable file has no preview; its row says why
            data = None
    if data is None:
        return Previews()
    found = Previews(recovered=_recovered_thumbnail(verdict))
    c2pa = verdict.evidence.c2pa
    made = _thumbnail(path, data, THUMBNAIL_SIDE)
    if made is not None:
        found.file, found.file_size, size = made
        found.regions = _overlays(c2pa, size)
    if c2pa is not None and c2pa.state not in _READ_STATES:
        return found
    try:
        fmt = lookup(sniff_format(data) or (format_for_path(path) if path else None))
        thumbs = manifest_thumbnails(data, fmt.mime) if fmt and fmt.carries_c2pa else None
    except Exception:  # noqa: BLE001 - an illustration: never a reason to lose the report
        thumbs = None
    if not thumbs:
        return found
    found.active = thumbs.active
    claim = thumbs.get(thumbs.active) if thumbs.active else None
    if claim is not None:
        found.claim = thumbnail_uri(path, claim[1])
    wanted = _ingredient_keys(c2pa.ingredients if c2pa else (), thumbs.active, 0)
    for key in wanted:
        if key in thumbs:
            uri = thumbnail_uri(path, thumbs[key][1], side=INGREDIENT_THUMBNAIL_SIDE)
            if uri:
                found.ingredients[key] = uri
    source = _source_key(c2pa, thumbs.active) if c2pa and c2pa.ai_edits else None
    if source in thumbs:
        found.source = thumbnail_uri(path, thumbs[source][1], side=SOURCE_THUMBNAIL_SIDE)
    return found


def _overlays(c2pa, size: tuple[int, int]) -> list[dict]:
    """The regions the AI edits of ``c2pa`` declare, in percent of an image of ``size``, to draw
    over its preview (wholly outside ones are not drawn; their reason says so). A region left in
    percent had an image Pillow could not read, so it has no preview to draw on."""
    if c2pa is None or not size[0] or not size[1]:
        return []
    width, height = size
    out = []
    for edit in c2pa.ai_edits:
        for r in edit.regions:
            if r.empty or r.unit != "pixel":
                continue
            left, top = min(max(r.x / width, 0.0), 1.0), min(max(r.y / height, 0.0), 1.0)
            out.append({"left": round(100 * left, 3), "top": round(100 * top, 3),
                        "width": round(100 * min(r.width / width, 1.0 - left), 3),
                        "height": round(100 * min(r.height / height, 1.0 - top), 3),
                        "text": f"AI-generated {regions_text((r,))} by {agent_text(edit)}"})
    return out


def _source_key(c2pa, active: str | None) -> str | None:
    """The ``ingredient_key`` of the active manifest's parent ingredient (an edit's source)."""
    titles = [i.title for i in c2pa.ingredients]
    index = next((n for n, i in enumerate(c2pa.ingredients) if i.relationship == "parentOf"), None)
    return None if index is None or not active else ingredient_key(active, titles, index)


def _recovered_thumbnail(verdict: Verdict) -> str | None:
    """The thumbnail of the recovered manifest, read again from its store when that is a local
    store (a remote resolver is not asked again to draw a report)."""
    rec = verdict.evidence.recovered
    if rec is None or not rec.found or not rec.source or rec.source.startswith(("http://", "https://")):
        return None
    if "://" not in rec.source and not Path(rec.source).is_file():
        return None  # moved or deleted since: never create an empty store to draw a report
    from .store import open_store
    from .store.ingest import thumbnail

    try:
        with open_store(rec.source) as store:
            store_bytes = store.get(rec.manifest_id)
        thumb = None if store_bytes is None else thumbnail(store_bytes)
        return None if thumb is None else thumbnail_uri(None, thumb)
    except Exception:  # noqa: BLE001 - an illustration: never a reason to lose the report
        return None


def action_tones(verdicts: Iterable[Verdict], policy: Policy | None = None) -> dict[str, str]:
    """The tone (``labels.TONES``) each action is coloured in: ``good`` for a passing action;
    else ``bad`` where the action is given to a label whose own default is to fail, else
    ``warn``. ``policy`` gives every label's action; without it, the verdicts' own."""
    labels: dict[str, set[str]] = {}
    passing: set[str] = set()
    if policy is not None:
        for name, action in policy.judge.actions.items():
            labels.setdefault(action, set()).add(name)
        passing |= policy.judge.passing_actions
    for v in verdicts:
        labels.setdefault(v.action, set()).add(v.label)
        if v.passed:
            passing.add(v.action)
    worst = {action: max((_TONE_OF_DEFAULT.get(_label(n).default_action, "warn") for n in names),
                         key=_SEVERITY.index)
             for action, names in labels.items()}
    return {action: "good" if action in passing else "bad" if tone == "bad" else "warn"
            for action, tone in worst.items()}


def render_html(verdicts: Iterable[Verdict], *, policy: str | Policy = "default",
                title: str = "Verification report", thumbnails: bool = True, workers: int = 1,
                media: Mapping[str, bytes] | None = None) -> bytes:
    """The report page.

    ``policy``: the ``Policy`` the verdicts were judged under (its actions colour every label
    the page lists), or just its name. ``thumbnails``: render previews, ``workers`` threads at
    a time (the slow part for big runs). ``media``: the files' bytes by verdict path, for files
    that are not on disk (an upload): when given, previews come only from it and no file is
    read."""
    verdicts = list(verdicts)
    policy_obj = policy if isinstance(policy, Policy) else None
    tones = action_tones(verdicts, policy_obj)
    paths = [v.evidence.path for v in verdicts]
    root, folders = _folders([p for p in paths if p])
    found: list[Previews] = [Previews()] * len(verdicts)
    if thumbnails:
        def preview(v: Verdict) -> Previews:
            if media is None:
                return previews(v)
            data = media.get(v.evidence.path) if v.evidence.path is not None else None
            return previews(v, data) if data is not None else Previews()

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            found = list(pool.map(preview, verdicts))
    rows = [_row(v, p, root, tones) for v, p in zip(verdicts, found)]
    labels = Counter(v.label for v in verdicts)
    label_order = [name for name in LABELS if labels[name]] + sorted(set(labels) - set(LABELS))
    label_action = {v.label: v.action for v in verdicts}
    actions = Counter(v.action for v in verdicts)
    action_order = sorted(actions, key=lambda a: (_SEVERITY.index(tones[a]), a))
    page = _templates().get_template("report.html.j2").render(
        title=title, policy=policy.name if policy_obj else policy, root=root, folders=folders,
        max_folders=MAX_FOLDERS_LISTED,
        rows=rows, passed=sum(v.passed for v in verdicts), version=__version__,
        label_counts=[(_label(n), labels[n], tones[label_action[n]]) for n in label_order],
        action_counts=[(a, actions[a], tones[a]) for a in action_order],
        when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return page.encode()


def _row(v: Verdict, found: Previews, root: str, tones: dict[str, str]) -> dict:
    c2pa = v.evidence.c2pa
    return {
        "verdict": v, "label": _label(v.label), "tone": tones[v.action], "previews": found,
        "name": _display_name(v.evidence.path, root), "codes": {r.code for r in v.reasons},
        "tree": _tree(c2pa.ingredients if c2pa else (), found.active, found.ingredients, 0),
    }


def _ingredient_keys(ingredients: tuple[Ingredient, ...], parent: str | None, depth: int) -> list[str]:
    """The ``ingredient_key`` of every ingredient the tree draws."""
    if depth >= MAX_TREE_DEPTH:
        return []
    titles = [i.title for i in ingredients]
    keys = []
    for index, ing in enumerate(ingredients):
        if parent:
            keys.append(ingredient_key(parent, titles, index))
        keys.extend(_ingredient_keys(ing.ingredients, ing.manifest_label, depth + 1))
    return keys


def _tree(ingredients: tuple[Ingredient, ...], parent: str | None, thumbs: dict[str, str], depth: int) -> list[dict]:
    """The ingredient tree as nested nodes for the template, ``MAX_TREE_DEPTH`` levels at most."""
    titles = [i.title for i in ingredients]
    nodes = []
    for index, ing in enumerate(ingredients):
        deeper = depth + 1 < MAX_TREE_DEPTH
        nodes.append({
            "ingredient": ing,
            "thumbnail": thumbs.get(ingredient_key(parent, titles, index)) if parent else None,
            "children": _tree(ing.ingredients, ing.manifest_label, thumbs, depth + 1) if deeper else [],
            "hidden": 0 if deeper else sum(1 for _ in ing.walk()) - 1,
        })
    return nodes


def _folders(paths: list[str]) -> tuple[str, list[tuple[str, int]]]:
    """The folder rows are shown relative to (none when the paths share no folder but the
    file-system root, or mix absolute and relative paths), and each folder with its count of
    files, relative to it."""
    dirs = Counter(os.path.dirname(p) for p in paths)
    try:
        root = os.path.commonpath(list(dirs)) if dirs else ""
    except ValueError:
        root = ""
    if root and os.path.dirname(root) == root:  # "/" or a drive: names say more in full
        root = ""
    listed = sorted(dirs.items())
    return root, [(os.path.relpath(d, root) if root else d or ".", n) for d, n in listed]


def _label(name: str) -> Label:
    """The registered label; one from another trustgen version still gets a (neutral) badge."""
    return LABELS.get(name) or Label(name, name, "none", "warn")


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trustgen", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["signer"] = _signer_text
    env.filters["short"] = _short
    env.filters["failure"] = failure_text
    env.filters["ai_edit"] = edit_text
    return env


def _shown(value):
    """Every value the template prints, before autoescaping: ``display.safe_value``, booleans
    as plain words, except markup the template made itself (a macro's output)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, markupsafe.Markup) else safe_value(value)


def _short(uri: str | None) -> str | None:
    """The last part of an IPTC source-type URI (``trainedAlgorithmicMedia``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] if uri else uri


def _display_name(path: str | None, root: str) -> str:
    if not path:
        return "(bytes)"
    return os.path.relpath(path, root) if root else path  # root holds every path (_folders)


def _signer_text(signer: Signer | str | None) -> str | None:
    if signer is None or isinstance(signer, str):
        return signer
    who = ", ".join(v for v in (signer.common_name, signer.organization) if v)
    return who + (f" (issued by {signer.issuer})" if signer.issuer else "") or None
