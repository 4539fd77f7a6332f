"""Signers: PEM keys (plain or encrypted) and KMS/HSM callbacks, checked when made.

c2pa checks a certificate only when it signs, and then says little more than "the certificate
is invalid". So every signer is tried once on a tiny image when it is made: a certificate c2pa
refuses fails here, with c2pa's reason and our own diagnosis in one line, not halfway through
a batch of generated images.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import InputError, SigningError, one_line
from .trust import signer_eku_problem

#: Environment variable holding the passphrase of an encrypted PKCS#8 key.
PASSPHRASE_ENV = "TRUSTGEN_KEY_PASSPHRASE"

ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")

#: EKUs on the signing certificates trustgen makes (``keys init``); which EKUs may sign is
#: ``trust.signer_eku_problem``'s rule.
SIGNING_EKUS = ("1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.36", "1.3.6.1.4.1.62558.2.1")

# ----------------------------------------------------------------------------- signers


@dataclass(frozen=True, eq=False)
class SignerSpec:
    """Everything needed to make c2pa signers: algorithm, chain, and a key or a callback.

    c2pa-python does not promise that a native ``Signer`` may be used by two threads at once, and
    making one costs about as much as signing a small image, so each thread keeps one per spec.
    """

    alg: str
    chain_pem: bytes
    key_pem: bytes | None = field(default=None, repr=False)
    sign: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    tsa_url: str | None = None
    _local: threading.local = field(default_factory=threading.local, repr=False, init=False)

    def __post_init__(self) -> None:
        if (self.key_pem is None) == (self.sign is None):
            raise ValueError("a SignerSpec needs exactly one of key_pem or sign")

    def c2pa_signer(self):
        """This thread's c2pa ``Signer`` for this spec (made on first use)."""
        signer = getattr(self._local, "signer", None)
        if signer is None or not signer.is_valid:
            signer = self._local.signer = self._new_signer()
        return signer

    def _new_signer(self):
        import c2pa

        try:
            if self.sign is not None:
                return c2pa.Signer.from_callback(
                    self.sign, getattr(c2pa.C2paSigningAlg, self.alg.upper()),
                    self.chain_pem.decode("ascii"), self.tsa_url,
                )
            info = c2pa.C2paSignerInfo(
                self.alg.encode(), self.chain_pem, self.key_pem,
                None if self.tsa_url is None else self.tsa_url.encode(),
            )
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as err:
            raise SigningError(f"c2pa cannot make a signer: {one_line(err)}") from None

    @property
    def subject(self) -> str:
        """The leaf certificate's subject, for messages and ``keys show``."""
        return _load_chain(self.chain_pem)[0].subject.rfc4514_string()


def load_signer(
    key_path: str | os.PathLike,
    chain_path: str | os.PathLike,
    *,
    alg: str | None = None,
    passphrase: str | None = None,
    tsa_url: str | None = None,
) -> SignerSpec:
    """A signer from a PEM private key (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 too) and chain.

    The passphrase comes from the argument, else ``$TRUSTGEN_KEY_PASSPHRASE``. The algorithm
    follows from the key (EC P-256 -> es256, P-384 -> es384, RSA -> ps256, Ed25519 -> ed25519)
    unless given; a mismatch between key, certificate and algorithm is refused here.
    """
    key = load_private_key(key_path, passphrase=passphrase)
    return signer_for_key(key, key_path, chain_path, alg=alg, tsa_url=tsa_url)


