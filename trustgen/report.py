"""Renderers of verdict records (``Verdict.to_dict()``): JSON lines, CSV, and one HTML file.

Renderers take plain records, not live objects, so a report can be rebuilt from a JSONL file or
the batch cache. Each returns bytes; the caller writes them with ``imageio.atomic_write``. The
HTML page is self-contained (inline CSS, script and thumbnails as data URIs), so it can be
mailed or archived with a verification run and still open years later without a network.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from html import escape
from typing import Iterable

from ._version import __version__
from .errors import InputError
from .imageio import decode_image, read_file
from .policy import LABELS

CSV_COLUMNS = (
    "path", "verdict", "action", "passed", "c2pa_state", "c2pa_codes", "signer",
    "digital_source_type", "ingredient_codes", "watermark_detected", "watermark_scheme",
    "content_id", "p_value", "detector_probability", "detector_threshold", "detector_model",
    "reasons", "error", "sha256",
)
THUMBNAIL_SIDE = 96


def render_jsonl(records: Iterable[dict]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in records).encode()


def render_csv(records: Iterable[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        c2pa, wm, det = r.get("c2pa") or {}, r.get("watermark") or {}, r.get("detector") or {}
        writer.writerow([
            r.get("path"), r.get("verdict"), r.get("action"), r.get("passed"),
            c2pa.get("state"), " ".join(c2pa.get("codes") or ()), _signer_text(c2pa.get("signer")),
            c2pa.get("digital_source_type"),
            " ".join(code for ing in c2pa.get("ingredients") or () for code in ing.get("codes") or ()),
            wm.get("detected"), wm.get("scheme"), wm.get("content_id"), wm.get("p_value"),
            det.get("probability"), det.get("threshold"), det.get("model"),
            " ".join(r.get("reasons") or ()), r.get("error"), r.get("sha256"),
        ])
    return buf.getvalue().encode()


def thumbnail_uri(path: str | None) -> str | None:
    """A small JPEG of the file as a data URI, or None if it cannot be decoded."""
    if not path:
        return None
    try:
        image = decode_image(read_file(path), path=path)
    except InputError:
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


def render_html(records: Iterable[dict], *, policy: str = "default", title: str = "Verification report",
                thumbnails: bool = True, workers: int = 1) -> bytes:
    """The report page; ``workers`` threads decode the thumbnails (the slow part for big runs)."""
    records = list(records)
    counts = Counter(r["verdict"] for r in records)
    order = [label for label in LABELS if counts[label]] + sorted(set(counts) - set(LABELS))
    passed = sum(1 for r in records if r.get("passed"))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    buttons = [f'<button class="count active" data-verdict="all">all <b>{len(records)}</b></button>']
    buttons += [
        f'<button class="count" data-verdict="{escape(v)}" title="{escape(LABELS.get(v, v))}">'
        f'<span class="badge {_tone(v)}">{escape(v)}</span> <b>{counts[v]}</b></button>'
        for v in order
    ]
    root = _common_root([r["path"] for r in records if r.get("path")])
    uris: list[str | None] = [None] * len(records)
    if thumbnails:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            uris = list(pool.map(thumbnail_uri, [r.get("path") for r in records]))
    rows = "\n".join(_row(r, root, uri) for r, uri in zip(records, uris))
    page = _PAGE.format(
        title=escape(title), policy=escape(policy), root=escape(root or "-"), n=len(records), passed=passed, when=when,
        version=escape(__version__), buttons="\n".join(buttons), rows=rows, style=_STYLE, script=_SCRIPT,
    )
    return page.encode()


def _row(r: dict, root: str, uri: str | None) -> str:
    verdict = r.get("verdict") or "error"
    c2pa, wm, det = r.get("c2pa"), r.get("watermark"), r.get("detector")
    thumb = f'<img class="thumb" alt="thumbnail" src="{uri}">' if uri else '<div class="thumb none">no preview</div>'
    reasons = "".join(f"<li>{escape(s)}</li>" for s in r.get("reasons") or ())
    path = str(r.get("path") or "(bytes)")
    name = escape(os.path.relpath(path, root) if root and path.startswith(root) else path)
    return f"""<tr class="row" data-verdict="{escape(verdict)}" data-passed="{str(bool(r.get('passed'))).lower()}">
