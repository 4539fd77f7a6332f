"""The local identity for commands: one loader, with the passphrase prompt when a key needs one."""

from __future__ import annotations

import os

import click


def passphrase_for(key_path) -> str | None:
    """The passphrase to decrypt ``key_path``: None when it is not encrypted or the environment
    gives one, else asked on the terminal (a one-line ``SigningError`` without a terminal)."""
    from ..credentials.keys import PASSPHRASE_ENV, key_is_encrypted
    from ..errors import SigningError

    if not key_is_encrypted(key_path) or os.environ.get(PASSPHRASE_ENV):
        return None
    try:
        return click.prompt(f"Passphrase for {key_path}", hide_input=True, err=True)
    except click.Abort:  # no terminal, end of input, or Ctrl-C
        raise SigningError(f"the private key is encrypted and no passphrase was given; "
                           f"set {PASSPHRASE_ENV}", path=key_path) from None


def local_identity(home=None, *, required: bool = True):
    """The identity in ``home`` (default ``$TRUSTGEN_HOME``); None if there is none and it is
    not ``required``."""
    from ..credentials.identity import Identity, identity_paths

    key_path = identity_paths(home)[0]
    if not key_path.is_file():
        return Identity.load(home) if required else Identity.find(home)
    return Identity.load(home, passphrase=passphrase_for(key_path))
