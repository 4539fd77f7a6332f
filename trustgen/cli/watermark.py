"""``trustgen watermark embed|detect``: mark one image, or read the marks in many."""

from __future__ import annotations

import click

from ..errors import InputError, TrustgenError
from ._render import echo, error_line, json_line, table


def _identity_key() -> bytes | None:
    """The local signing identity's watermark key, or None when there is no identity."""
    from ._identity import local_identity

    identity = local_identity(required=False)
    return None if identity is None else identity.watermark_key


@click.group("watermark")
def watermark_command() -> None:
    """Embed or detect invisible watermarks carrying a content id."""


@watermark_command.command("embed")
@click.argument("src", metavar="IN")
@click.option("-o", "--output", "out", required=True, help="Output image (its extension names the format).")
@click.option("--content-id", help="12 hex digits to embed (default: a fresh random id).")
@click.option("--scheme", help="Watermark scheme (default: trustgen's own).")
@click.option("--key-file", type=click.Path(dir_okay=False),
              help="Watermark key (raw or hex, >= 16 bytes); default: the local identity's "
                   "key, else the public key.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def embed_command(src, out, content_id, scheme, key_file, overwrite):
    """Write IN with a watermark carrying a content id to OUT."""
    from .. import watermark
    from ..media import atomic_write, check_writable, decode_image, encode_image
    from ..media import encodable_formats, extension_for, format_for_path, read_file
    from ..errors import file_error

    fmt = format_for_path(out)
    if fmt not in encodable_formats():
        *others, last = [extension_for(f) for f in encodable_formats()]
        raise InputError(f"cannot write this format; name the output {', '.join(others)} or {last}",
                         path=out)
    check_writable(out, overwrite=overwrite, inputs=[src, *([key_file] if key_file else [])])
    key = watermark.read_key_file(key_file) if key_file else _identity_key()
    content_id = content_id or watermark.new_content_id()
    watermark.payload.parse_content_id(content_id)
    try:
        image = decode_image(read_file(src), path=src)
    except TrustgenError:
        raise
    except Exception as err:  # noqa: BLE001 - any decoder failure is one line naming the file
        raise file_error(err, src, "decoding") from err
    try:
        marked = watermark.embed(image, content_id, key=key,
                                 scheme=scheme or watermark.DEFAULT_SCHEME)
    except TrustgenError as err:
        raise file_error(err, src) from None
    atomic_write(out, encode_image(marked, fmt), overwrite=overwrite)
    echo(f"{out}: content id {content_id.lower()} "
         f"({scheme or watermark.DEFAULT_SCHEME}, key: "
         f"{'given' if key_file else 'identity' if key else 'public'})")


@watermark_command.command("detect")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--scheme", "schemes", multiple=True, help="Read only this scheme (repeatable).")
@click.option("--key-file", "key_files", multiple=True, type=click.Path(dir_okay=False),
              help="Also try this watermark key (repeatable).")
@click.option("--latent", is_flag=True,
              help="Also read the latent watermark by inverting --model (seconds per image).")
@click.option("--model", type=click.Path(file_okay=False), default=None,
              help="Diffusers model folder to invert for --latent (default: the embedded model).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def detect_command(ctx, files, schemes, key_files, latent, model, as_json):
    """Read the watermark in each FILE. Exit 0 when every file was read, 2 if one could not be."""
    from .. import watermark
    from ..media import decode_image, read_file
    from ..errors import file_error

    keys = [watermark.read_key_file(k) for k in key_files]
    own = _identity_key()
    if own:
        keys.append(own)
    if model is not None and not latent:
        raise InputError("--model is the model to invert for --latent; add --latent")
    if latent:
        from ..generate import default_model_path
        from ..watermark import inversion

        model = str(model or default_model_path())
        inversion.load(model)  # a folder that is no invertible model: exit 2 before any file
    rows, failed = [], False
    for path in files:
        try:
            image = decode_image(read_file(path), path=path)
            ev = watermark.detect(image, keys=keys, schemes=schemes or None)
            if latent:
                ev = ev.with_latent(watermark.detect_latent(image, model, keys=keys))
        except Exception as err:  # noqa: BLE001 - one file's failure is its own error line
            error_line(str(file_error(err, path, "watermark detection")))
            failed = True
            continue
        if as_json:
            json_line({"path": path, **ev.to_dict()})
        else:
            found = "yes" if ev.detected else "no" if ev.schemes_checked else "too small"
            row = (path, found, ev.scheme, ev.content_id,
                   None if ev.p_value is None else f"{ev.p_value:.2e}", ev.bit_errors)
            if latent:
                lat = ev.latent
                row += ("yes" if lat.detected else "no", lat.content_id, f"{lat.p_value:.2e}",
                        None if lat.ids_agree is None else "yes" if lat.ids_agree else "NO")
            rows.append(row)
    if rows:
        table(rows, ("file", "watermark", "scheme", "content id", "p-value", "bit errors")
              + (("latent", "latent id", "latent p-value", "ids agree") if latent else ()))
    ctx.exit(2 if failed else 0)
