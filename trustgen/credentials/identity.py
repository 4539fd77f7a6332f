"""The local signing identity: one object for the C2PA signer and the watermark key.

Generation, the CLI and the verifier all load it through ``Identity.load`` (or ``Identity.find``
where an identity is optional), so an encrypted key, a missing file or a refused certificate
fails the same way everywhere: one ``TrustgenError`` line, never a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .keys import (
    SIGNING_EKUS, SignerSpec, _load_chain, _pem_chain, _tsa, check_signer, load_private_key,
    signer_for_key,
)

_KEY_FILE, _CHAIN_FILE, _ROOT_FILE = "signing-key.pem", "signing-chain.pem", "root-ca.pem"


def default_home() -> Path:
    """``$TRUSTGEN_HOME``, else the platform's per-user config folder."""
    env = os.environ.get("TRUSTGEN_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("trustgen"))


def identity_paths(home: str | os.PathLike | None = None) -> tuple[Path, Path, Path]:
    """(private key, certificate chain, root) of the identity in ``home``."""
    home = Path(home) if home is not None else default_home()
    return home / _KEY_FILE, home / _CHAIN_FILE, home / _ROOT_FILE


@dataclass(frozen=True)
class Identity:
    """A development signing identity (root CA -> intermediate -> ES256 leaf), loaded.

    The private key is read once, with the passphrase given or ``$TRUSTGEN_KEY_PASSPHRASE``;
    the C2PA signer is checked by c2pa and the watermark key derived from the same key.
    """

    home: Path
    key_path: Path
    chain_path: Path
    root_path: Path
    watermark_key: bytes = field(repr=False)
    _signer: SignerSpec = field(repr=False, compare=False)

    @classmethod
    def load(cls, home: str | os.PathLike | None = None, *, passphrase: str | None = None) -> "Identity":
        """The identity in ``home`` (default: ``default_home()``); ``ConfigError`` if none."""
        key_path, chain_path, root_path = identity_paths(home)
        home = key_path.parent
        if not all(p.is_file() for p in (key_path, chain_path, root_path)):
            raise ConfigError(f"no signing identity in {home}; run `trustgen keys init`")
        key = load_private_key(key_path, passphrase=passphrase)
        return cls(home, key_path, chain_path, root_path, _watermark_key(key),
                   signer_for_key(key, key_path, chain_path))

    @classmethod
    def find(cls, home: str | os.PathLike | None = None, *, passphrase: str | None = None
             ) -> "Identity | None":
        """The identity in ``home``, or None when there is none (any other problem raises)."""
        if not any(p.exists() for p in identity_paths(home)):
            return None
        return cls.load(home, passphrase=passphrase)

    @classmethod
    def init(cls, home: str | os.PathLike | None = None, *, force: bool = False) -> "Identity":
        """Create a development PKI that c2pa accepts; never replaces one unless ``force``.

        Only the leaf key is kept (mode 0600): the CA keys are thrown away after issuing, so the
        local root can vouch for this one signer and nothing else.
        """
        home = Path(home) if home is not None else default_home()
        _create(home, force=force)
        return cls.load(home)

    def signer(self, *, tsa_url: str | None = None) -> SignerSpec:
        """The C2PA signer, time-stamping at ``tsa_url`` when given."""
        if tsa_url is None:
            return self._signer
        spec = dataclasses.replace(self._signer, tsa_url=_tsa(tsa_url))
        check_signer(spec, chain_path=self.chain_path)
        return spec

    def describe(self) -> dict[str, str]:
        """What ``trustgen keys show`` prints."""
        from cryptography.hazmat.primitives import hashes

        leaf, root = _load_chain(self.chain_path.read_bytes())[0], _load_chain(self.root_path.read_bytes())[0]
        return {
            "home": str(self.home),
            "subject": leaf.subject.rfc4514_string(),
            "issuer": leaf.issuer.rfc4514_string(),
            "valid_until": f"{leaf.not_valid_after_utc:%Y-%m-%d}",
            "root": root.subject.rfc4514_string(),
            "root_sha256": root.fingerprint(hashes.SHA256()).hex(),
            "key": str(self.key_path),
            "chain": str(self.chain_path),
            "trust_anchor": str(self.root_path),
        }


def identity_digest(home: str | os.PathLike | None = None) -> str | None:
    """SHA-256 over the identity's files, without loading them (None when there are none):
    what a cache of verifiers keys on, so a replaced identity is noticed."""
    import hashlib

    digest, found = hashlib.sha256(), False
    for path in identity_paths(home):
        try:
            digest.update(path.read_bytes())
            found = True
        except OSError:
            digest.update(b"-")
    return digest.hexdigest() if found else None


def _watermark_key(key) -> bytes:
    """32 bytes derived (HKDF-SHA256) from the private key: stable, secret, separate."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"trustgen watermark key v1").derive(der)


def _create(home: Path, *, force: bool) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    paths = identity_paths(home)
    if not force and any(p.exists() for p in paths):
        raise ConfigError(
            "a signing identity already exists here; pass --force to replace it", path=home
        )
    if home.exists() and not home.is_dir():
        raise ConfigError("is not a folder", path=home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)

    owner = f"{getpass.getuser()}@{socket.gethostname()}"
    org = "trustgen development (untrusted)"
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue(f"trustgen dev root CA ({owner})", org, root_key.public_key(), None, root_key,
                  ca=True, days=3650)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = _issue(f"trustgen dev intermediate CA ({owner})", org, int_key.public_key(), root,
                   root_key, ca=True, days=1825)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _issue(f"trustgen dev signer ({owner})", org, leaf_key.public_key(), inter, int_key,
                  ca=False, days=730)
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path, chain_path, root_path = paths
    _write_private(key_path, key_pem, mode=0o600)
    _write_private(chain_path, _pem_chain([leaf, inter]), mode=0o644)
    _write_private(root_path, _pem_chain([root]), mode=0o644)


def _issue(cn, org, public_key, issuer_cert, issuer_key, *, ca: bool, days: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
    ])
    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer_cert is None else issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        b = b.add_extension(
            x509.ExtendedKeyUsage([ObjectIdentifier(o) for o in SIGNING_EKUS]), critical=False
        )
    return b.sign(issuer_key, hashes.SHA256())


def _write_private(path: Path, data: bytes, *, mode: int) -> None:
    """Write with ``mode`` from the first byte (no window where a key is world-readable)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
