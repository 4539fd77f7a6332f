"""trustgen: make generated images accountable (watermark, content credentials, detection)."""

from ._version import __version__

__all__ = ["__version__"]
