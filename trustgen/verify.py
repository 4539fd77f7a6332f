"""Gather every signal about an image and ask a policy for one verdict.

A ``Verifier`` resolves everything expensive once (trust anchors, watermark keys, the detector
network) so that a moderation worker or a batch run pays only for the per-image work, and holds
no per-call state, so one instance can be shared by threads. Each signal is ``None`` in the
evidence when it was not checked, which a policy reports differently from "checked, nothing found".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from typing import Any, Sequence

from ._version import __version__
from .errors import ConfigError, DependencyError, InputError, WatermarkError
from .evidence import DetectorEvidence, Evidence, Verdict
from .imageio import decode_image, format_for_path, read_file, sha256_hex, sniff_format
from .policy import Policy

__all__ = ["Verdict", "Verifier", "verify"]


class Verifier:
    """Verify many images under one policy.

    ``trust`` (a ``TrustConfig``) and ``watermark_keys`` add to what the policy names (an EKU
    list in ``trust`` replaces the policy's, so that it can narrow it); the local
    identity's root and watermark key are added when the policy's ``local_identity`` /
    ``local_identity_key`` say so and an identity exists. ``detector`` is ``True`` (load the
    shipped detector if the policy enables it), ``False`` (never run it), or a fitted
    ``SyntheticImageDetector``.
    """

    def __init__(
        self,
        policy: "str | os.PathLike | Policy" = "default",
        *,
        trust=None,
        watermark_keys: Sequence[bytes] = (),
        detector: Any = True,
    ):
        from .credentials.trust import TrustConfig

        self.policy = Policy.load(policy)
        p = self.policy
        identity = _local_identity() if (p.local_identity or p.watermark_local_key) else None

        try:
            combined = TrustConfig.from_files(p.trust_anchors, allow_remote=p.allow_remote)
        except ConfigError as err:
            raise p.field_error("trust", "anchors", str(err)) from None
        if trust is not None:
            combined = combined.merged(trust)
        if identity is not None and p.local_identity:
            combined = combined.merged(TrustConfig.for_identity(identity))
        # accepted EKUs: the caller's explicit list (--trust-config), else the policy's, else
        # the default; a narrower list must narrow, so lists are never merged here
        ekus = (trust.eku_oids if trust is not None else None) or p.ekus or None
        self.trust = dataclasses.replace(combined, eku_oids=ekus, ocsp=p.ocsp or combined.ocsp)

        self.watermark_keys: tuple[bytes, ...] = ()
        self.watermark_schemes: tuple[str, ...] | None = None
        if p.watermark:
            from .watermark import read_key_file

            keys = list(watermark_keys) + [read_key_file(f) for f in p.watermark_key_files]
            if identity is not None and p.watermark_local_key:
                local = _identity_key(identity)
                keys += [local] if local else []
            self.watermark_keys = tuple(dict.fromkeys(keys))
            self.watermark_schemes = _check_schemes(p)

        self.detector = None
        self.detector_threshold: float | None = None
        if p.detector and detector is not False and detector is not None:
            self.detector = _load_detector() if detector is True else detector
            self.detector_threshold = _threshold(self.detector, p)

    # -- the per-image work -------------------------------------------------------------------

    def verify(self, path: str | os.PathLike, *, detached: bytes | None = None) -> Verdict:
        """The verdict for one file; an unreadable file is an ``error`` verdict, not an exception."""
        try:
            data = read_file(path)
        except InputError as err:
            return self.error(path, str(err))
        return self.verify_bytes(data, filename=str(path), detached=detached)

    def verify_bytes(self, data: bytes, filename: str | None = None, *,
                     detached: bytes | None = None) -> Verdict:
        """The verdict for an image held in memory (an upload); ``filename`` only names it.

        Any failure inside a reader or decoder, expected or not, becomes an ``error`` verdict:
        a moderation worker or a batch must never die on one hostile file.
        """
        try:
            return self._verify_bytes(data, filename, detached)
        except Exception as err:  # noqa: BLE001 - see the docstring
            where = f"{filename}: " if filename else ""
            return self.error(filename, f"{where}verification crashed: {type(err).__name__}: {err}")

    def _verify_bytes(self, data: bytes, filename: str | None, detached: bytes | None) -> Verdict:
        from .credentials.read import read_credentials

        fmt = sniff_format(data) or (format_for_path(filename) if filename else None)
        manifest = read_credentials(data, fmt=fmt, trust=self.trust, path=filename, detached=detached)
        base = Evidence(path=filename, sha256=sha256_hex(data), c2pa=manifest)
        try:
            image = decode_image(data, path=filename)
        except InputError as err:
            return self.policy.decide(dataclasses.replace(base, error=str(err)))
        if image.mode != "RGB":  # via RGBA so palette transparency converts without a warning
            image = image.convert("RGBA" if image.mode == "P" else image.mode).convert("RGB")
        return self.policy.decide(dataclasses.replace(
            base, watermark=self._watermark(image), detector=self._detect(image),
        ))

    def error(self, path: str | os.PathLike | None, message: str) -> Verdict:
        """The policy's verdict for a file that could not be verified at all."""
        return self.policy.decide(Evidence(path=None if path is None else str(path), error=message))

    def _watermark(self, image):
        if not self.policy.watermark:
            return None
        from .watermark import detect

        try:
            return detect(image, keys=self.watermark_keys, schemes=self.watermark_schemes)
        except WatermarkError:
            return None  # the image cannot carry a mark (too small): not checked, not "absent"

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
            "schemes": self.watermark_schemes,
            "detector": None if self.detector is None  # calibration changes with every retrain
            else [str(self.detector.model_id), self.detector_threshold,
                  getattr(self.detector, "calibration_", None)],
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


_SHARED: dict[tuple, Verifier] = {}
_SHARED_LOCK = threading.Lock()


def verify(source: "str | os.PathLike | bytes", *, policy: "str | os.PathLike" = "default") -> Verdict:
    """One verdict for a file path or image bytes; reuses one ``Verifier`` per policy (and per
    local identity, so one created later, e.g. by ``trustgen keys init``, is picked up)."""
    identity = _local_identity()
    root = None if identity is None else identity.root_path
    loaded = Policy.load(policy)  # cheap; an edited or different file of the same name is new
    key = (loaded.digest, loaded.trust_anchors, loaded.watermark_key_files,
           None if root is None else (str(root), root.stat().st_mtime_ns))
    with _SHARED_LOCK:
        verifier = _SHARED.get(key)
        if verifier is None:
            verifier = _SHARED[key] = Verifier(loaded)
    if isinstance(source, (bytes, bytearray)):
        return verifier.verify_bytes(bytes(source))
    return verifier.verify(source)


# -- loading helpers ---------------------------------------------------------------------------


def _local_identity():
    from .credentials.keys import load_identity

    try:
        return load_identity()
    except ConfigError:
        return None


def _identity_key(identity) -> bytes | None:
    """The identity's watermark key; an encrypted signing key just means no local key here."""
    try:
        return identity.watermark_key
    except (TypeError, ValueError, OSError):
        return None


def _check_schemes(policy: Policy) -> tuple[str, ...] | None:
    if policy.watermark_schemes is None:
        return None
    from .watermark import SCHEMES

    unknown = [s for s in policy.watermark_schemes if s not in SCHEMES]
    if unknown:
        raise policy.field_error(
            "watermark", "schemes", f"unknown scheme {unknown[0]!r}; known: {', '.join(SCHEMES)}")
    return policy.watermark_schemes


def _load_detector():
    try:
        from detectors import SyntheticImageDetector
    except ImportError as err:
        raise DependencyError(
            f"the synthetic-image detector cannot be loaded ({err}); pass detector=False "
            "(--no-detector) to verify without it"
        ) from None
    return SyntheticImageDetector.load()


def _threshold(detector, policy: Policy) -> float:
    """The policy's threshold, else the one for its target FPR, else the model's calibrated one."""
    if policy.detector_threshold is not None:
        return policy.detector_threshold
    fpr = policy.detector_target_fpr
    if fpr is None:
        return float(detector.threshold_)
    try:
        return float(detector.threshold_at_fpr(fpr))
    except ValueError as err:
        raise policy.field_error("detector", "target_fpr",
                                 f"{err}; set detector.threshold instead") from None
