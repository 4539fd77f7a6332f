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
    """Print an aligned plain-text table (no third-party dependency, pipes cleanly)."""
    rows = [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, row)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    click.echo(fmt.format(*headers).rstrip())
    click.echo(fmt.format(*("-" * w for w in widths)).rstrip())
    for row in rows:
        click.echo(fmt.format(*row).rstrip())
