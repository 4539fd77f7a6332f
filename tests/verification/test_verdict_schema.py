"""The JSON form of a verdict: ``verify --json`` validates against the shipped schema, and
``Verdict.from_dict`` round-trips it exactly, over real files of every kind."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

from trustgen.cli import cli
from trustgen.evidence import SCHEMA_VERSION, Verdict, verdict_schema


@pytest.fixture(scope="module")
def validator():
    schema = verdict_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def verify_json(*args) -> list[dict]:
    result = CliRunner().invoke(cli, ["verify", "--json", *map(str, args)])
    assert result.exit_code in (0, 1, 2), result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_generated_photos_and_broken_files_validate(identity, verify_files, validator):
    """Generated (marked, signed), plain photos, tampered, self-signed and broken files."""
    records = verify_json(*verify_files.values(), "--no-detector")
    assert len(records) == len(verify_files)
    assert {r["verdict"] for r in records} >= {"trusted-ai", "no-evidence", "error", "ai-watermark"}
    for record in records:
        validator.validate(record)
        assert record["schema_version"] == SCHEMA_VERSION
        assert Verdict.from_dict(record).to_dict() == record


def test_c2pa_reference_fixtures_validate(c2pa_fixtures, c2pa_only_policy, validator):
    records = verify_json(c2pa_fixtures / "files", "--policy", c2pa_only_policy, "--no-detector")
    assert len(records) >= 10
    for record in records:
        validator.validate(record)
        assert Verdict.from_dict(record).to_dict() == record


def test_detailed_records_of_every_reference_fixture_validate(c2pa_fixtures, c2pa_only_policy, validator):
    """`--detailed` adds the whole manifest store (`manifest`): it validates and round-trips too."""
    records = verify_json(c2pa_fixtures / "files", "--policy", c2pa_only_policy, "--no-detector",
                          "--detailed")
    detailed = [r for r in records if r["manifest"] is not None]
    assert len(detailed) >= 9  # every file with a readable manifest
    for record in records:
        validator.validate(record)
        assert Verdict.from_dict(record).to_dict() == record
        state = (record["c2pa"] or {}).get("state")
        assert (record["manifest"] is None) == (state in (None, "absent", "remote", "error"))


def test_a_version_1_record_still_reads(identity, verify_files):
    """Versions 2 and 3 only added fields, so JSONL reports written by older releases still load."""
    record = verify_json(verify_files["capture-bad-ingredient"], "--no-detector")[0]
    old = {k: v for k, v in record.items() if k not in ("manifest", "recovered")}
    old["schema_version"] = 1
    old["c2pa"] = {k: v for k, v in old["c2pa"].items() if k != "failures"}
    old["c2pa"]["ingredients"] = [{k: v for k, v in ing.items()
                                   if k not in ("manifest_label", "signer", "ingredients")}
                                  for ing in old["c2pa"]["ingredients"]]
    verdict = Verdict.from_dict(old)
    assert verdict.evidence.c2pa.ingredients[0].codes == ("assertion.dataHash.mismatch",)
    assert verdict.to_dict()["schema_version"] == SCHEMA_VERSION == 4


def test_detector_evidence_validates(identity, detector, verify_files, validator, tmp_path):
    from trustgen.verify import Verifier

    verdict = Verifier("default", detector=detector).verify(verify_files["plain"])
    record = json.loads(verdict.to_json())
    validator.validate(record)
    assert record["detector"]["model"] == str(detector.model_id)
    assert Verdict.from_json(verdict.to_json()) == verdict


def test_from_dict_refuses_what_it_cannot_read(identity, verify_files):
    record = verify_json(verify_files["plain"], "--no-detector")[0]
    with pytest.raises(ValueError, match="schema version"):
        Verdict.from_dict({**record, "schema_version": 99})
    with pytest.raises(ValueError, match="unknown field"):
        Verdict.from_dict({**record, "c2pa": {**record["c2pa"], "colour": "red"}})
