"""trustgen: make generated images accountable (watermark, content credentials, detection).

These imports are light (torch, diffusers and c2pa load inside the functions that use them), so
``import trustgen`` and ``trustgen --help`` stay fast. ``verify`` is imported eagerly on purpose:
the function must win over its submodule of the same name.
"""

from ._version import __version__
from .evidence import Verdict
from .generate import TrustedPipeline
from .verify import Verifier, verify

__all__ = ["TrustedPipeline", "Verdict", "Verifier", "__version__", "verify"]
