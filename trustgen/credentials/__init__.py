"""Content credentials (C2PA): the only package that imports c2pa, and only inside functions.

Identities and signers (``Identity``, ``load_signer``, ``callback_signer``), signing
(``sign_image``, ``sign_generated``, ``sign_file``), reading (``read_credentials``) and who is
trusted (``TrustConfig``).
"""

from .identity import Identity
from .keys import SignerSpec, callback_signer, load_signer
from .read import read_credentials, read_credentials_file
from .sign import sign_file, sign_generated, sign_image
from .trust import TrustConfig

__all__ = [
    "Identity", "SignerSpec", "TrustConfig", "callback_signer", "load_signer", "read_credentials",
    "read_credentials_file", "sign_file", "sign_generated", "sign_image",
]
