from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from trustgen.cli import cli


@pytest.fixture
def files(tmp_path):
    from skimage import data

    good = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(good)
    jpg = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(jpg, quality=90)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpg.read_bytes()[:300])
    return good, jpg, broken, tmp_path / "missing.png"


def test_detect_json_lines(files):
    good, jpg, _, _ = files
    before = good.read_bytes()
    result = CliRunner().invoke(cli, ["detect", str(good), str(jpg), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(good), str(jpg)]
    for line in lines:
        assert 0.0 <= line["probability"] <= 1.0
        assert line["label"] == ("synthetic" if line["probability"] > line["threshold"] else "real")
        assert line["model"].startswith("trustgen-detector-")
    assert good.read_bytes() == before


def test_detect_continues_past_bad_files_and_exits_2(files):
    good, _, broken, missing = files
    result = CliRunner().invoke(cli, ["detect", str(broken), str(missing), str(good)])
    assert result.exit_code == 2
    assert f"trustgen: error: {broken}:" in result.stderr
    assert f"trustgen: error: {missing}: no such file" in result.stderr
    assert str(good) in result.stdout and "p(synthetic)" in result.stdout


def test_eval_without_data_is_a_one_line_error_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["detector", "eval"])
    assert result.exit_code == 2
    err = result.stderr
    assert err.startswith("trustgen: error: .detector-data/tiles/test: no --data given")
    assert len(err.strip().splitlines()) == 1
