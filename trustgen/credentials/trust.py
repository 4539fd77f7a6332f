"""Who a verifier trusts, passed in explicitly: anchors, accepted EKUs, network switches.

c2pa has no trust anchors built in, so a reading with an empty ``TrustConfig`` can at best be
``valid``: nobody sees ``trusted`` for a signer nobody chose to trust. Remote manifests and OCSP
are off unless asked for, so verification works offline and leaks nothing by default.

c2pa-rs accepts emailProtection, timeStamping and OCSPSigning on a signer whatever list it is
given, so its EKU list cannot narrow. trustgen therefore checks the signing certificate itself
(``signer_eku_problem``) against the accepted list less the responder EKUs: c2pa checks
time-stamp and OCSP responder certificates with the same list, which is why the default list
names timeStamping and OCSPSigning, but a responder certificate is not a content signer, under
the default list or any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError

_EKU_NAMES = {  # the names messages give
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "1.3.6.1.4.1.62558.2.1": "C2PA claim signing",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "1.3.6.1.4.1.311.76.59.1.9": "Microsoft C2PA signing",
}
#: Extended key usages accepted on signing certificates (and on the time-stamp and OCSP
#: responder certificates c2pa checks with the same list).
DEFAULT_EKUS = tuple(_EKU_NAMES)
#: EKUs of time-stamp and OCSP responders: never enough for a content signer.
RESPONDER_EKUS = ("1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9")
_ANY_EKU = "2.5.29.37.0"

_BEGIN, _END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def signer_eku_problem(cert, accepted: Iterable[str] = DEFAULT_EKUS) -> str | None:
    """Why ``cert`` (a ``cryptography`` certificate) may not sign content under the ``accepted``
    EKU list; None when it may. The one rule, for making a signer and for trusting one."""
    from cryptography import x509

    signing = [o for o in accepted if o not in RESPONDER_EKUS]
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "the signing certificate has no extended key usage extension"
    found = [o.dotted_string for o in usage]
    if _ANY_EKU in found:
        return "the signing certificate has anyExtendedKeyUsage, which is not accepted"
    if set(found) & set(signing):
        return None
    has = ", ".join(_EKU_NAMES.get(o, o) for o in found) or "none"
    wanted = ", ".join(_EKU_NAMES.get(o, o) for o in signing) or "none"
    return f"the signing certificate's extended key usage ({has}) is not one accepted for signers ({wanted})"


def _certificates(text: str, path: str | Path | None = None) -> list[str]:
    """The PEM certificate blocks in ``text``, each parsed: a corrupt or unterminated block is an
    error naming its line, never a certificate silently left out of the trust list."""
    from cryptography import x509

    blocks, at, line, counted = [], 0, 1, 0
    while (start := text.find(_BEGIN, at)) >= 0:
        end = text.find(_END, start)
        following = text.find(_BEGIN, start + len(_BEGIN))
        line, counted = line + text.count("\n", counted, start), start
        if end < 0 or 0 <= following < end:
            raise ConfigError(f"line {line}: PEM certificate block has no END CERTIFICATE line", path=path)
        at = end + len(_END)
        block = text[start:at]
        try:
            x509.load_pem_x509_certificate(block.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(f"line {line}: PEM certificate block is not a readable certificate",
                              path=path) from None
        blocks.append(block)
    return blocks


def _read_text(path: str | Path, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} not found" if not p.exists() else f"{what} is not a file", path=p)
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {what}: {err}", path=p) from None


def parse_eku_list(text: str, *, path: str | Path | None = None) -> tuple[str, ...]:
    """c2pa's trust-config format: one OID a line; ``//`` and ``#`` start comments."""
    oids: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].split("#", 1)[0].strip()
        if not line:
            continue
        if not _OID.match(line):
            raise ConfigError(f"line {lineno}: {line!r} is not an OID", path=path)
        if line not in oids:
            oids.append(line)
    if not oids:
        raise ConfigError("no extended key usage OIDs in trust configuration", path=path)
    return tuple(oids)


@dataclass(frozen=True)
class TrustConfig:
    """What a verifier trusts. Hashable, so readers can cache one c2pa context per config."""

    anchors_pem: str = ""
    #: Accepted EKUs; ``None`` means not chosen here (``DEFAULT_EKUS`` unless a policy chooses).
    eku_oids: tuple[str, ...] | None = None
    allow_remote: bool = False
    ocsp: bool = False

    @property
    def accepted_ekus(self) -> tuple[str, ...]:
        return self.eku_oids or DEFAULT_EKUS

    @classmethod
    def from_files(
        cls,
        anchors: Iterable[str | Path] = (),
        trust_config: str | Path | None = None,
        *,
        allow_remote: bool = False,
    ) -> "TrustConfig":
        """Anchors from PEM bundles (each must hold a certificate), EKUs from a c2pa store.cfg."""
        certs: list[str] = []
        for path in anchors:
            found = _certificates(_read_text(path, "trust anchor file"), path)
            if not found:
                raise ConfigError("no PEM certificate in trust anchor file", path=path)
            certs.extend(c for c in found if c not in certs)
        ekus = None
        if trust_config is not None:
            ekus = parse_eku_list(_read_text(trust_config, "trust configuration"), path=trust_config)
        return cls(anchors_pem="\n".join(certs), eku_oids=ekus, allow_remote=allow_remote)

    @classmethod
    def for_identity(cls, identity) -> "TrustConfig":
        """Trust exactly the root of a local signing identity (``trustgen keys init``)."""
        return cls.from_files([identity.root_path])

    def merged(self, other: "TrustConfig") -> "TrustConfig":
        """Union of anchors and of chosen EKU lists; a network switch is on if either side
        turned it on."""
        certs = _certificates(self.anchors_pem)
        certs += [c for c in _certificates(other.anchors_pem) if c not in certs]
        ekus = self.eku_oids
        if other.eku_oids is not None:
            ekus = tuple(dict.fromkeys((self.eku_oids or ()) + other.eku_oids))
        return TrustConfig(
            anchors_pem="\n".join(certs),
            eku_oids=ekus,
            allow_remote=self.allow_remote or other.allow_remote,
            ocsp=self.ocsp or other.ocsp,
        )

    @property
    def anchor_count(self) -> int:
        return len(_certificates(self.anchors_pem))

    def c2pa_settings(self) -> dict:
        """The settings document c2pa's Context takes for reading under this trust."""
        trust = {"trust_config": "\n".join(self.accepted_ekus) + "\n"}
        if self.anchors_pem:
            trust["trust_anchors"] = self.anchors_pem + "\n"
        return {
            "trust": trust,
            "verify": {
                "verify_trust": True,
                "remote_manifest_fetch": self.allow_remote,
                "ocsp_fetch": self.ocsp,
            },
        }
