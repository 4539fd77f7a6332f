"""``trustgen sign``: add content credentials to an image trustgen did not generate."""

from __future__ import annotations

from pathlib import Path

import click

from ._render import json_line, table


@click.command("sign")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Signed copy to write (never INPUT; same format as INPUT).")
@click.option("--key", type=click.Path(path_type=Path), default=None,
              help="PEM private key (PKCS#8, encrypted too: passphrase from "
                   "$TRUSTGEN_KEY_PASSPHRASE or a prompt). Default: the local identity.")
@click.option("--cert", type=click.Path(path_type=Path), default=None,
              help="PEM certificate chain for --key: signing certificate first, then intermediates.")
@click.option("--alg", default=None, help="es256, es384, es512, ps256, ps384, ps512 or ed25519 (default: from the key).")
@click.option("--source-type", default=None,
              help="IPTC digital source type of an image without credentials "
                   "(digitalCapture, trainedAlgorithmicMedia, compositeWithTrainedAlgorithmicMedia, ...).")
@click.option("--ingredient", "ingredients", multiple=True, type=click.Path(path_type=Path),
              help="A file that went into INPUT (repeatable).")
@click.option("--relationship", "relationships", multiple=True,
              type=click.Choice(["parentOf", "componentOf", "inputTo"]),
              help="Relationship of each --ingredient, in the same order (default componentOf).")
@click.option("--action", "actions", multiple=True, metavar="ACTION[:DESCRIPTION]",
              help="An edit made to INPUT, e.g. c2pa.cropped or 'c2pa.color_adjustments:warmer' (repeatable).")
@click.option("--tsa-url", default=None, metavar="URL",
              help="RFC 3161 time-stamp authority (default: [signing] tsa_url of the settings file).")
@click.option("--manifest", "manifest", type=click.Path(path_type=Path), default=None,
              metavar="DEF.json",
              help="A c2patool manifest definition: title, claim_generator_info, assertions "
                   "(c2pa.actions join trustgen's), ingredient_paths, ta_url.")
@click.option("--no-thumbnail", is_flag=True, help="Embed no thumbnail (smaller manifest).")
@click.option("--register", is_flag=True,
              help="Also keep the manifest in the manifest store, so that a stripped copy can be "
                   "recovered by verify.")
@click.option("--store", "store_url", default=None, metavar="URL|FILE",
              help="Manifest store for --register (default: [store] url of the settings file, "
                   "else manifests.db in $TRUSTGEN_HOME).")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object describing the result.")
def sign_command(input_path, output, key, cert, alg, source_type, ingredients, relationships,
                 actions, tsa_url, manifest, no_thumbnail, register, store_url, overwrite, as_json):
    """Sign INPUT into OUTPUT with C2PA content credentials.

    INPUT is any format c2pa embeds manifests in: images, video, audio, PDF, office documents.
    If INPUT already carries credentials they become the parent ingredient (c2pa.opened);
    otherwise the manifest records c2pa.created with --source-type (or the created action of
    the --manifest definition).

    An image that carries a trustgen watermark readable with the local identity's key (or the
    public key) gets soft bindings: the watermark's content id and a fingerprint of its pixels,
    with the c2pa.watermarked action. With --register a store that cannot be used is a
    warning on stderr: OUTPUT is signed and written all the same.
    """
    from ..credentials.keys import load_signer
    from ..credentials.sign import check_sign_paths, load_manifest_definition, sign_file
    from ._config import settings
    from ._identity import local_identity, passphrase_for

    if store_url is not None and not register:
        raise click.UsageError("--store goes with --register")
    if (key is None) != (cert is None):
        raise click.UsageError("--key and --cert go together")
    if relationships and len(relationships) != len(ingredients):
        raise click.UsageError("give one --relationship per --ingredient, or none (all componentOf)")
    check_sign_paths(input_path, output, overwrite=overwrite)  # before asking for a passphrase
    definition = None if manifest is None else load_manifest_definition(manifest)
    tsa_url = tsa_url or (definition and definition.tsa_url) or settings().tsa_url
    own = None  # the watermark key of the signer: the local identity's (--key has none)
    if key is None:
        identity = local_identity()
        signer, own = identity.signer(tsa_url=tsa_url), identity.watermark_key
    else:
        signer = load_signer(key, cert, alg=alg, passphrase=passphrase_for(key), tsa_url=tsa_url)
    pairs = list(zip(ingredients, relationships or ["componentOf"] * len(ingredients)))
    bindings, extra = _soft_bindings(input_path, own)
    written = sign_file(
        input_path, output, signer, source_type=source_type, ingredients=pairs,
        actions=actions, overwrite=overwrite, thumbnail=not no_thumbnail, definition=definition,
        soft_bindings=bindings, extra_actions=extra,
    )
    registered = _register(written, store_url or settings().store_url) if register else None
    record = {"input": str(input_path), "output": str(written), "signer": signer.subject,
              "alg": signer.alg, "ingredients": [str(p) for p in ingredients],
              "actions": list(actions), "soft_bindings": len(bindings), "registered": registered}
    if as_json:
        json_line(record)
    else:
        table([(input_path, written, signer.alg, signer.subject)], ("input", "output", "alg", "signer"))
        if bindings:
            click.echo("soft bindings: its watermark's content id and its fingerprint")
        if registered:
            click.echo("registered in the manifest store")



def _soft_bindings(path: Path, own: bytes | None) -> tuple[list, list]:
    """Soft bindings for an image carrying a trustgen watermark under the signer's watermark
    key ``own`` or the public key; none for anything else."""
    from .. import watermark
    from ..generate import soft_bindings
    from ..media import decode_image, decodes, identify, read_file

    from ..errors import TrustgenError

    try:
        data = read_file(path)
        if not decodes(identify(data, path)):
            return [], []
        image = decode_image(data, path=path, rgb=True)
    except TrustgenError:  # signing refuses the file with its own reason
        return [], []
    found = watermark.detect(image, key=own)
    if not found.detected or not found.content_id:
        return [], []
    return soft_bindings(image, found.content_id, key=None if found.key == "public" else own,
                         scheme=found.scheme)


def _register(path: Path, store_url) -> bool:
    """Register the signed file; a store that cannot be used warns (the file is written)."""
    from ..errors import TrustgenError
    from ..media import read_file
    from ..store import register
    from ._render import echo

    try:
        register(read_file(path), store=store_url, path=path)
    except TrustgenError as err:
        echo(f"trustgen: warning: {path}: signed but not registered in the manifest store: "
             f"{err}", err=True)
        return False
    return True
