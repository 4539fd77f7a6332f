"""Gather every signal about a file and ask a policy for one verdict.

A ``Verifier`` resolves everything expensive once (trust anchors, watermark keys, the detector
network) so that a moderation worker or a batch run pays only for the per-file work, and holds
no per-call state, so one instance can be shared by threads. It only gathers: what to gather
comes from ``Policy.gather``, and ``Policy.decide`` judges. Each signal is ``None`` in the
evidence when it was not checked, which a policy reports differently from "checked, nothing found".
Configuration errors (an unknown scheme, a short key, an unreadable anchor) raise when the
``Verifier`` is built, never as "not checked" on every file.

A file without usable embedded credentials (none, or stripped) is looked up in manifest stores
by its watermark and fingerprint (``recovery.recover``); a store that cannot be opened or asked
is named in ``RecoveryEvidence.unavailable`` and the verdict comes from the other signals.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from typing import Any, Sequence

from ._version import __version__
from .errors import DependencyError, file_error
from .evidence import DetectorEvidence, Evidence, RecoveryEvidence, Verdict
from .media import MediaFile, decode_image, decodes, identify, load, lookup, sha256_hex
from .policy import Policy

__all__ = ["Verdict", "Verifier", "verify"]


class Verifier:
    """Verify many files under one policy.

    ``trust`` (a ``TrustConfig``) and ``watermark_keys`` add to what the policy names (an EKU
    list in ``trust`` replaces the policy's, so that it can narrow it). ``identity`` is the local
    ``Identity`` whose root and watermark key the policy's ``local_identity`` /
    ``local_identity_key`` add; by default it is found in ``TRUSTGEN_HOME``. ``detector`` is
    ``True`` (load the shipped detector if the policy enables it), ``False`` (never run it), or
    a fitted detector object. ``detailed`` adds the whole manifest store, as c2patool shows it,
    to each verdict's evidence (``Evidence.manifest``).

    ``stores`` are the manifest stores (paths or URLs) a file without usable embedded
    credentials is looked up in, instead of the local one (``manifests.db`` in ``TRUSTGEN_HOME``,
    when it exists); the policy's ``[store] url`` and ``resolvers`` and ``resolvers`` here are
    asked too. ``use_stores=False``, or a policy with ``[store] enabled = false``, looks nothing up.
    """

    #: Seconds before a store that could not be opened is tried again.
    STORE_RETRY_S = 30.0

    def __init__(
        self,
        policy: "str | os.PathLike | Policy" = "default",
        *,
        trust=None,
        watermark_keys: Sequence[bytes] = (),
        detector: Any = True,
        identity=None,
        detailed: bool = False,
        stores: Sequence[str | os.PathLike] | None = None,
        resolvers: Sequence[str] = (),
        use_stores: bool = True,
    ):
        from . import watermark
        from .credentials.identity import Identity
        from .credentials.trust import TrustConfig

        self.policy = Policy.load(policy)
        self.detailed = detailed
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

        self.store_urls: tuple[str, ...] = ()
        self.resolvers: tuple[str, ...] = ()
        if use_stores and gather.store:
            from .store import default_path

            local = [os.fspath(s) for s in stores] if stores is not None else (
                [str(default_path())] if default_path().is_file() else [])
            self.store_urls = tuple(dict.fromkeys([*local, *([gather.store_url] if gather.store_url else [])]))
            self.resolvers = tuple(dict.fromkeys([*gather.resolvers, *resolvers]))
        self._opened: dict[str, Any] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._store_lock = threading.Lock()

    @classmethod
    def from_options(cls, policy="default", *, trust_anchors=(), trust_config=None,
                     allow_remote: bool = False, detector: Any = True,
                     detailed: bool = False, stores=None, resolvers=(),
                     use_stores: bool = True) -> "Verifier":
        """A verifier from command-line style options: anchor and EKU files, switches."""
        from .credentials.trust import TrustConfig

        trust = None
        if trust_anchors or trust_config or allow_remote:
            trust = TrustConfig.from_files(trust_anchors, trust_config, allow_remote=allow_remote)
        return cls(policy, trust=trust, detector=detector, detailed=detailed, stores=stores,
                   resolvers=resolvers, use_stores=use_stores)

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
        from .credentials.read import read_manifest

        fmt = identify(data, filename)
        manifest, detail = read_manifest(data, fmt=fmt, trust=self.trust, path=filename,
                                         detached=detached, detailed=self.detailed)
        evidence = Evidence(path=filename, sha256=sha256, c2pa=manifest, manifest=detail)
        known = lookup(fmt)
        if known is not None and not decodes(known.name):  # a PDF, a video: no pixels to check
            return self.policy.decide(evidence, no_pixels=f"{known.name} {known.kind}")
        try:  # the pixel signals, each kept as it is read: a crash in one keeps the others
            image = decode_image(data, path=filename, rgb=True)
            evidence = dataclasses.replace(evidence, watermark=self._watermark(image))
            evidence = dataclasses.replace(evidence, detector=self._detect(image))
        except Exception as err:  # noqa: BLE001 - see verify_bytes
            failure = file_error(err, filename, "verification")
            return self.policy.decide(dataclasses.replace(evidence, error=str(failure)))
        if manifest.state == "absent" and detached is None:
            evidence = dataclasses.replace(
                evidence, recovered=self._recover(data, image, evidence.watermark, fmt, filename))
        return self.policy.decide(evidence)

    def _recover(self, data: bytes, image, watermark, fmt, filename) -> RecoveryEvidence | None:
        """The look-up of a file without embedded credentials; None when there is no store."""
        if not self.store_urls and not self.resolvers:
            return None
        from .recovery import recover

        stores, unavailable = self._stores()
        try:
            rec = recover(data, image, watermark, None, stores, trust=self.trust,
                          max_p_value=self.policy.judge.max_p_value, fmt=fmt, path=filename)
        except Exception as err:  # noqa: BLE001 - the other signals still give a verdict
            why = str(file_error(err, filename, "the look-up"))
            return RecoveryEvidence(stores=tuple(s.location for s in stores),
                                    unavailable=(*unavailable, why))
        m = rec.manifest
        return RecoveryEvidence(
            matched_by=rec.matched_by, manifest_id=rec.manifest_id, source=rec.source,
            content_id=rec.content_id, watermark_p_value=rec.watermark_p_value,
            fingerprint_distance=rec.fingerprint_distance,
            fingerprint_variant=rec.fingerprint_variant, bindings_agree=rec.bindings_agree,
            copied_mark=rec.copied_mark, copied_from=rec.copied_from,
            pixels_match=rec.pixels_match, state=rec.state, codes=rec.codes,
            signer=None if m is None else m.signer,
            digital_source_type=None if m is None else m.digital_source_type,
            stores=tuple(s.location for s in stores), unavailable=(*unavailable, *rec.unavailable),
        )

    def _stores(self) -> tuple[list, list[str]]:
        """The stores and resolvers to ask, opened once and shared (they lock per call), and
        one line for each that cannot be opened now (tried again after ``STORE_RETRY_S``)."""
        from .errors import TrustgenError
        from .store import StoreError, open_store
        from .store.remote import RemoteResolver

        opened, unavailable = [], []
        with self._store_lock:
            for url in (*self.store_urls, *self.resolvers):
                if url not in self._opened:
                    failed = self._failed.get(url)
                    if failed is not None and time.monotonic() - failed[0] < self.STORE_RETRY_S:
                        unavailable.append(failed[1])
                        continue
                    try:
                        if url not in self.resolvers and _missing_file(url):  # never create one
                            raise StoreError("no such manifest store file", path=url)
                        self._opened[url] = (RemoteResolver(url, timeout=self.policy.gather.resolver_timeout)
                                             if url in self.resolvers else open_store(url))
                    except TrustgenError as err:
                        self._failed[url] = (time.monotonic(), str(err))
                        unavailable.append(str(err))
                        continue
                opened.append(self._opened[url])
        return opened, unavailable

    def error(self, path: str | os.PathLike | None, message: str) -> Verdict:
        """The policy's verdict for a file that could not be verified at all."""
        return self.policy.decide(Evidence(path=None if path is None else str(path), error=message))

    def _watermark(self, image):
        if not self.policy.gather.watermark:
            return None
        from .watermark import detect

        found = detect(image, keys=self.watermark_keys, schemes=self.policy.gather.watermark_schemes,
                       max_p_value=self.policy.judge.max_p_value, public=True)
        models = self.policy.gather.latent_models
        if not models:
            return found
        from .watermark import detect_latent

        return found.with_latent(detect_latent(image, list(models), keys=self.watermark_keys,
                                               max_p_value=self.policy.judge.max_p_value))

    def _detect(self, image) -> DetectorEvidence | None:
        if self.detector is None:
            return None
        regions = getattr(self.detector, "score_regions", None)
        if regions is None:  # a detector that scores whole images only
            probability = float(self.detector.predict_proba([image])[0, 1])
            return DetectorEvidence(probability, self.detector_threshold,
                                    str(self.detector.model_id))
        probability, region, box = regions([image])[0]
        return DetectorEvidence(probability, self.detector_threshold, str(self.detector.model_id),
                                region_probability=region, region_box=tuple(box))

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
            "detailed": self.detailed,
            "stores": [*self.store_urls, *self.resolvers, self.policy.judge.require_both_bindings],
            "keys": [hashlib.sha256(k).hexdigest() for k in self.watermark_keys],
            "schemes": self.policy.gather.watermark_schemes,
            "latent_models": list(self.policy.gather.latent_models),
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


def _missing_file(url: str) -> bool:
    """A SQLite store named by path (or ``sqlite://``) that does not exist."""
    if "://" in url and not url.startswith("sqlite://"):
        return False
    return not os.path.exists(url.removeprefix("sqlite://"))

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
