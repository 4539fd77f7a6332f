"""Pipeline families: what trustgen knows about each kind of diffusers pipeline it wraps.

A family names the pipeline classes it covers, the task they do, the shape (and packing) of
their initial noise, so that the wrapper draws it from its own seeded generators, and the
conditioning their call takes. ``family_for`` refuses a pipeline of a class no family names:
trustgen never runs a pipeline whose noise and parameters it cannot account for.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .base import EDIT_TASKS, TASKS, Family, Request
from .edits import IMG2IMG, INPAINT, INSTRUCT, SDXL_IMG2IMG, SDXL_INPAINT, SDXL_INSTRUCT
from .text_to_image import CONTROLNET, FLUX, PIXART, SD, SD3, SDXL, SDXL_CONTROLNET
from .unconditional import UNCONDITIONAL

__all__ = ["EDIT_TASKS", "FAMILIES", "TASKS", "Family", "Request", "adapters", "family_for"]

#: Every family, in the order of the README's table.
FAMILIES: tuple[Family, ...] = (
    UNCONDITIONAL, SD, SDXL, SD3, FLUX, PIXART, CONTROLNET, SDXL_CONTROLNET,
    IMG2IMG, INPAINT, INSTRUCT, SDXL_IMG2IMG, SDXL_INPAINT, SDXL_INSTRUCT,
)
_BY_CLASS = {name: family for family in FAMILIES for name in family.classes}


def family_for(pipeline: Any) -> Family:
    """The family of ``pipeline``'s exact class (a subclass may use its noise differently)."""
    name = type(pipeline).__name__
    family = _BY_CLASS.get(name)
    if family is None:
        raise InputError(f"pipeline {name} is not one trustgen knows how to mark and record; "
                         f"supported: {', '.join(sorted(_BY_CLASS))}")
    family.check(pipeline)
    return family


def adapters(pipeline: Any) -> list[dict]:
    """What was loaded on top of the base model: each LoRA (PEFT) adapter and ControlNet, with
    the SHA-256 of its own weights, in a stable order."""
    from .weights import adapter_records

    return adapter_records(pipeline)
