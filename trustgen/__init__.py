"""trustgen: make generated images accountable (watermark, content credentials, detection).

The public API is re-exported lazily so ``import trustgen`` (and ``trustgen --help``) does not
load torch, diffusers or c2pa until they are used.
"""

from ._version import __version__

__all__ = ["TrustedPipeline", "Verdict", "Verifier", "__version__", "verify"]

_LAZY = {
    "TrustedPipeline": "trustgen.generate",
    "Verifier": "trustgen.verify",
    "verify": "trustgen.verify",
    "Verdict": "trustgen.evidence",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trustgen' has no attribute {name!r}")
