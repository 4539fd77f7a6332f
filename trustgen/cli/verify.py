"""``trustgen verify``: one verdict per file, as a table, JSON lines, or batch reports."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..engines import ENGINES
from ..labels import edit_note
from ._render import echo, error_line, json_line, manifest_tree, table

_PATH = click.Path(path_type=Path, dir_okay=False)


@click.command("verify")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="PATHS...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--detailed", is_flag=True,
              help="The whole manifest as c2patool shows it: every assertion, signer chain, time "
                   "stamp and the ingredient tree (a tree under each file; in --json the "
                   "`manifest` key).")
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
              help="Files verified in parallel (threads sharing one verifier; --engine local).")
@click.option("--no-detector", is_flag=True, help="Do not run the synthetic-image detector.")
@click.option("--store", "store_urls", multiple=True, metavar="URL|FILE",
              help="Manifest store to look files without credentials up in (repeatable; default: "
                   "[store] url of the settings file, else manifests.db in $TRUSTGEN_HOME).")
@click.option("--no-store", is_flag=True, help="Look nothing up in manifest stores or resolvers.")
@click.option("--no-cache", is_flag=True, help="Re-verify files already in OUT.jsonl.cache.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
@click.option("--from-list", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              metavar="FILE", help="Also verify the files listed in FILE, one path a line "
                                   "('-': standard input).")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="Where files are verified: threads here, or a Ray actor pool.")
@click.option("--ray-address", envvar="RAY_ADDRESS", show_envvar=True, metavar="ADDR",
              help="The Ray cluster of --engine ray (default: Ray on this machine's cores).")
@click.pass_context
def verify_command(ctx, paths, as_json, detailed, policy, trust_anchors, trust_config, allow_remote, detached,
                   recursive, report, jsonl, csv_out, overwrite, workers, no_detector, store_urls,
                   no_store, no_cache, progress, from_list, engine, ray_address):
    """Verify content credentials, watermark and detector for each file, under a policy.

    PATH may be a file, a folder (its files of every media type trustgen verifies: images,
    video, audio, PDF, office documents; with -r also its subfolders; what is left out is
    counted on stderr) or a quoted glob pattern ('inbox/**/*.jpg'). Watermark and detector
    apply to images only. Exit code:
    0 every file passed the policy, 1 some did not, 2 a file could not be read (its own error
    line; the others are still verified).

    A file without embedded credentials (stripped by a platform) is looked up in the manifest
    stores by its watermark and fingerprint; recovered credentials are validated against it
    (verdicts recovered-ai, recovered-capture; a copied mark is copied-mark).
    """
    from ..batch import cache_path, collect_inputs, input_paths, verify_files, write_reports
    from ..engines import VerifierOptions
    from ._config import settings
    from ..media import check_writable, read_file

    if not paths and from_list is None:  # PATH is optional only with --from-list
        raise click.MissingParameter(ctx=ctx, param=ctx.command.params[0])
    if engine != "ray" and ctx.get_parameter_source("ray_address").name == "COMMANDLINE":
        raise click.UsageError("--ray-address goes with --engine ray")
    if no_store and store_urls:
        raise click.UsageError("--store and --no-store exclude each other")
    config = settings()
    stores = list(store_urls) or ([config.store_url] if config.store_url else None)
    # before any work: no output is an input
    inputs = collect_inputs(input_paths(paths, from_list=from_list), recursive=recursive)
    if inputs.skipped_line():
        echo(f"trustgen: {inputs.skipped_line()}", err=True)
    read = [*inputs, *trust_anchors,
            *(p for p in (trust_config, detached, from_list) if p is not None)]
    outputs = {"jsonl": jsonl, "csv": csv_out, "html": report}
    for out in outputs.values():
        if out is not None:
            check_writable(out, overwrite=overwrite, inputs=read)
    if jsonl is not None and not no_cache:
        check_writable(cache_path(jsonl), overwrite=True, inputs=read)
    options = VerifierOptions(policy, trust_anchors=trust_anchors, trust_config=trust_config,
                              allow_remote=allow_remote, detector=not no_detector,
                              detailed=detailed, stores=stores, resolvers=config.resolvers,
                              use_stores=not no_store)
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

    summary = verify_files(inputs, options, workers=workers, engine=engine,
                           ray_address=ray_address, jsonl=jsonl,
                           use_cache=not no_cache, on_verdict=on_verdict,
                           detached=None if detached is None else read_file(detached))
    if show:
        click.echo("", err=True)
    if not as_json:
        table([_row(v) for v in summary.verdicts],
              ("file", "C2PA", "watermark", "content id", "verdict", "action"))
        if detailed:
            _trees(summary.verdicts)
    written = write_reports(summary.verdicts, policy=summary.policy, overwrite=overwrite,
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


def _trees(verdicts) -> None:
    """Under the table, each file's manifest tree and the reasons of its verdict."""
    for verdict in verdicts:
        echo("")
        echo(f"{verdict.evidence.path}: {verdict.label} ({verdict.action})")
        for why in verdict.reasons:
            echo(f"  - {why.text}")
        if verdict.evidence.manifest is None:
            c2pa = verdict.evidence.c2pa
            echo(f"  no manifest to show ({c2pa.reason if c2pa and c2pa.reason else 'not read'})")
            continue
        for line in manifest_tree(verdict.evidence.manifest):
            echo(line)


def _row(verdict) -> tuple:
    c2pa, wm, rec = verdict.evidence.c2pa, verdict.evidence.watermark, verdict.evidence.recovered
    watermark = None if wm is None else (wm.scheme or "found") if wm.detected else "none"
    if wm is not None and wm.public is not None and wm.public.present:
        watermark = f"trustgen, issuer {wm.public.issuer}"
    state = c2pa and c2pa.state
    if rec is not None and rec.found:  # what came back from the store, and how it was found
        state += f", recovered {rec.state} (by {rec.matched_by})"
    failing = c2pa and sum(bool(i.codes) for _, i in c2pa.walk_ingredients())
    if failing:  # c2pa keeps a file trusted when only an ingredient fails: the table must not
        state += f" ({failing} ingredient{'s' if failing > 1 else ''} failed)"
    note = edit_note(c2pa)  # an AI edit's region: the table's one line for it
    if note:
        state += f" ({note})"
    return (verdict.evidence.path, state, watermark, wm and wm.content_id, verdict.label,
            verdict.action)
