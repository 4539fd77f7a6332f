"""``trustgen watermark embed|detect`` through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from trustgen.cli import cli


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTGEN_HOME", str(tmp_path / "home"))  # no identity: public key
    from skimage import data

    Image.fromarray(data.chelsea()[:, 50:350]).save(tmp_path / "cat.png")
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_embed_then_detect_json(env):
    out = env / "marked.png"
    res = run("watermark", "embed", str(env / "cat.png"), "-o", str(out),
              "--content-id", "00112233AABB")
    assert res.exit_code == 0, res.output
    assert "00112233aabb" in res.output
    assert Image.open(out).size == Image.open(env / "cat.png").size
    res = run("watermark", "detect", str(out), str(env / "cat.png"), "--json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert rows[0]["detected"] and rows[0]["content_id"] == "00112233aabb"
    assert not rows[1]["detected"] and rows[1]["p_value"] > 1e-6
    assert rows[0]["path"] == str(out)


def test_key_file_marks_are_read_only_with_that_key(env):
    key = env / "wm.key"
    key.write_text("ab" * 32)
    out = env / "marked.png"
    assert run("watermark", "embed", str(env / "cat.png"), "-o", str(out),
               "--key-file", str(key)).exit_code == 0
    assert not json.loads(run("watermark", "detect", str(out), "--json").output)["detected"]
    res = run("watermark", "detect", str(out), "--json", "--key-file", str(key))
    assert json.loads(res.output)["detected"]


def test_existing_output_is_not_overwritten(env):
    out = env / "marked.png"
    out.write_bytes(b"keep")
    res = run("watermark", "embed", str(env / "cat.png"), "-o", str(out))
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert out.read_bytes() == b"keep"
    assert run("watermark", "embed", str(env / "cat.png"), "-o", str(out),
               "--overwrite").exit_code == 0
    assert out.read_bytes() != b"keep"


def test_small_image_is_an_input_error_naming_the_file(env):
    Image.new("RGB", (200, 300)).save(env / "small.png")
    res = run("watermark", "embed", str(env / "small.png"), "-o", str(env / "o.png"))
    assert res.exit_code == 2 and "small.png" in res.output and "256" in res.output
    assert not (env / "o.png").exists()


def test_detect_continues_past_a_bad_file(env):
    (env / "notes.txt").write_text("not an image")
    res = run("watermark", "detect", str(env / "notes.txt"), str(env / "cat.png"))
    assert res.exit_code == 2
    assert "notes.txt" in res.output and "cat.png" in res.output


def test_output_never_replaces_the_input(env):
    src = env / "cat.png"
    before = src.read_bytes()
    for out in (src, env / "." / "cat.png"):
        res = run("watermark", "embed", str(src), "-o", str(out), "--overwrite")
        assert res.exit_code == 2
        assert res.stderr == f"trustgen: error: {out}: output would overwrite an input; " \
                             "choose another output path\n"
    assert src.read_bytes() == before
