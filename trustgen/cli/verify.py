"""``trustgen verify``: one verdict per file, as a table, JSON lines, or batch reports."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ._render import error_line, json_line, table

_PATH = click.Path(path_type=Path, dir_okay=False)


@click.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--policy", default="default", show_default=True, metavar="NAME|FILE",
              help="A shipped policy (default, newsroom, moderation, strict) or a TOML file.")
@click.option("--trust-anchors", multiple=True, type=_PATH, metavar="FILE",
              help="PEM bundle of trusted roots, added to the policy's (repeatable).")
@click.option("--trust-config", type=_PATH, metavar="FILE",
              help="Accepted extended key usages, one OID a line (c2pa store.cfg format).")
@click.option("--allow-remote", is_flag=True, help="Fetch manifests stored at a URL.")
@click.option("--detached", type=_PATH, metavar="MANIFEST",
              help="A sidecar .c2pa manifest for the single PATH.")
@click.option("--recursive", "-r", is_flag=True, help="Descend into subfolders of folder PATHs.")
@click.option("--report", type=_PATH, metavar="OUT.html", help="Write a self-contained HTML report.")
@click.option("--jsonl", type=_PATH, metavar="OUT.jsonl",
              help="Write JSON lines; OUT.jsonl.cache beside it makes an interrupted run resumable.")
@click.option("--csv", "csv_out", type=_PATH, metavar="OUT.csv", help="Write a CSV table.")
@click.option("--overwrite", is_flag=True, help="Replace existing report files.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Files verified in parallel (threads sharing one verifier).")
@click.option("--no-detector", is_flag=True, help="Do not run the synthetic-image detector.")
@click.option("--no-cache", is_flag=True, help="Re-verify files already in OUT.jsonl.cache.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
@click.pass_context
def verify_command(ctx, paths, as_json, policy, trust_anchors, trust_config, allow_remote, detached,
                   recursive, report, jsonl, csv_out, overwrite, workers, no_detector, no_cache,
                   progress):
    """Verify content credentials, watermark and detector for each image, under a policy.

    PATH may be a file or a folder (its image files; with -r also its subfolders). Exit code:
    0 every file passed the policy, 1 some did not, 2 a file could not be read (its own error
    line; the others are still verified).
    """
    from .. import report as render
    from ..batch import VerdictCache, collect_inputs, verify_batch
    from ..credentials.trust import TrustConfig
    from ..imageio import atomic_write, check_writable, read_file
    from ..verify import Verifier

    outputs = [(p, fn) for p, fn in ((jsonl, render.render_jsonl), (csv_out, render.render_csv),
                                     (report, None)) if p is not None]
    for out, _ in outputs:
        check_writable(out, overwrite=overwrite)
    inputs = collect_inputs(paths, recursive=recursive)
    if detached is not None and len(inputs) != 1:
        raise click.UsageError("--detached goes with exactly one image PATH")
    trust = None
    if trust_anchors or trust_config or allow_remote:
        trust = TrustConfig.from_files(trust_anchors, trust_config, allow_remote=allow_remote)
    verifier = Verifier(policy, trust=trust, detector=not no_detector)
    cache = None if jsonl is None or no_cache else VerdictCache(f"{jsonl}.cache", verifier.fingerprint)
    show = sys.stderr.isatty() if progress is None else progress

    records, from_cache, started = [], 0, time.monotonic()
    batch = verify_batch(inputs, verifier, workers=workers, cache=cache,
                         detached=None if detached is None else read_file(detached))
    for record, cached in batch:
        records.append(record)
        from_cache += cached
        if record["verdict"] == "error":
            if show:
                click.echo("\r\033[K", err=True, nl=False)  # clear the progress line first
            error_line(record["error"])
        if as_json:
            json_line(record)
        if show:
            rate = len(records) / max(time.monotonic() - started, 1e-9)
            click.echo(f"\rverified {len(records)}/{len(inputs)}  {rate:.1f} files/s", err=True, nl=False)
    if show:
        click.echo("", err=True)

    if not as_json:
        table([_row(r) for r in records],
              ("file", "C2PA", "watermark", "content id", "verdict", "action"))
    for out, fn in outputs:
        data = fn(records) if fn else render.render_html(records, policy=verifier.policy.name,
                                                          workers=workers)
        atomic_write(out, data, overwrite=overwrite)
    errors = sum(r["verdict"] == "error" for r in records)
    failed = sum(not r["passed"] for r in records) - errors
    if len(records) > 1 or outputs:
        cached_note = f" ({from_cache} from cache)" if cache is not None else ""
        written = "".join(f"; wrote {out}" for out, _ in outputs)
        click.echo(f"{len(records)} files{cached_note}: {len(records) - failed - errors} passed, "
                   f"{failed} did not pass, {errors} unreadable{written}", err=True)
    ctx.exit(2 if errors else 1 if failed else 0)


def _row(r: dict) -> tuple:
    c2pa, wm = r.get("c2pa"), r.get("watermark")
    watermark = None if wm is None else (wm.get("scheme") or "found") if wm.get("detected") else "none"
    state = c2pa and c2pa["state"]
    failing = c2pa and sum(bool(i["codes"]) for i in c2pa["ingredients"])
    if failing:  # c2pa keeps a file trusted when only an ingredient fails: the table must not
        state += f" ({failing} ingredient{'s' if failing > 1 else ''} failed)"
    return (r["path"], state, watermark, wm and wm.get("content_id"), r["verdict"], r["action"])
