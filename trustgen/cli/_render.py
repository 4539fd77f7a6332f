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
