"""A real RFC 3161 time-stamp authority on 127.0.0.1, for tests.

It answers ``application/timestamp-query`` POSTs with a ``TimeStampResp`` whose token is a CMS
``SignedData`` over a ``TSTInfo`` (the request's message imprint and nonce, the current time),
signed by a TSA certificate made here with ``cryptography``: root CA -> TSA leaf with the
critical id-kp-timeStamping EKU that RFC 3161 requires. ``fail_next`` makes it answer the next
requests with HTTP ``fail_status`` and a ``fail_type`` body that is no time stamp (503,
text/plain unless set), to test retries and refusals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import itertools
import threading
from pathlib import Path

from asn1crypto import algos, cms, tsp, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The TSA policy it names: RFC 7229's test OID id-TEST-certPolicyOne.
POLICY = "1.3.6.1.5.5.7.13.1"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustgen tests")])


def _builder(subject: x509.Name, issuer: x509.Name, key) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


class TimeStampAuthority:
    """``with TimeStampAuthority(folder) as tsa:`` serves at ``tsa.url`` until the block ends;
    ``tsa.root`` is the PEM file of its root CA, ``tsa.requests`` counts the queries."""

    def __init__(self, folder: Path):
        root_key, self._key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
        root_name = _name("test time-stamp root")
        root = (_builder(root_name, root_name, root_key)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .sign(root_key, hashes.SHA256()))
        leaf = (_builder(_name("test time-stamp authority"), root_name, self._key)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                               critical=False)
                .sign(root_key, hashes.SHA256()))
        self._leaf_der = leaf.public_bytes(serialization.Encoding.DER)
        self._leaf = asn1_x509.Certificate.load(self._leaf_der)
        folder.mkdir(parents=True, exist_ok=True)
        self.root = folder / "tsa-root.pem"
        self.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        self.requests = 0
        self.fail_next = 0  # answer this many next queries with HTTP fail_status
        self.fail_status, self.fail_type = 503, "text/plain"
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    def __enter__(self) -> "TimeStampAuthority":
        authority = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with authority._lock:
                    authority.requests += 1
                    failing = authority.fail_next > 0
                    authority.fail_next -= failing
                if failing:
                    return self._answer(authority.fail_status, authority.fail_type, b"failing on purpose")
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    return self._answer(415, "text/plain", b"expected application/timestamp-query")
                try:
                    reply = authority.respond(body)
                except ValueError as err:
                    return self._answer(400, "text/plain", str(err).encode())
                self._answer(200, "application/timestamp-reply", reply)

            def _answer(self, status, content_type, payload):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, query: bytes) -> bytes:
        """The DER ``TimeStampResp`` granting a token for the DER ``TimeStampReq`` ``query``."""
        try:
            request = tsp.TimeStampReq.load(query).native  # all parsed: malformed is a 400
        except (ValueError, TypeError) as err:
            raise ValueError(f"not a TimeStampReq: {err}") from None
        info = {
            "version": "v1",
            "policy": request["req_policy"] or POLICY,
            "message_imprint": request["message_imprint"],
            "serial_number": next(self._serials),
            "gen_time": dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            "accuracy": {"seconds": 1},
        }
        if request["nonce"] is not None:
            info["nonce"] = request["nonce"]
        tst_info = tsp.TSTInfo(info)
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_info.dump()).digest()]},
            {"type": "signing_certificate_v2", "values": [{"certs": [{
                "hash_algorithm": {"algorithm": "sha256"},
                "cert_hash": hashlib.sha256(self._leaf_der).digest(),
            }]}]},
        ])
        signature = self._key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signed_data = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": tst_info},
            "certificates": [self._leaf] if request["cert_req"] else [],
            "signer_infos": [{
                "version": "v1",
                "sid": cms.SignerIdentifier("issuer_and_serial_number", {
                    "issuer": self._leaf.issuer, "serial_number": self._leaf.serial_number}),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attributes,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }],
        })
        return tsp.TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
        }).dump()


def unused_port_url() -> str:
    """A loopback URL on a port nothing listens on (bound once, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"
