"""Policy.load on mutated policies: a policy or one PolicyError line naming the file."""

from __future__ import annotations

from fuzz.mutations import policy_seeds
from fuzz.strategies import FUZZ, mutated_policy
from hypothesis import given, settings

from trustgen.errors import PolicyError
from trustgen.policy import Policy

SEEDS = policy_seeds()


@settings(FUZZ, max_examples=300)
@given(text=mutated_policy(SEEDS))
def test_a_mutated_policy_loads_or_raises_one_policy_error_line(policy_folder, text):
    path = policy_folder / "policy.toml"
    path.write_bytes(text)
    try:
        policy = Policy.load(path)
    except PolicyError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err) and "\r" not in str(err), str(err)
        return
    assert policy.judge.actions and policy.judge.passing_actions
