"""Sign with a key that never leaves a KMS or HSM: trustgen only sees a ``sign(bytes)`` callable.

Run: ``python examples/kms_signer.py [OUTPUT.png]`` (default: ``kms-signed.png`` in the system's
temporary folder, so the checkout stays as it was). ``FakeKms`` stands in for a real client
(AWS KMS ``sign(KeyId, Message, SigningAlgorithm="ECDSA_SHA_256")``, Google Cloud KMS
``asymmetric_sign``, a PKCS#11 session); like them it returns a DER-encoded ECDSA signature.
The certificate chain for the KMS key is ordinary PEM that your CA issued; here a throwaway
development identity provides one.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from trustgen.credentials import Identity
from trustgen.credentials.keys import callback_signer
from trustgen.credentials.read import read_credentials
from trustgen.credentials.sign import sign_image
from trustgen.credentials.trust import TrustConfig


class FakeKms:
    """Holds the private key; callers can only ask it to sign."""

    def __init__(self, key_pem: bytes):
        self._key = serialization.load_pem_private_key(key_pem, None)
        self.calls = 0

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))


def main(output: Path) -> int:
    with tempfile.TemporaryDirectory() as home:
        identity = Identity.init(Path(home) / "identity")
        kms = FakeKms(identity.key_path.read_bytes())
        signer = callback_signer(kms.sign, identity.chain_path.read_bytes(), alg="es256")

        buf = io.BytesIO()
        Image.radial_gradient("L").convert("RGB").resize((256, 256)).save(buf, "PNG")
        signed = sign_image(buf.getvalue(), "png", signer, source_type="digitalCreation",
                            title=output.name)
        output.write_bytes(signed)

        result = read_credentials(signed, trust=TrustConfig.for_identity(identity))
    print(f"{output}: C2PA {result.state}, signed by {result.signer.common_name} "
          f"({result.signer.algorithm}), {kms.calls} KMS signing call(s)")
    return 0 if result.state == "trusted" else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "kms-signed.png"))
