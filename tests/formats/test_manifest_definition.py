"""``trustgen sign --manifest DEF.json``: a c2patool manifest definition, checked field by field,
whose assertions, actions and ingredients join what trustgen itself records."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from trustgen.cli import cli

AUTHOR = {"label": "stds.schema-org.CreativeWork",
          "data": {"@context": "https://schema.org", "@type": "CreativeWork",
                   "author": [{"@type": "Person", "name": "Joe Bloggs"}]}}


def sign(chain, source, output, definition=None, *extra):
    args = ["sign", str(source), "-o", str(output), "--key", str(chain.key), "--cert", str(chain.chain),
            *map(str, extra)]
    if definition is not None:
        args += ["--manifest", str(definition)]
    return CliRunner().invoke(cli, args)


def manifest_of(path, chain):
    """The active manifest as c2pa-python reports it."""
    import io

    import c2pa

    with c2pa.Reader(path.suffix.lstrip("."), io.BytesIO(path.read_bytes())) as reader:
        report = json.loads(reader.json())
    return report["manifests"][report["active_manifest"]]


def test_a_definition_adds_its_assertions_actions_and_ingredients(chain, sample_files, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_files["png"].read_bytes())
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps({
        "title": "Election night.pdf",
        "claim_generator_info": [{"name": "Newsdesk", "version": "3.1"}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType":
                 "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"},
                {"action": "c2pa.edited", "description": "headline fixed"}]}},
            AUTHOR,
        ],
        "ingredient_paths": ["photo.png"],
    }))
    out = tmp_path / "signed.pdf"
    result = sign(chain, sample_files["pdf"], out, definition, "--action", "c2pa.published")
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out, chain)
    assert manifest["title"] == "Election night.pdf"
    assert manifest["claim_generator_info"][0]["name"] == "Newsdesk"
    by_label = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert by_label["stds.schema-org.CreativeWork"]["author"][0]["name"] == "Joe Bloggs"
    actions = by_label["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.created", "c2pa.edited", "c2pa.published"]
    assert actions[0]["softwareAgent"]["name"] == "trustgen"  # trustgen records its agent
    assert actions[1]["description"] == "headline fixed" and "softwareAgent" not in actions[1]
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [("photo.png", "componentOf")]

    verdict = CliRunner().invoke(cli, ["verify", "--json", "--no-detector", "--trust-anchors",
                                       str(chain.root), str(out)])
    record = json.loads(verdict.stdout)
    assert (record["verdict"], record["c2pa"]["state"]) == ("trusted-ai", "trusted")


def test_a_source_type_option_fills_the_definitions_created_action(chain, sample_files, tmp_path):
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps({"claim_generator": "OldTool/1.2", "assertions": [
        {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created"}]}}]}))
    out = tmp_path / "signed.wav"
    result = sign(chain, sample_files["wav"], out, definition, "--source-type", "digitalCapture")
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out, chain)
    assert manifest["claim_generator_info"][0]["name"] == "OldTool"
    (actions,) = [a["data"]["actions"] for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2"]
    assert actions[0]["digitalSourceType"].endswith("/digitalCapture")


@pytest.mark.parametrize("text, why", [
    ("{not json", "invalid JSON at line 1 column 2"),
    ("[]", "a manifest definition is a JSON object"),
    ('{"assertions": [], "colour": "red"}', "manifest definition field 'colour': unknown"),
    ('{"private_key": "es256.key"}', "field 'private_key': not supported: trustgen signs with --key"),
    ('{"assertions": [{"data": {}}]}', "field 'assertions[0].label': must be a non-empty string"),
    ('{"assertions": [{"label": "c2pa.actions", "data": {"actions": []}}]}',
     "field 'assertions[0].data.actions': must be a non-empty list of actions"),
    ('{"claim_generator_info": [{"name": "a"}, {"name": "b"}]}', "c2pa 0.38 allows one claim generator"),
    ('{"ingredient_paths": ["missing.jpg"]}', "missing.jpg: no such file"),
])
def test_a_bad_definition_is_one_line_naming_the_field(text, why, chain, sample_files, tmp_path):
    definition = tmp_path / "def.json"
    definition.write_text(text)
    out = tmp_path / "out.pdf"
    result = sign(chain, sample_files["pdf"], out, definition, "--source-type", "digitalCapture")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("trustgen: error: ") and why in line, line
    assert not out.exists()
