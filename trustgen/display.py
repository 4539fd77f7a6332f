"""Text a file controls (its name, its signer, a decoder's message), made safe to show.

File names and manifest fields come from whoever sent the file. Shown raw, a newline forges a
table row, an escape sequence retitles or clears the terminal, a bidirectional override makes a
name read backwards, a cell starting with ``=`` runs as a spreadsheet formula, and a name that
is not UTF-8 (Python gives its bytes as lone surrogates) aborts any UTF-8 output. Every
renderer (terminal, CSV, HTML) asks this module; JSON needs nothing: ``json.dumps`` escapes
all of these itself and keeps the name exact.
"""

from __future__ import annotations

import os
import re
from typing import Any

#: C0 controls, DEL, C1 controls (CSI among them), line and paragraph separators, the
#: bidirectional marks and overrides, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")

#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection"); the rule's
#: other two, a leading tab or carriage return, never reach it: ``safe_text`` escapes them.
_FORMULA_START = ("=", "+", "-", "@")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """``text`` on one line with every control, bidi or undecodable character as a visible
    escape (``\\x1b``, ``\\x0a``, ``\\u202e``, ``\\xff``); anything else, CJK too, unchanged."""
    return text if text.isprintable() else _UNSAFE.sub(_escaped, text)  # the common case, fast


def safe_value(value: Any) -> Any:
    """``safe_text`` for text and paths; numbers, booleans and None as they are."""
    if isinstance(value, str):
        return safe_text(value)
    return safe_text(os.fspath(value)) if isinstance(value, os.PathLike) else value


def csv_cell(value: Any) -> Any:
    """A CSV cell: ``safe_value``, and text a spreadsheet would run as a formula behind a
    single quote, so it shows as the text it is."""
    value = safe_value(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
