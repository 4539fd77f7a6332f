"""``trustgen keys init|show``: the local development signing identity."""

from __future__ import annotations

from pathlib import Path

import click

from ._render import echo, json_line, table

_DIR = click.option(
    "--dir", "home", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Identity folder. Default: $TRUSTGEN_HOME, else the per-user config folder.",
)


@click.group("keys")
def keys_command():
    """Manage the local development signing identity (root CA -> intermediate -> ES256 leaf).

    Its root is a trust anchor only for this machine's own verifications: nobody else trusts it.
    """


@keys_command.command("init")
@_DIR
@click.option("--force", is_flag=True, help="Replace an existing identity (its images stay verifiable only with the old root).")
def init_command(home, force):
    """Create a signing identity that c2pa accepts; never replaces one without --force."""
    from ..credentials.identity import Identity

    identity = Identity.init(home, force=force)
    echo(f"created a development signing identity in {identity.home}")
    _show(identity, as_json=False)


@keys_command.command("show")
@_DIR
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def show_command(home, as_json):
    """Print the identity's signer, issuer, validity and trust anchor."""
    from ._identity import local_identity

    _show(local_identity(home), as_json=as_json)


def _show(identity, *, as_json: bool) -> None:
    info = identity.describe()
    if as_json:
        json_line(info)
    else:
        table(info.items(), ("field", "value"))
