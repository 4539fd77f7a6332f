"""Renderers of verdicts: JSON lines, CSV, and one HTML file.

Each takes ``Verdict`` objects (a report rebuilt from a JSONL file or the batch cache goes
through ``Verdict.from_dict`` first) and returns bytes; the caller writes them with
``media.atomic_write``. What a file says about itself goes through ``trustgen.display``: CSV
cells cannot run as formulas, and no control character or undecodable byte of a name reaches
a reader. The HTML page is a Jinja2 template (``templates/report.html.j2``), autoescaped so a
hostile file name, signer or reason is shown as text; it is self-contained
(inline CSS, script and thumbnails as data URIs), so it can be mailed or archived with a
verification run and still open years later without a network.
"""

from __future__ import annotations

import base64
import csv
import io
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import cache
from typing import Iterable

import jinja2
import markupsafe

from ._version import __version__
from .display import csv_cell, safe_value
from .evidence import Signer, Verdict
from .labels import LABELS, Label
from .media import decode_image, read_file

CSV_COLUMNS = (
    "path", "verdict", "action", "passed", "c2pa_state", "c2pa_codes", "signer",
    "digital_source_type", "ingredient_codes", "watermark_detected", "watermark_scheme",
    "content_id", "p_value", "detector_probability", "detector_threshold", "detector_model",
    "reasons", "error", "sha256", "reason_codes",
)
THUMBNAIL_SIDE = 96


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


def thumbnail_uri(path: str | None) -> str | None:
    """A small JPEG of the file as a data URI, or None if it cannot be read or decoded, whatever
    the decoder raised: the file's row says why (its verdict met the same decoder)."""
    if not path:
        return None
    try:
        image = decode_image(read_file(path), path=path)
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    image = image.convert("RGBA" if image.mode == "P" else image.mode).convert("RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _common_root(paths: list[str]) -> str:
    """The folder the rows are shown relative to; none when the paths share no root (mixed
    absolute and relative paths, or different drives)."""
    try:
        root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) if paths else ""
    except ValueError:
        return ""
    return os.path.dirname(root) if root and not os.path.isdir(root) else root


def _label(name: str) -> Label:
    """The registered label; one from another trustgen version still gets a (neutral) badge."""
    return LABELS.get(name) or Label(name, name, "none", "warn")


def render_html(verdicts: Iterable[Verdict], *, policy: str = "default",
                title: str = "Verification report", thumbnails: bool = True, workers: int = 1) -> bytes:
    """The report page; ``workers`` threads decode the thumbnails (the slow part for big runs)."""
    verdicts = list(verdicts)
    paths = [v.evidence.path for v in verdicts]
    counts = Counter(v.label for v in verdicts)
    order = [name for name in LABELS if counts[name]] + sorted(set(counts) - set(LABELS))
    root = _common_root([p for p in paths if p])
    uris: list[str | None] = [None] * len(verdicts)
    if thumbnails:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            uris = list(pool.map(thumbnail_uri, paths))
    rows = [
        {"verdict": v, "label": _label(v.label), "thumbnail": uri, "name": _display_name(v.evidence.path, root)}
        for v, uri in zip(verdicts, uris)
    ]
    page = _templates().get_template("report.html.j2").render(
        title=title, policy=policy, root=root, rows=rows,
        counts=[(_label(name), counts[name]) for name in order],
        passed=sum(v.passed for v in verdicts), version=__version__,
        when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return page.encode()


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trustgen", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["signer"] = _signer_text
    return env


def _shown(value):
    """Every value the template prints, before autoescaping: ``display.safe_value``, except
    markup the template made itself (a macro's output)."""
    return value if isinstance(value, markupsafe.Markup) else safe_value(value)


def _display_name(path: str | None, root: str) -> str:
    if not path:
        return "(bytes)"
    return os.path.relpath(path, root) if root and path.startswith(root) else path


def _signer_text(signer: Signer | None) -> str | None:
    if signer is None:
        return None
    who = ", ".join(v for v in (signer.common_name, signer.organization) if v)
    return who + (f" (issued by {signer.issuer})" if signer.issuer else "") or None
