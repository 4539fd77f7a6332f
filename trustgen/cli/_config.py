"""The settings file a command runs under (``trustgen --config FILE``, else the default)."""

from __future__ import annotations

import click


def settings():
    """The checked ``trustgen.config.Config`` for this invocation."""
    from ..config import load_config

    return load_config(click.get_current_context().find_root().params.get("config_path"))
