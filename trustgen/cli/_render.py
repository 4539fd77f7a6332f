"""Output helpers shared by the commands: aligned tables, JSON lines, one-line errors.

Everything shown passes through ``trustgen.display``: file names and manifest fields come
from whoever sent the file, and must not forge a row or drive the terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

from ..display import safe_text, safe_value


def echo(text: str, *, err: bool = False) -> None:
    """One line of text that may hold a file name, escaped."""
    click.echo(safe_text(text), err=err)


def fail(message: str, code: int = 2) -> None:
    """Print ``trustgen: error: ...`` on stderr and exit; the message already names the file."""
    error_line(message)
    sys.exit(code)


def error_line(message: str) -> None:
    """Report one failed item of a batch on stderr without stopping the batch."""
    echo(f"trustgen: error: {message}", err=True)


def json_line(obj: Any) -> None:
    """One JSON object on a line: ``json.dumps`` escapes control characters and undecodable
    bytes of a file name itself (as ``\\u001b``, ``\\udcff``), so the name stays exact."""
    click.echo(json.dumps(obj, sort_keys=False, default=str))


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print an aligned plain-text table, ``None`` as ``-``, every text cell escaped.

    tabulate's "simple" format has no colour or box drawing, so it pipes cleanly into grep or
    cut, and it measures wide (CJK) characters. Numbers are not re-parsed: a hex content id like
    ``1234e5678901`` must stay as written. Imported here so ``trustgen --help`` never loads it.
    """
    from tabulate import tabulate

    rows = [[safe_value(cell) for cell in row] for row in rows]
    click.echo(tabulate(rows, headers, tablefmt="simple", missingval="-", disable_numparse=True))


def manifest_tree(detail: dict) -> list[str]:
    """The manifest store of ``verify --detailed`` as an indented tree, like c2patool's
    ``--tree``: each asset with its manifest's signer, chain, time stamp, failing codes and
    assertions, and its ingredients beneath it at their real depth. Lines are unescaped: print
    them with ``echo``."""
    manifests = {m.get("label"): m for m in detail.get("manifests") or ()}
    lines: list[str] = []

    def add(node: dict, lead: str, branch: str, rest: str) -> None:
        manifest = manifests.get(node.get("label")) if node.get("label") else None
        head = f"Asset: {node.get('title') or 'untitled'}"
        if node.get("relationship"):
            head += f" ({node['relationship']})"
        if node.get("label"):
            head += f", manifest {node['label']}" + ("" if manifest else " (not in the file)")
        if node.get("codes"):
            head += f"  [failing: {', '.join(node['codes'])}]"
        lines.append(lead + branch + head)
        inner = lead + rest
        items: list[tuple[str, list[str]]] = []  # (line, continuation lines)
        if manifest is not None:
            lines.extend(inner + "│ " + line for line in _signature_lines(manifest))
            items += [(f"Assertion: {a.get('label')}{_summary(a)}", []) for a in manifest.get("assertions") or ()]
        children = node.get("children") or ()
        for i, (text, _) in enumerate(items):
            last = i == len(items) - 1 and not children
            lines.append(inner + ("└── " if last else "├── ") + text)
        for i, child in enumerate(children):
            last = i == len(children) - 1
            add(child, inner, "└── " if last else "├── ", "    " if last else "│   ")

    add(detail.get("tree") or {}, "  ", "", "")
    return lines


def _signature_lines(manifest: dict) -> list[str]:
    sig = manifest.get("signature") or {}
    who = ", ".join(p for p in (sig.get("common_name"), sig.get("issuer")) if p) or "unknown signer"
    out = [f"signed by {who}" + (f" ({sig['alg']})" if sig.get("alg") else "")
           + (f"; claim generator {manifest['claim_generator']}" if manifest.get("claim_generator") else "")]
    chain = [c.get("subject") or "unreadable certificate" for c in sig.get("chain") or ()]
    if chain:
        out.append("chain: " + " <- ".join(chain))
    stamp = sig.get("timestamp")
    if stamp:
        by = f" by {stamp['authority']}" if stamp.get("authority") else ""
        codes = f" ({', '.join(stamp['codes'])})" if stamp.get("codes") else ""
        out.append(f"time stamp {stamp.get('time') or '(no time c2pa accepts)'}{by}{codes}")
    else:
        out.append("no time stamp (valid only while the signing certificate is)")
    return out


#: Longest assertion summary on a tree line; the full data is in ``--json``.
_SUMMARY_CHARS = 160


def _summary(assertion: dict) -> str:
    """A short view of an assertion's data: the actions with their descriptions and software
    agents, a CAWG identity's signer, else compact JSON, cut at ``_SUMMARY_CHARS``."""
    data = assertion.get("data")
    label = str(assertion.get("label") or "")
    if label.startswith("c2pa.actions") and isinstance(data, dict):
        parts = []
        for act in data.get("actions") or ():
            if not isinstance(act, dict):
                continue
            extra = [str(act[k]) for k in ("description",) if act.get(k)]
            agent = act.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            if agent:
                extra.append(f"by {agent}")
            if act.get("digitalSourceType"):
                extra.append(str(act["digitalSourceType"]).strip().rsplit("/", 1)[-1])
            parts.append(str(act.get("action")) + (f" ({'; '.join(extra)})" if extra else ""))
        text = ", ".join(parts)
    else:
        text = json.dumps(data, sort_keys=True, default=str)
    if len(text) > _SUMMARY_CHARS:
        text = text[:_SUMMARY_CHARS - 3] + "..."
    return f": {text}" if text else ""
