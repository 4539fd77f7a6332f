"""Output helpers shared by the commands: aligned tables, JSON lines, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click


def fail(message: str, code: int = 2) -> None:
    """Print ``trustgen: error: ...`` on stderr and exit; the message already names the file."""
    click.echo(f"trustgen: error: {message}", err=True)
    sys.exit(code)


def error_line(message: str) -> None:
    """Report one failed item of a batch on stderr without stopping the batch."""
    click.echo(f"trustgen: error: {message}", err=True)


def json_line(obj: Any) -> None:
    click.echo(json.dumps(obj, sort_keys=False, default=str))


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print an aligned plain-text table, ``None`` as ``-``.

    tabulate's "simple" format has no colour or box drawing, so it pipes cleanly into grep or
    cut, and it measures wide (CJK) characters. Numbers are not re-parsed: a hex content id like
    ``1234e5678901`` must stay as written. Imported here so ``trustgen --help`` never loads it.
    """
    from tabulate import tabulate

    click.echo(tabulate(rows, headers, tablefmt="simple", missingval="-", disable_numparse=True))
