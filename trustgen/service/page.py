"""The verification page at ``GET /``: drop or paste images, see the HTML report for them.

The page is one self-contained file (``page.html``: inline style and script, nothing fetched
but this server's own ``/v1/report``), so it works on a desk machine without a network. The
report it shows is ``trustgen.report.render_html``'s, the same page ``verify --report`` writes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

import markupsafe

from .config import ServiceConfig


@cache
def _template() -> str:
    return (files(__package__) / "page.html").read_text(encoding="utf-8")


def page_html(config: ServiceConfig, policies: dict) -> str:
    settings = {
        "keys": not config.open,
        "policies": [{"name": n, "description": p.description} for n, p in policies.items()],
        "maxBytes": config.max_upload_bytes,
        "maxFiles": config.max_batch_files,
    }
    # JSON inside a <script> element: escape "<" so no string can close the element
    blob = json.dumps(settings).replace("<", "\\u003c")
    return _template().replace("/*SETTINGS*/null", blob).replace(
        "{{policy_options}}", "".join(
            f'<option value="{markupsafe.escape(n)}">{markupsafe.escape(n)}</option>'
            for n in policies))
