"""``trustgen serve``: the verification service; ``trustgen serve keys``: its API keys."""

from __future__ import annotations

from pathlib import Path

import click

from ._render import echo, table

_PATH = click.Path(path_type=Path, dir_okay=False)
_KEYS_FILE = click.option("--keys-file", type=_PATH, default=None, metavar="FILE",
                          help="API key file. Default: service-keys.json in $TRUSTGEN_HOME.")


@click.group("serve", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to bind.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="HTTP worker processes (uvicorn).")
@click.option("--verifiers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Verification processes per worker, each with its own verifier.")
@click.option("--policy", "policies", multiple=True, metavar="NAME|FILE",
              help="A policy clients may choose (repeatable); the first is the default. "
                   "Default: default.")
@click.option("--trust-anchors", multiple=True, type=_PATH, metavar="FILE",
              help="PEM bundle of trusted roots, added to every policy's (repeatable).")
@click.option("--trust-config", type=_PATH, metavar="FILE",
              help="Accepted extended key usages, one OID a line (c2pa store.cfg format).")
@click.option("--no-detector", is_flag=True, help="Do not run the synthetic-image detector.")
@click.option("--store", "store_url", metavar="URL|FILE",
              help="Manifest store served (Soft Binding Resolution API) and looked up (default: "
                   "[store] url of the settings file, else manifests.db in $TRUSTGEN_HOME).")
@click.option("--open", "open_", is_flag=True,
              help="Serve without API keys; only on a loopback address (a desk machine).")
@_KEYS_FILE
@click.option("--max-upload-mb", type=click.FloatRange(0.001), default=25.0, show_default=True,
              help="Largest request body (a batch's files together).")
@click.option("--max-batch-files", type=click.IntRange(1, 1000), default=32, show_default=True,
              help="Most files in one batch (or one drop on the page).")
@click.option("--time-limit", type=click.FloatRange(0.01), default=10.0, show_default=True,
              metavar="SECONDS", help="Longest verification of one file (then 504).")
@click.option("--queue", type=click.IntRange(0, 10000), default=16, show_default=True,
              help="Requests waiting for a verification process, per worker (then 503).")
@click.option("--rate", type=click.FloatRange(0.001), default=10.0, show_default=True,
              help="Requests per second per API key (per address with --open), on average, "
                   "counted in each worker process (then 429).")
@click.option("--burst", type=click.IntRange(1), default=20, show_default=True,
              help="Requests per API key allowed in a burst.")
@click.option("--file-memory-mb", type=click.IntRange(0), default=1536, show_default=True,
              help="Memory one file may take in a verification process above its loaded "
                   "verifiers (Linux; 0: no limit); past it the file gets an error verdict.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.pass_context
def serve_command(ctx, host, port, workers, verifiers, policies, trust_anchors, trust_config,
                  no_detector, store_url, open_, keys_file, max_upload_mb, max_batch_files, time_limit, queue,
                  rate, burst, file_memory_mb, log_level):
    """Serve verification over HTTP: POST /v1/verify, /v1/verify:batch, GET /v1/policies,
    /healthz, /readyz, /metrics, the API at /docs and a page for people at /.

    API keys are required (Authorization: Bearer KEY; see 'trustgen serve keys') unless --open,
    which is allowed only on a loopback address. Logs are JSON lines on stderr. Stop with
    Ctrl-C or SIGTERM: requests in flight are finished first.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..service.config import ServiceConfig
    from ._config import settings
    from ..service.serve import run

    config = ServiceConfig(
        host=host, port=port, workers=workers, verifiers=verifiers,
        policies=tuple(policies) or ("default",), detector=not no_detector, open=open_,
        trust_anchors=tuple(str(p) for p in trust_anchors),
        trust_config=None if trust_config is None else str(trust_config),
        keys_file=None if keys_file is None else str(keys_file),
        max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_batch_files=max_batch_files,
        time_limit=time_limit, queue=queue, rate=rate, burst=burst,
        file_memory_mb=file_memory_mb or None, log_level=log_level,
        store=store_url or settings().store_url)
    run(config)


@serve_command.group("keys")
def keys_group():
    """API keys of the service: each shown once when made; only its hash is stored."""


@keys_group.command("add")
@click.argument("name")
@_KEYS_FILE
def add_command(name, keys_file):
    """Make a key for NAME and print it (once: it cannot be shown again)."""
    store = _store(keys_file)
    key = store.add(name)
    click.echo(key)
    echo(f"trustgen: key {name!r} added to {store.path}; send it as 'Authorization: Bearer KEY'",
         err=True)


@keys_group.command("revoke")
@click.argument("name")
@_KEYS_FILE
def revoke_command(name, keys_file):
    """Revoke NAME's key; a running server refuses it from its next request."""
    store = _store(keys_file)
    store.revoke(name)
    echo(f"trustgen: key {name!r} revoked", err=True)


@keys_group.command("ls")
@_KEYS_FILE
def ls_command(keys_file):
    """List the keys: name, created, revoked."""
    table([(r.name, r.created, r.revoked or "") for r in _store(keys_file).records()],
          ("name", "created", "revoked"))


def _store(keys_file):
    from ..service.keys import KeyStore, keys_path

    return KeyStore(keys_file or keys_path())
