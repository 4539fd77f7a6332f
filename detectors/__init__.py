"""trustgen's learned synthetic-image detector (see MODEL_CARD.md for what it has been measured on).

Importing this package is cheap: torch and timm load only when a model is built or run.
"""

from .model import SyntheticImageDetector

__all__ = ["SyntheticImageDetector"]
