"""trustgen: make generated images accountable (watermark, content credentials, detection).

These imports are light (torch, diffusers and c2pa load inside the functions that use them), so
``import trustgen`` and ``trustgen --help`` stay fast.
"""

from ._version import __version__
from .evidence import Verdict
from .generate import TrustedPipeline

__all__ = ["TrustedPipeline", "Verdict", "__version__"]
