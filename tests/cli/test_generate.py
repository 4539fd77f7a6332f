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


def test_generate_edits_a_signed_photo_quietly_under_json(identity, tmp_path_factory):
    from tiny_pipelines import mask, photo, save_family

    from trustgen.credentials.sign import sign_image

    tmp = tmp_path_factory.mktemp("edit")
    model = save_family("inpaint", tmp / "tiny-inpaint")
    source, mask_file = tmp / "photo.png", tmp / "mask.png"
    photo(3).save(source)
    source.write_bytes(sign_image(source.read_bytes(), "png", identity.signer(),
                                  source_type="digitalCapture"))
    mask().save(mask_file)
    done = run("generate", "a red door", "--model", model, "--image", source, "--mask", mask_file,
               "--strength", 1, "--steps", 2, "-n", 1, "--seed", 3, "--device", "cpu",
               "--no-register", "--out", tmp / "out", "--json")
    assert done.exit_code == 0, done.output
    assert done.stderr == ""  # no progress bars, loading or sampling, under --json
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["task"] == "inpainting" and record["strength"] == 1.0
    assert record["region"] == {"x": 128, "y": 160, "width": 192, "height": 224}
    checked = run("verify", record["path"], "--json")
    verdict = json.loads(checked.stdout)
    assert verdict["c2pa"]["state"] == "trusted"
    assert verdict["c2pa"]["digital_source_type"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert [(i["title"], i["relationship"]) for i in verdict["c2pa"]["ingredients"]] == [
        ("photo.png", "parentOf"), ("mask.png", "inputTo")]

    unknown = run("generate", "x", "--model", model, "--image", source, "--mask", mask_file,
                  "--device", "warp-drive", "--out", tmp / "o2")
    assert unknown.exit_code == 2
    (line,) = unknown.stderr.strip().splitlines()  # refused before the model loads: one line
    assert line.startswith("trustgen: error: cannot use device 'warp-drive': ")
    assert "Traceback" not in unknown.output


def test_generate_on_the_default_model_marks_the_latents(identity, tmp_path):
    done = run("generate", "-n", 1, "--steps", 1, "--seed", 4, "--no-register", "--out", tmp_path,
               "--json")
    assert done.exit_code == 0, done.output
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["model_id"] == "trustgen-default" and record["task"] == "unconditional"
    assert record["latent_watermark"] is True and (record["width"], record["height"]) == (512, 512)
