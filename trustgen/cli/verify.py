"""``trustgen verify``: one verdict per file, as a table, JSON lines, or batch reports."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ._render import echo, error_line, json_line, table

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
    from ..batch import cache_path, collect_inputs, verify_files, write_reports
    from ..media import check_writable, read_file
    from ..verify import Verifier

    inputs = collect_inputs(paths, recursive=recursive)  # before any work: no output is an input
    read = [*inputs, *trust_anchors, *(p for p in (trust_config, detached) if p is not None)]
    outputs = {"jsonl": jsonl, "csv": csv_out, "html": report}
    for out in outputs.values():
        if out is not None:
            check_writable(out, overwrite=overwrite, inputs=read)
    if jsonl is not None and not no_cache:
        check_writable(cache_path(jsonl), overwrite=True, inputs=read)
    verifier = Verifier.from_options(policy, trust_anchors=trust_anchors, trust_config=trust_config,
                                     allow_remote=allow_remote, detector=not no_detector)
    show = sys.stderr.isatty() if progress is None else progress
    started, done = time.monotonic(), [0]

    def on_verdict(verdict, _cached, total):
        done[0] += 1
        if verdict.label == "error":
            if show:
                click.echo("\r\033[K", err=True, nl=False)  # clear the progress line first
            error_line(verdict.evidence.error)
        if as_json:
            json_line(verdict.to_dict())
        if show:
            rate = done[0] / max(time.monotonic() - started, 1e-9)
            click.echo(f"\rverified {done[0]}/{total}  {rate:.1f} files/s", err=True, nl=False)

    summary = verify_files(inputs, verifier, workers=workers, jsonl=jsonl,
                           use_cache=not no_cache, on_verdict=on_verdict,
                           detached=None if detached is None else read_file(detached))
    if show:
        click.echo("", err=True)
    if not as_json:
        table([_row(v) for v in summary.verdicts],
              ("file", "C2PA", "watermark", "content id", "verdict", "action"))
    written = write_reports(summary.verdicts, policy=verifier.policy.name, overwrite=overwrite,
                            workers=workers, **outputs)
    if summary.cache_skipped:
        echo(f"trustgen: warning: {cache_path(jsonl)}: skipped {summary.cache_skipped} unreadable "
             f"line{'s' if summary.cache_skipped > 1 else ''}", err=True)
    if len(summary.verdicts) > 1 or written:
        cached_note = f" ({summary.from_cache} from cache)" if jsonl and not no_cache else ""
        echo(f"{len(summary.verdicts)} files{cached_note}: {summary.passed} passed, "
             f"{summary.failed} did not pass, {summary.errors} unreadable"
             + "".join(f"; wrote {out}" for out in written), err=True)
    ctx.exit(summary.exit_code)


def _row(verdict) -> tuple:
    c2pa, wm = verdict.evidence.c2pa, verdict.evidence.watermark
    watermark = None if wm is None else (wm.scheme or "found") if wm.detected else "none"
    state = c2pa and c2pa.state
    failing = c2pa and sum(bool(i.codes) for i in c2pa.ingredients)
    if failing:  # c2pa keeps a file trusted when only an ingredient fails: the table must not
        state += f" ({failing} ingredient{'s' if failing > 1 else ''} failed)"
    return (verdict.evidence.path, state, watermark, wm and wm.content_id, verdict.label,
            verdict.action)