<td>{thumb}</td>
<td class="file"><div class="name" title="{escape(path)}">{name}</div><ul class="reasons">{reasons}</ul>
<details><summary>Evidence</summary>{_evidence(r)}</details></td>
<td><span class="badge {_tone(verdict)}">{escape(verdict)}</span></td>
<td class="action {'pass' if r.get('passed') else 'nopass'}">{escape(str(r.get('action')))}</td>
<td>{escape(c2pa['state']) if c2pa else 'not checked'}</td>
<td>{_wm_cell(wm)}</td>
<td>{'not run' if det is None else f"{det['probability']:.2f}"}</td>
</tr>"""


def _evidence(r: dict) -> str:
    parts = []
    c2pa = r.get("c2pa")
    if c2pa is None:
        parts.append("<h4>Content credentials</h4><p>not checked</p>")
    else:
        ings = "".join(
            f"<tr><td>{escape(str(i.get('title')))}</td><td>{escape(str(i.get('relationship')))}</td>"
            f"<td>{escape(' '.join(i.get('codes') or ()) or 'ok')}</td>"
            f"<td>{escape((i.get('digital_source_type') or '-').rsplit('/', 1)[-1])}</td></tr>"
            for i in c2pa.get("ingredients") or ()
        )
        parts.append("<h4>Content credentials</h4>" + _dl({
            "state": c2pa.get("state"),
            "failure codes": " ".join(c2pa.get("codes") or ()) or None,
            "signer": _signer_text(c2pa.get("signer")),
            "signed at": (c2pa.get("signer") or {}).get("time"),
            "digital source type": c2pa.get("digital_source_type"),
            "claim generator": c2pa.get("claim_generator"),
            "actions": " ".join(c2pa.get("actions") or ()) or None,
            "note": c2pa.get("reason"),
        }))
        if ings:
            parts.append('<table class="ingredients"><tr><th>ingredient</th><th>relationship</th>'
                         f"<th>validation</th><th>declares</th></tr>{ings}</table>")
    wm = r.get("watermark")
    parts.append("<h4>Watermark</h4>" + ("<p>not checked</p>" if wm is None else _dl({
        "detected": wm.get("detected"), "scheme": wm.get("scheme"), "content id": wm.get("content_id"),
        "p-value": None if wm.get("p_value") is None else f"{wm['p_value']:.2e}",
        "bit errors": wm.get("bit_errors"), "key": wm.get("key"),
        "schemes searched": ", ".join(wm.get("schemes_checked") or ()) or None,
    })))
    det = r.get("detector")
    parts.append("<h4>Detector</h4>" + ("<p>not run</p>" if det is None else _dl({
        "probability synthetic": f"{det['probability']:.3f}", "threshold": f"{det['threshold']:.3f}",
        "model": det.get("model"),
    })))
    parts.append(_dl({"sha256": r.get("sha256"), "error": r.get("error"), "policy": r.get("policy")}))
    return "\n".join(parts)


def _dl(items: dict) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items.items() if v is not None)
    return f"<dl>{rows}</dl>"


def _wm_cell(wm: dict | None) -> str:
    if wm is None:
        return "not checked"
    if not wm.get("detected"):
        return "none"
    return f"{escape(str(wm.get('scheme')))} <code>{escape(str(wm.get('content_id')))}</code>"


def _signer_text(signer: dict | None) -> str | None:
    if not signer:
        return None
    who = ", ".join(str(v) for v in (signer.get("common_name"), signer.get("organization")) if v)
    return who + (f" (issued by {signer['issuer']})" if signer.get("issuer") else "") or None


def _tone(verdict: str) -> str:
    if verdict in ("trusted-capture", "trusted-ai"):
        return "good"
    if verdict in ("credentials-invalid", "error"):
        return "bad"
    if verdict in ("ai-watermark", "likely-synthetic", "untrusted-ai"):
        return "ai"
    if verdict == "no-evidence":
        return "none"
    return "warn"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{margin:0 0 4px;font-size:22px}.meta{color:#555;margin:0 0 16px}
nav{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:16px}
button.count{border:1px solid #ccc;background:#fff;border-radius:16px;padding:4px 10px;cursor:pointer}
button.count.active{border-color:#1d1d1f;box-shadow:0 0 0 1px #1d1d1f}
table#results{border-collapse:collapse;width:100%;background:#fff}
#results th,#results td{border-bottom:1px solid #e5e5e5;padding:6px 8px;text-align:left;vertical-align:top}
.thumb{width:96px;height:96px;object-fit:contain;background:#eee;display:block}
.thumb.none{font-size:11px;color:#888;display:flex;align-items:center;justify-content:center}
.name{font-weight:600;word-break:break-all}.reasons{margin:4px 0;padding-left:18px;color:#333}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;white-space:nowrap}
.good{background:#d8f5dd;color:#11612a}.bad{background:#fddcdc;color:#9b1c1c}.ai{background:#e2e4ff;color:#2f3699}
.warn{background:#fff1cc;color:#7a5200}.none{background:#ececec;color:#444}
.action.pass{color:#11612a;font-weight:600}.action.nopass{color:#9b1c1c;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}dt{color:#666}dd{margin:0;word-break:break-all}
h4{margin:8px 0 2px}table.ingredients td,table.ingredients th{padding:2px 8px;border:1px solid #e5e5e5}
"""

_SCRIPT = """
function applyFilter(v){
  var shown=0;
  document.querySelectorAll('tr.row').forEach(function(r){
    r.hidden = v!=='all' && r.dataset.verdict!==v; if(!r.hidden) shown++;});
  document.querySelectorAll('button.count').forEach(function(b){
    b.classList.toggle('active', b.dataset.verdict===v);});
  document.getElementById('shown').textContent = shown;
}
document.querySelectorAll('button.count').forEach(function(b){
  b.addEventListener('click', function(){ location.hash='verdict='+b.dataset.verdict; });});
function fromHash(){ var m=/verdict=([\\w-]+)/.exec(location.hash); applyFilter(m?m[1]:'all'); }
window.addEventListener('hashchange', fromHash); fromHash();
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{style}</style></head>
<body>
<h1>{title}</h1>
<p class="meta">Policy <b id="policy">{policy}</b> &middot; <span id="total">{n}</span> files in <code>{root}</code> &middot;
<span id="passed">{passed}</span> passed &middot; showing <span id="shown">{n}</span> &middot; {when} &middot; trustgen {version}</p>
<nav id="counts">{buttons}</nav>
<table id="results"><thead><tr><th></th><th>File and reasons</th><th>Verdict</th><th>Action</th>
<th>C2PA</th><th>Watermark</th><th>Detector</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>{script}</script>
</body></html>
"""
