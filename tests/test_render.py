"""The CLI's plain-text table: aligned, ``None`` as ``-``, values as written, pipe-friendly."""

from __future__ import annotations

import click
from click.testing import CliRunner

from trustgen.cli._render import table


def _table(rows, headers) -> list[str]:
    @click.command()
    def show():
        table(rows, headers)

    result = CliRunner().invoke(show, color=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_table_aligns_columns_and_shows_none_as_dash():
    lines = _table([("a.png", None, 7), ("much-longer-name.png", "0123456789ab", 12345)],
                   ("file", "content id", "seed"))
    header, rule, first, second = lines
    assert header.split() == ["file", "content", "id", "seed"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert first.split() == ["a.png", "-", "7"]
    # every column starts at the same offset on every line, under its header
    for column in ("content id", "seed"):
        at = header.index(column)
        assert rule[at - 2:at] == "  " and rule[at] == "-"
        assert first[at] != " " and second[at] != " " and first[at - 1] == second[at - 1] == " "
    assert not any(line != line.rstrip() for line in lines)


def test_table_is_plain_text():
    lines = _table([("x.png", "none")], ("file", "watermark"))
    text = "\n".join(lines)
    assert "\x1b" not in text and not any(ord(ch) > 127 for ch in text)  # no colour, no box drawing


def test_table_keeps_values_as_written():
    # a hex content id that looks like a float, leading zeros, a pre-formatted p-value
    lines = _table([("1234e5678901", "0042", "1.0e-09")], ("content id", "seed", "p-value"))
    assert lines[2].split() == ["1234e5678901", "0042", "1.0e-09"]


def test_table_with_no_rows_still_has_its_header():
    assert _table([], ("file", "verdict"))[0].split() == ["file", "verdict"]


def test_table_measures_wide_characters():
    header, _, wide, narrow = _table([("日本語.png", "x"), ("ab.png", "y")], ("file", "v"))
    # CJK characters take two columns in a terminal: the second column still lines up there
    from wcwidth import wcswidth

    assert wcswidth(wide[: wide.index("x")]) == len(narrow[: narrow.index("y")]) == header.index("v")
