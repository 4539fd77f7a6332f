"""Gather every signal about a file and ask a policy for one verdict.

A ``Verifier`` resolves everything expensive once (trust anchors, watermark keys, the detector
network) so that a moderation worker or a batch run pays only for the per-file work, and holds
no per-call state, so one instance can be shared by threads. It only gathers: what to gather
comes from ``Policy.gather``, and ``Policy.decide`` judges. Each signal is ``None`` in the
evidence when it was not checked, which a policy reports differently from "checked, nothing found".
Configuration errors (an unknown scheme, a short key, an unreadable anchor) raise when the
``Verifier`` is built, never as "not checked" on every file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from typing import Any, Sequence

from ._version import __version__
from .errors import DependencyError, file_error
from .evidence import DetectorEvidence, Evidence, Verdict
from .media import MediaFile, decode_image, format_for_path, load, sha256_hex, sniff_format
from .policy import Policy

__all__ = ["Verdict", "Verifier", "verify"]


class Verifier:
    """Verify many files under one policy.

    ``trust`` (a ``TrustConfig``) and ``watermark_keys`` add to what the policy names (an EKU
    list in ``trust`` replaces the policy's, so that it can narrow it). ``identity`` is the local
    ``Identity`` whose root and watermark key the policy's ``local_identity`` /
    ``local_identity_key`` add; by default it is found in ``TRUSTGEN_HOME``. ``detector`` is
    ``True`` (load the shipped detector if the policy enables it), ``False`` (never run it), or
    a fitted detector object.
    """

    def __init__(
        self,
        policy: "str | os.PathLike | Policy" = "default",
        *,
        trust=None,
        watermark_keys: Sequence[bytes] = (),
        detector: Any = True,
        identity=None,
    ):
        from . import watermark
        from .credentials.identity import Identity
        from .credentials.trust import TrustConfig

        self.policy = Policy.load(policy)
        gather = self.policy.gather
        if identity is None and (gather.local_identity or gather.watermark_local_key):
            identity = Identity.find()

        combined = gather.trust
        if trust is not None:
            combined = combined.merged(trust)
        if identity is not None and gather.local_identity:
            combined = combined.merged(TrustConfig.for_identity(identity))
        # accepted EKUs: the caller's explicit list (--trust-config), else the policy's, else
        # the default; a narrower list must narrow, so lists are never merged here
        ekus = (trust.eku_oids if trust is not None else None) or gather.trust.eku_oids
        self.trust = dataclasses.replace(combined, eku_oids=ekus)

        self.watermark_keys: tuple[bytes, ...] = ()
        if gather.watermark:
            keys = [*watermark.check_keys(watermark_keys), *gather.watermark_keys]
            if identity is not None and gather.watermark_local_key:
                keys.append(identity.watermark_key)
            self.watermark_keys = tuple(dict.fromkeys(keys))

        self.detector = None
        self.detector_threshold: float | None = None
        if gather.detector and detector is not False and detector is not None:
            self.detector = _load_detector() if detector is True else detector
            self.detector_threshold = _threshold(self.detector, self.policy)

    @classmethod
    def from_options(cls, policy="default", *, trust_anchors=(), trust_config=None,
                     allow_remote: bool = False, detector: Any = True) -> "Verifier":
        """A verifier from command-line style options: anchor and EKU files, switches."""
        from .credentials.trust import TrustConfig

        trust = None
        if trust_anchors or trust_config or allow_remote:
            trust = TrustConfig.from_files(trust_anchors, trust_config, allow_remote=allow_remote)
        return cls(policy, trust=trust, detector=detector)

    # -- the per-file work ---------------------------------------------------------------------

    def verify(self, source: "str | os.PathLike | MediaFile", *, detached: bytes | None = None) -> Verdict:
        """The verdict for a file (a path, or a ``MediaFile`` already read and hashed); an
        unreadable file is an ``error`` verdict, not an exception."""
        if not isinstance(source, MediaFile):
            try:
                source = load(source)
            except Exception as err:  # noqa: BLE001 - see verify_bytes
                return self.error(source, str(file_error(err, source)))
        return self.verify_bytes(source.data, filename=str(source.path), detached=detached,
                                 sha256=source.sha256)

    def verify_bytes(self, data: bytes, filename: str | None = None, *,
                     detached: bytes | None = None, sha256: str | None = None) -> Verdict:
        """The verdict for a file held in memory (an upload); ``filename`` only names it, and
        ``sha256`` saves hashing it again when the caller already did.

        Any failure inside a reader or decoder, expected or not, becomes an ``error`` verdict:
        a moderation worker or a batch must never die on one hostile file.
        """
        try:
            return self._verify_bytes(data, filename, detached, sha256 or sha256_hex(data))
        except Exception as err:  # noqa: BLE001 - see the docstring
            return self.error(filename, str(file_error(err, filename, "verification")))

    def _verify_bytes(self, data: bytes, filename: str | None, detached: bytes | None,
                      sha256: str) -> Verdict:
        from .credentials.read import read_credentials

        fmt = sniff_format(data) or (format_for_path(filename) if filename else None)
        manifest = read_credentials(data, fmt=fmt, trust=self.trust, path=filename, detached=detached)
        evidence = Evidence(path=filename, sha256=sha256, c2pa=manifest)
        try:  # the pixel signals, each kept as it is read: a crash in one keeps the others
            image = decode_image(data, path=filename, rgb=True)
            evidence = dataclasses.replace(evidence, watermark=self._watermark(image))
            evidence = dataclasses.replace(evidence, detector=self._detect(image))
        except Exception as err:  # noqa: BLE001 - see verify_bytes
            failure = file_error(err, filename, "verification")
            evidence = dataclasses.replace(evidence, error=str(failure))
        return self.policy.decide(evidence)

    def error(self, path: str | os.PathLike | None, message: str) -> Verdict:
        """The policy's verdict for a file that could not be verified at all."""
        return self.policy.decide(Evidence(path=None if path is None else str(path), error=message))

    def _watermark(self, image):
        if not self.policy.gather.watermark:
            return None
        from .watermark import detect

        return detect(image, keys=self.watermark_keys, schemes=self.policy.gather.watermark_schemes)

    def _detect(self, image) -> DetectorEvidence | None:
        if self.detector is None:
            return None
        probability = float(self.detector.predict_proba([image])[0, 1])
        return DetectorEvidence(probability, self.detector_threshold, str(self.detector.model_id))

    # -- identity of this configuration --------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        """Changes whenever a verdict could: policy text, anchors, keys, detector, version."""
        parts = {
            "version": __version__,
            "policy": self.policy.digest or self.policy.name,
            "anchors": hashlib.sha256(self.trust.anchors_pem.encode()).hexdigest(),
            "ekus": list(self.trust.accepted_ekus),
            "network": [self.trust.allow_remote, self.trust.ocsp],
            "keys": [hashlib.sha256(k).hexdigest() for k in self.watermark_keys],
            "schemes": self.policy.gather.watermark_schemes,
            "detector": None if self.detector is None  # calibration changes with every retrain
            else [str(self.detector.model_id), self.detector_threshold,
                  getattr(self.detector, "calibration_", None)],
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


_SHARED: dict[tuple, Verifier] = {}
_SHARED_LOCK = threading.Lock()


def verify(source: "str | os.PathLike | bytes", *, policy: "str | os.PathLike" = "default") -> Verdict:
    """One verdict for a file path or file bytes. Verifiers are reused, keyed on content: the
    policy's text and the anchors and keys it loaded, and the local identity's files (so one
    created or replaced later, e.g. by ``trustgen keys init``, is picked up)."""
    from .credentials.identity import identity_digest

    loaded = Policy.load(policy)
    key = (loaded.digest, loaded.gather.trust, loaded.gather.watermark_keys, identity_digest())
    with _SHARED_LOCK:
        verifier = _SHARED.get(key)
        if verifier is None:
            verifier = _SHARED[key] = Verifier(loaded)
    if isinstance(source, (bytes, bytearray)):
        return verifier.verify_bytes(bytes(source))
    return verifier.verify(source)


# -- loading helpers ---------------------------------------------------------------------------

#: Where trustgen finds the synthetic-image detector (the ``detectors`` package registers it).
DETECTOR_ENTRY_POINTS = "trustgen.detectors"


def _load_detector():
    from importlib.metadata import entry_points

    found = entry_points(group=DETECTOR_ENTRY_POINTS, name="default")
    if not found:
        raise DependencyError(
            "no synthetic-image detector is installed; pass detector=False (--no-detector) to "
            "verify without it")
    try:
        loader = next(iter(found)).load()
    except ImportError as err:
        raise DependencyError(
            f"the synthetic-image detector cannot be loaded ({err}); pass detector=False "
            "(--no-detector) to verify without it") from None
    return loader()


def _threshold(detector, policy: Policy) -> float:
    """The policy's threshold, else the one for its target FPR, else the model's calibrated one."""
    judge = policy.judge
    if judge.detector_threshold is not None:
        return judge.detector_threshold
    if judge.detector_target_fpr is None:
        return float(detector.threshold_)
    try:
        return float(detector.threshold_at_fpr(judge.detector_target_fpr))
    except ValueError as err:
        raise policy.field_error("detector", "target_fpr",
                                 f"{err}; set detector.threshold instead") from None
