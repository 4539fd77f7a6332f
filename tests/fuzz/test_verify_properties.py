"""Verifier.verify_bytes on hostile files: always a verdict, valid by the JSON Schema, and never
one that trusts pixels the signer did not sign."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from fuzz.strategies import FUZZ, mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from trustgen.errors import InputError
from trustgen.evidence import Verdict, verdict_schema
from trustgen.media import decode_image
from trustgen.verify import Verifier

VALIDATOR = jsonschema.validators.validator_for(verdict_schema())(verdict_schema())


@pytest.fixture(scope="session")
def verifier(identity):
    return Verifier("default", detector=False)


def _checked(verifier, data: bytes) -> Verdict:
    verdict = verifier.verify_bytes(data, filename="upload.bin")
    assert isinstance(verdict, Verdict)
    as_dict = verdict.to_dict()
    VALIDATOR.validate(as_dict)
    assert Verdict.from_dict(json.loads(json.dumps(as_dict, allow_nan=False))) == verdict
    return verdict


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_verify_bytes_returns_a_schema_valid_verdict_for_any_mutated_file(verifier, seeds, data):
    _checked(verifier, data.draw(mutated(seeds)))


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_verify_bytes_returns_a_schema_valid_verdict_for_mutated_c2pa_files(verifier, c2pa_seeds, data):
    _checked(verifier, data.draw(mutated(c2pa_seeds)))


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_no_reader_or_decoder_crashes_inside_verify(verifier, seeds, data):
    """An internal exception turned into an ``error`` verdict is still a bug: it hides the
    evidence gathered before it and names no reason a user can act on."""
    error = _checked(verifier, data.draw(mutated(seeds))).evidence.error or ""
    assert "crashed:" not in error, error


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_a_signed_file_whose_pixels_changed_is_never_trusted(verifier, signed, data):
    seed = data.draw(st.sampled_from(signed))
    mutant = data.draw(mutated([seed]))
    verdict = _checked(verifier, mutant)
    if verdict.evidence.c2pa is None or verdict.evidence.c2pa.state != "trusted":
        return
    try:
        changed = not np.array_equal(np.asarray(decode_image(mutant)), np.asarray(decode_image(seed.data)))
    except InputError:
        return
    assert not changed, f"{seed.name}: changed pixels are {verdict.label}"
