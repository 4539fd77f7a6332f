"""Hypothesis settings and strategies for the property tests: the mutations of mutations.py
drawn as data, so that hypothesis can replay and shrink a failing input."""

from __future__ import annotations

import random

from fuzz.mutations import IMAGE_MUTATORS, POLICY_MUTATORS, apply_mutation
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Seeded (the same examples on every run, so CI cannot be flaky), no example database written
#: into the work tree, no per-example deadline (a shared CI machine is slow at times); each test
#: sets its own ``max_examples`` so the folder stays under a minute.
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

#: Largest pixel count a mutated header may claim here below trustgen's limit: enough for extreme
#: aspect ratios, small enough that the current code decodes it in well under a second (the long
#: run, in a process under a memory cap, claims up to the limit itself).
MAX_CLAIM = 1 << 20

_steps = st.lists(st.tuples(st.sampled_from(sorted(IMAGE_MUTATORS)), st.integers(0, 2**32 - 1)),
                  min_size=1, max_size=3)


def mutated(seeds) -> st.SearchStrategy[bytes]:
    """A seed file after one to three mutations, each driven by a drawn rng seed."""
    others = tuple(s.data for s in seeds)

    def build(seed, steps) -> bytes:
        data = seed.data
        for name, n in steps:
            data = apply_mutation(name, data, random.Random(n), max_claim=MAX_CLAIM, others=others)
        return data

    return st.builds(build, st.sampled_from(seeds), _steps)


#: Arbitrary bytes, half of them behind a real format's magic number.
MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a", b"II*\x00",
         b"MM\x00*", b"BM", b"8BPS", b"\x00\x00\x00\x1cftypavif", b"ID3", b"fLaC", b"<svg", b"%PDF")
any_bytes = st.one_of(st.binary(max_size=512),
                      st.builds(bytes.__add__, st.sampled_from(MAGIC), st.binary(max_size=512)))


def mutated_policy(seeds) -> st.SearchStrategy[bytes]:
    """A shipped policy after one to three TOML mutations, or with drawn text or bytes spliced
    in (bytes that may not be UTF-8)."""
    steps = st.lists(st.tuples(st.sampled_from(sorted(POLICY_MUTATORS)), st.integers(0, 2**32 - 1)),
                     min_size=1, max_size=3)

    def build(seed, steps) -> bytes:
        text = seed.data.decode("utf-8")
        for name, n in steps:
            text = POLICY_MUTATORS[name](text, random.Random(n))
        return text.encode("utf-8")

    def splice(seed, at, inserted) -> bytes:
        at = at % (len(seed.data) + 1)
        return seed.data[:at] + inserted + seed.data[at:]

    inserted = st.one_of(st.text(max_size=64).map(str.encode), st.binary(max_size=16))
    return st.one_of(st.builds(build, st.sampled_from(seeds), steps),
                     st.builds(splice, st.sampled_from(seeds), st.integers(0, 4096), inserted))
