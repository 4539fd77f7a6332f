"""``trustgen store add|ls|show|export|stats|key``: the manifest repository."""

from __future__ import annotations

from pathlib import Path

import click

from ._render import echo, error_line, json_line, table

_STORE = click.option(
    "--store", "url", metavar="URL", default=None,
    help="A SQLite file, sqlite:///path or postgresql://... "
         "Default: [store] url of the settings file, else manifests.db in $TRUSTGEN_HOME.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")


def _open(url):
    """The store named by --store, else the settings file's, else the local one: the same
    lookup as verify, sign, generate and serve."""
    from ..store import open_store
    from ._config import settings

    return open_store(url or settings().store_url)


@click.group("store")
def store_command():
    """The manifest repository: manifests kept so stripped copies can be traced back to them."""


@store_command.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@_STORE
@_JSON
def add_command(files, url, as_json):
    """Register the content credentials of signed FILES (or bare .c2pa manifest stores).

    Registering the same manifest again changes nothing; a file that cannot be registered is
    reported on its own line and the others still are (exit code 2 if any failed).
    """
    import sys

    from ..errors import TrustgenError, file_error
    from ..store.ingest import registration_file

    failed = 0
    with _open(url) as store:
        for path in files:
            try:
                reg = registration_file(path)
                added = store.add(reg)
            except (TrustgenError, OSError) as err:
                failed += 1
                error_line(str(file_error(err, path)))
                continue
            state = "added" if added else "already registered"
            if as_json:
                json_line({"path": str(path), "manifest_id": reg.manifest_id, "status": state,
                           "soft_bindings": len(reg.soft_bindings),
                           "fingerprint": reg.fingerprint is not None})
            else:
                echo(f"{path}: {state} {reg.manifest_id}")
    if failed:
        sys.exit(2)


@store_command.command("ls")
@_STORE
@_JSON
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most this many.")
def ls_command(url, as_json, limit):
    """List the registered manifests, oldest first."""
    with _open(url) as store:
        records = store.ls(limit=limit)
    if as_json:
        for rec in records:
            json_line(rec.to_dict())
        return
    table([(r.manifest_id, r.signer, r.registered_at, len(r.soft_bindings), r.size)
           for r in records], ("manifest id", "signer", "registered", "soft bindings", "bytes"))


@store_command.command("show")
@click.argument("manifest_id")
@_STORE
@_JSON
def show_command(manifest_id, url, as_json):
    """One registered manifest: signer, times, asset hash, soft bindings, fingerprint."""
    from ..errors import InputError

    with _open(url) as store:
        rec = store.record(manifest_id)
    if rec is None:
        raise InputError(f"no manifest {manifest_id!r} in the store")
    info = rec.to_dict()
    if as_json:
        json_line(info)
        return
    rows = [(k, v) for k, v in info.items() if k not in ("soft_bindings", "fingerprint")]
    if rec.fingerprint is not None:
        rows.append(("fingerprint", f"{rec.fingerprint.hex} (quality {rec.fingerprint.quality})"))
    for b in rec.soft_bindings:
        params = ", ".join(f"{k}={v}" for k, v in b.params.items())
        rows.append(("soft binding", f"{b.alg} {b.value}" + (f" ({params})" if params else "")))
    table(rows, ("field", "value"))


@store_command.command("export")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@_STORE
@_JSON
def export_command(folder, url, as_json):
    """Write every manifest store to FOLDER as <manifest id>.c2pa (existing files are kept)."""
    with _open(url) as store:
        written = store.export(folder)
    if as_json:
        json_line({"folder": str(folder), "written": written})
    else:
        echo(f"wrote {written} manifest store(s) to {folder}")


@store_command.command("stats")
@_STORE
@_JSON
def stats_command(url, as_json):
    """How many manifests, soft bindings and fingerprints the store holds."""
    with _open(url) as store:
        info = store.stats()
    if as_json:
        json_line(info)
        return
    rows = [(k, v) for k, v in info.items() if k != "soft_bindings"]
    rows += [(f"soft bindings: {alg}", n) for alg, n in info["soft_bindings"].items()]
    table(rows, ("field", "value"))


@store_command.group("key")
def key_command():
    """API keys that may register manifests over HTTP (POST /manifests); stored hashed."""


@key_command.command("create")
@click.argument("name")
@_STORE
def key_create_command(name, url):
    """Make a key named NAME; it is printed once and never stored."""
    with _open(url) as store:
        click.echo(store.create_key(name))


@key_command.command("revoke")
@click.argument("name")
@_STORE
def key_revoke_command(name, url):
    """Revoke the key named NAME at once."""
    from ..errors import InputError

    with _open(url) as store:
        if not store.revoke_key(name):
            raise InputError(f"no active key named {name!r}")
    echo(f"revoked {name}")


@key_command.command("ls")
@_STORE
@_JSON
def key_ls_command(url, as_json):
    """The keys: name, when made, when revoked."""
    with _open(url) as store:
        keys = store.keys()
    if as_json:
        for k in keys:
            json_line(k)
    else:
        table([(k["name"], k["created"], k["revoked"]) for k in keys], ("name", "created", "revoked"))
