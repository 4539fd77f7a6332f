"""`trustgen generate` as a user runs it: outputs, refusals, and nothing half-written."""

from __future__ import annotations

import json

from click.testing import CliRunner

from trustgen.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_generate_writes_signed_files_and_refuses_to_overwrite(tiny_unconditional, identity, tmp_path):
    out = tmp_path / "out"
    args = ("generate", "--model", tiny_unconditional, "-n", 2, "--steps", 1, "--seed", 5,
            "--out", out)
    first = run(*args, "--json")
    assert first.exit_code == 0, first.output
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["seed"] for r in records] == [5, 6]
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["image-5.png", "image-6.png"]
    before = {f: f.read_bytes() for f in files}

    again = run(*args)
    assert again.exit_code == 2
    assert "image-5.png: already exists; pass --overwrite" in again.stderr
    assert "Traceback" not in again.output
    assert {f: f.read_bytes() for f in sorted(out.iterdir())} == before  # nothing changed or added

    replaced = run(*args, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert not [f for f in out.iterdir() if f.name.endswith(".part")]


def test_generate_input_errors_exit_2_with_one_line(tiny_unconditional, identity, tmp_path):
    missing = run("generate", "--model", tmp_path / "no-such-model", "--out", tmp_path / "o")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"trustgen: error: {tmp_path / 'no-such-model'}: no such model folder"
    prompt = run("generate", "a cat", "--model", tiny_unconditional, "-n", 1, "--steps", 1,
                 "--out", tmp_path / "o")
    assert prompt.exit_code == 2 and "unconditional" in prompt.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
