"""trustgen: make generated images accountable (watermark, content credentials, detection).

These imports are light (torch, diffusers and c2pa load inside the functions that use them), so
``import trustgen`` and ``trustgen --help`` stay fast. ``verify`` is imported eagerly on purpose:
the function must win over its submodule of the same name.
"""

from ._version import __version__
from .credentials import Identity, TrustConfig, callback_signer, load_signer, sign_image
from .errors import TrustgenError
from .evidence import Evidence, Reason, Verdict
from .generate import TrustedPipeline
from .policy import Policy
from .verify import Verifier, verify


def __getattr__(name: str):
    """``trustgen.watermark`` on first use: it loads numpy, which ``trustgen --help`` never needs."""
    if name == "watermark":
        import importlib

        return importlib.import_module(f"{__name__}.watermark")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Evidence", "Identity", "Policy", "Reason", "TrustConfig", "TrustedPipeline", "TrustgenError",
    "Verdict", "Verifier", "__version__", "callback_signer", "load_signer", "sign_image", "verify",
    "watermark",
]
