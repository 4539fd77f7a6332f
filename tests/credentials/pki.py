"""Certificates made per test session with ``cryptography``, and small photo-like images.

The chains are built here, independently of ``trustgen keys init``, so that tests can make the
certificates c2pa must refuse (a CA as signer, an expired leaf, no EKU) and keys of every kind.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from PIL import Image

EKUS = [ExtendedKeyUsageOID.EMAIL_PROTECTION, ObjectIdentifier("1.3.6.1.5.5.7.3.36"),
        ObjectIdentifier("1.3.6.1.4.1.62558.2.1")]


@dataclass(frozen=True)
class Chain:
    key: Path
    chain: Path
    root: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustgen tests")])


def _new_key(alg: str):
    return {
        "es256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "es384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "ps256": lambda: rsa.generate_private_key(65537, 2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }[alg]()


def _cert(cn, key, issuer_name, issuer_key, *, ca, eku=EKUS, start=None, days=365):
    start = start or dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(issuer_key, digest)


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def make_chain(folder: Path, alg: str = "es256", *, defect: str | None = None,
               passphrase: bytes | None = None, ekus: tuple[str, ...] | None = None) -> Chain:
    """root CA -> intermediate -> leaf with key ``alg`` and ``ekus`` (default: all three signing
    EKUs); ``defect`` breaks it the way c2pa refuses: ``ca-signer`` (the intermediate signs),
    ``expired``, ``no-eku``."""
    folder.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(f"test root {folder.name}", root_key, _name(f"test root {folder.name}"), root_key, ca=True, days=3650)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert("test intermediate", int_key, root.subject, root_key, ca=True, days=3650)
    leaf_key = _new_key(alg)
    if defect == "ca-signer":
        key, chain = int_key, [inter, root]
    else:
        start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc) if defect == "expired" else None
        eku = [] if defect == "no-eku" else [ObjectIdentifier(o) for o in ekus] if ekus else EKUS
        leaf = _cert(f"test signer {alg}", leaf_key, inter.subject, int_key, ca=False, eku=eku, start=start)
        key, chain = leaf_key, [leaf, inter]
    enc = (serialization.BestAvailableEncryption(passphrase) if passphrase
           else serialization.NoEncryption())
    paths = Chain(folder / "key.pem", folder / "chain.pem", folder / "root.pem")
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    paths.chain.write_bytes(_pem(*chain))
    paths.root.write_bytes(_pem(root))
    return paths


def image_bytes(fmt: str, size: int = 96, seed: int = 0) -> bytes:
    """A small photo-like image: smooth gradients plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    arr = np.stack([xx, yy, (xx + yy) / 2], -1) * 200 + rng.normal(0, 6, (size, size, 3)) + 20
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt], quality=95)
    return buf.getvalue()
