"""Each tiny family pipeline is built and saved once per session, on first use."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def family_folder(tmp_path_factory):
    """``family_folder(kind)``: the folder of a tiny saved pipeline of family ``kind``
    (``tiny_pipelines.FAMILIES``)."""
    import torch
    from tiny_pipelines import save_family

    # Tiny models gain nothing from threads, and on a shared CPU torch's spinning threads cost
    # several times the work (the family tests: 18 s on one thread, 150 s on two, under load).
    torch.set_num_threads(1)
    built = {}

    def folder(kind: str):
        if kind not in built:
            built[kind] = save_family(kind, tmp_path_factory.mktemp("families") / kind)
        return built[kind]

    return folder
