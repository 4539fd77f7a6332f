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
@click.option("--tsa-url", default=None, help="RFC 3161 time-stamp authority URL.")
@click.option("--no-thumbnail", is_flag=True, help="Embed no thumbnail (smaller manifest).")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object describing the result.")
def sign_command(input_path, output, key, cert, alg, source_type, ingredients, relationships,
                 actions, tsa_url, no_thumbnail, overwrite, as_json):
    """Sign INPUT into OUTPUT with C2PA content credentials.

    If INPUT already carries credentials they become the parent ingredient (c2pa.opened);
    otherwise the manifest records c2pa.created with --source-type.
    """
    from ..credentials.keys import load_signer
    from ..credentials.sign import check_sign_paths, sign_file
    from ._identity import local_identity, passphrase_for

    if (key is None) != (cert is None):
        raise click.UsageError("--key and --cert go together")
    if relationships and len(relationships) != len(ingredients):
        raise click.UsageError("give one --relationship per --ingredient, or none (all componentOf)")
    check_sign_paths(input_path, output, overwrite=overwrite)  # before asking for a passphrase
    if key is None:
        signer = local_identity().signer(tsa_url=tsa_url)
    else:
        signer = load_signer(key, cert, alg=alg, passphrase=passphrase_for(key), tsa_url=tsa_url)
    pairs = list(zip(ingredients, relationships or ["componentOf"] * len(ingredients)))
    written = sign_file(
        input_path, output, signer, source_type=source_type, ingredients=pairs,
        actions=actions, overwrite=overwrite, thumbnail=not no_thumbnail,
    )
    record = {"input": str(input_path), "output": str(written), "signer": signer.subject,
              "alg": signer.alg, "ingredients": [str(p) for p in ingredients],
              "actions": list(actions)}
    if as_json:
        json_line(record)
    else:
        table([(input_path, written, signer.alg, signer.subject)], ("input", "output", "alg", "signer"))