def load_private_key(key_path: str | os.PathLike, *, passphrase: str | None = None):
    """A PEM private key, decrypted with ``passphrase`` else ``$TRUSTGEN_KEY_PASSPHRASE``."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    key_data = _read(key_path, "private key")
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        return serialization.load_pem_private_key(
            key_data, None if passphrase is None else passphrase.encode()
        )
    except TypeError:
        if passphrase is None:
            raise SigningError(
                f"private key is encrypted; set {PASSPHRASE_ENV} or enter the passphrase",
                path=key_path,
            ) from None
        return serialization.load_pem_private_key(key_data, None)  # given but not needed
    except ValueError:
        what = "wrong passphrase, or " if passphrase is not None else ""
        raise SigningError(f"{what}not a PEM private key c2pa can use", path=key_path) from None
    except UnsupportedAlgorithm as err:
        raise SigningError(f"cannot load private key: {err}", path=key_path) from None


def signer_for_key(key, key_path, chain_path, *, alg: str | None = None,
                   tsa_url: str | None = None) -> SignerSpec:
    """A checked signer for a loaded private key and the chain file it must match."""
    from cryptography.hazmat.primitives import serialization

    key_alg = _alg_for_key(key)
    if key_alg is None:
        raise SigningError(
            f"{type(key).__name__} keys cannot sign C2PA manifests; use EC P-256/384/521, "
            "RSA >= 2048 bits or Ed25519", path=key_path,
        )
    alg = _check_alg(alg, key_alg, key_path)
    chain = _load_chain(_read(chain_path, "certificate chain"), path=chain_path)
    spki = _spki_args()
    if chain[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise SigningError(
            f"private key {Path(key_path).name} does not match the first certificate "
            "(the signing certificate must come first)", path=chain_path,
        )
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spec = SignerSpec(alg=alg, chain_pem=_pem_chain(chain), key_pem=pkcs8, tsa_url=_tsa(tsa_url))
    check_signer(spec, chain_path=chain_path)
    return spec


def callback_signer(
    sign: Callable[[bytes], bytes],
    chain_pem: bytes,
    *,
    alg: str,
    tsa_url: str | None = None,
) -> SignerSpec:
    """A signer whose private key never leaves a KMS or HSM.

    ``sign(data) -> signature`` is called once per manifest (and once here, to check the
    chain). ECDSA signatures may be DER or raw r||s; RSA must be PSS with the algorithm's
    hash and a salt as long as the hash; Ed25519 the 64 raw bytes.
    """
    if not callable(sign):
        raise TypeError("sign must be a callable taking bytes and returning bytes")
    alg = _check_alg(alg, None, None)
    chain = _load_chain(chain_pem)
    spec = SignerSpec(alg=alg, chain_pem=_pem_chain(chain), sign=sign, tsa_url=_tsa(tsa_url))
    check_signer(spec)
    return spec


def check_signer(spec: SignerSpec, *, chain_path: str | os.PathLike | None = None) -> None:
    """Sign a tiny image once, so a certificate c2pa refuses is refused now, in one line; then
    refuse what c2pa lets through but no verifier should trust (a time-stamping certificate)."""
    from .sign import probe_sign
    from .timestamp import TimeStampError

    chain = _load_chain(spec.chain_pem)
    try:
        probe_sign(spec)
    except TimeStampError:
        raise  # the authority's failure, already named: not the certificate's
    except SigningError as err:
        hint = diagnose_chain(chain)
        reason = err.message + (f" ({hint})" if hint else "")
        raise SigningError(f"c2pa refuses this signing certificate: {reason}", path=chain_path) from None
    problem = signer_eku_problem(chain[0])
    if problem:
        raise SigningError(f"trustgen refuses this signing certificate: {problem}", path=chain_path)


def diagnose_chain(chain: list) -> str | None:
    """Our own reading of why c2pa would refuse a chain; None when we see nothing wrong."""
    from cryptography import x509

    leaf = chain[0]
    now = _dt.datetime.now(_dt.timezone.utc)
    if leaf.not_valid_after_utc < now:
        return f"the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}"
    if leaf.not_valid_before_utc > now:
        return f"the signing certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
    if leaf.version != x509.Version.v3:
        return "the signing certificate is not X.509 v3"
    ext = leaf.extensions
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            return "the signing certificate is a CA (basicConstraints CA:true); sign with an end-entity certificate"
    except x509.ExtensionNotFound:
        pass
    if leaf.issuer == leaf.subject:
        return "the signing certificate is self-signed; c2pa needs a leaf issued by a CA"
    eku_problem = signer_eku_problem(leaf)
    if eku_problem:
        return eku_problem
    try:
        if not ext.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return "key usage lacks digitalSignature"
    except x509.ExtensionNotFound:
        return "no key usage extension (needs digitalSignature)"
    try:
        ext.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return "the signing certificate has no authority key identifier"
    if len(chain) < 2:
        return "the chain holds only the signing certificate; append its intermediate(s)"
    return None


# ----------------------------------------------------------------------------- helpers

def _spki_args() -> tuple:
    from cryptography.hazmat.primitives import serialization

    return (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path, what: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found", path=p)
    if p.is_dir():
        raise InputError(f"{what} path is a directory", path=p)
    try:
        return p.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror or err}", path=p) from None


def key_is_encrypted(key_path: str | os.PathLike) -> bool:
    """Whether a PEM key needs a passphrase (the CLI asks for one only then)."""
    head = _read(key_path, "private key")[:4096]
    return b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head


def _alg_for_key(key) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256" if key.key_size >= 2048 else None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    return None


def _check_alg(alg: str | None, key_alg: str | None, key_path) -> str:
    if alg is None:
        if key_alg is None:
            raise SigningError("name the signing algorithm")
        return key_alg
    alg = alg.lower().replace("-", "")
    if alg not in ALGORITHMS:
        raise SigningError(f"unknown signing algorithm {alg!r}; use one of {', '.join(ALGORITHMS)}")
    if key_alg is not None:
        family_ok = alg[:2] == key_alg[:2] and (alg[:2] == "ps" or alg == key_alg)
        if not family_ok:
            raise SigningError(f"algorithm {alg} does not fit this key (a {key_alg} key)", path=key_path)
    return alg


def _load_chain(chain_pem: bytes, *, path=None) -> list:
    from cryptography import x509

    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise SigningError("no PEM certificates in certificate chain", path=path) from None
    if not chain:
        raise SigningError("no PEM certificates in certificate chain", path=path)
    return chain


def _pem_chain(certs) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _tsa(url: str | None) -> str | None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise SigningError(f"time-stamp authority URL must be http(s): {url!r}")
    return url
