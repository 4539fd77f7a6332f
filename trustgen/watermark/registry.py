"""The watermark schemes, each registered by its own module with what ``embed``/``detect`` need.

A scheme is a pair of functions on uint8 RGB arrays plus flags, so ``embed`` and ``detect`` treat
every scheme alike and a new one is one ``@register_scheme`` on its reader (timm's
``register_model`` pattern), and its import in the package:

* ``read(rgb, keys) -> [Reading]``: one reading per key, in order (``keyed``), or a single one
  (an unkeyed public mark); ``[]`` when the image is too small for the scheme to read, so
  ``detect`` leaves it out of ``schemes_checked`` instead of reporting a reading of nothing.
* ``embed(rgb, content_id: int, key) -> rgb``, or ``None`` for a reader of marks trustgen does
  not write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import WatermarkError


@dataclass(frozen=True)
class WatermarkScheme:
    """One registered scheme: its functions and what ``embed``/``detect`` must do differently."""

    name: str
    read: Callable
    embed: Callable | None = None
    #: One reading per key; else one reading for a fixed public message (no key to report).
    keyed: bool = True
    #: Readings decode a content id; else they only say the mark is there.
    carries_id: bool = True
    #: ``detect`` reads it when no schemes are named (off for slow readers).
    read_by_default: bool = True
    #: ``embed`` reads the mark back before returning the image (off where that costs seconds).
    read_back: bool = True
    #: Can mark a greyscale image (a luminance mark); chroma-only schemes cannot.
    greyscale: bool = False

    @property
    def can_embed(self) -> bool:
        return self.embed is not None


_REGISTRY: dict[str, WatermarkScheme] = {}


def register_scheme(name: str, *, embed: Callable | None = None, **flags) -> Callable:
    """Decorator for a scheme's ``read``: registers it, with ``embed`` and the flags, as ``name``."""

    def register(read: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"watermark scheme {name!r} is registered twice")
        _REGISTRY[name] = WatermarkScheme(name, read, embed, **flags)
        return read

    return register


def list_schemes() -> tuple[str, ...]:
    """Registered scheme names, in registration order (which breaks ties in ``detect``)."""
    return tuple(_REGISTRY)


def get_scheme(name: str) -> WatermarkScheme:
    """The scheme registered as ``name``; ``WatermarkError`` naming the known ones if none is."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise WatermarkError(
            f"unknown watermark scheme {name!r}; known: {', '.join(_REGISTRY)}") from None


def check_schemes(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` checked against the registry, duplicates dropped; ``WatermarkError`` if unknown."""
    if isinstance(names, str):
        raise WatermarkError(f"watermark schemes must be a list of names, not the string {names!r}")
    return tuple(dict.fromkeys(get_scheme(name).name for name in names))
