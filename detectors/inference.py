"""Scoring with the detector, without torch: what ``trustgen verify`` runs.

The crops, the aggregation over them, the calibration and the threshold live here once, in
``Scorer``, for both backends: ``SyntheticImageDetector`` (torch + timm, for training and
evaluation) and ``OnnxDetector`` (onnxruntime + numpy + Pillow). ``OnnxDetector`` runs the
shipped checkpoint exported by ``detectors/export_onnx.py``; the ONNX file carries the same
metadata as the safetensors checkpoint (input size, crop grid, mean and std, calibration,
threshold), and its graph takes the uint8 crops and normalises them itself, so a checkpoint
cannot be run with the wrong preprocessing. Only numpy and trustgen's light modules are
imported here; onnxruntime when an ``OnnxDetector`` is loaded.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from trustgen.errors import InputError
from trustgen.evidence import is_synthetic

CHECKPOINTS = Path(__file__).with_name("checkpoints")
#: The shipped detector as exported for onnxruntime: what verification loads.
ONNX = CHECKPOINTS / "trustgen-detector.onnx"
CLASS_NAMES = ("real", "synthetic")
FORMAT = "trustgen-detector/1"
#: The ONNX metadata_props key holding the checkpoint's metadata (JSON, the safetensors format).
META_KEY = "trustgen"
#: Images per batch in ``raw_scores`` (and per read-decode batch in ``trustgen detect``).
BATCH = 32
#: onnxruntime threads per scoring call. One: a verifier's callers are threads already (batch
#: workers, service requests), and nine 64 px crops are too little work to split
#: (benchmarks/verify_speed.py measures it).
THREADS = 1
#: At most this many crops in a map (``Scorer.score_map``): 64 x 64 crops of 64 px tile a
#: 4096 px square.
MAP_CROPS = 4096


def _pad_to(a: np.ndarray, s: int) -> np.ndarray:
    """Reflect-pad (symmetric) an (H, W, 3) array on the bottom and right to at least s x s."""
    h, w = a.shape[:2]
    if h >= s and w >= s:
        return a
    return np.pad(a, ((0, max(0, s - h)), (0, max(0, s - w)), (0, 0)), mode="symmetric")


def _crop_weights(crops: np.ndarray, per: int) -> np.ndarray:
    """1 for a crop with texture, 0 for a blank one (every channel's standard deviation under
    one grey level: a border, a letterbox bar, a flat sky). A blank crop holds no generation
    trace, so it gets no vote; an image with only blank crops averages them all."""
    textured = crops.reshape(len(crops), -1, 3).std(axis=1).max(axis=1) >= 1.0
    w = textured.reshape(-1, per).astype(float)
    w[w.sum(axis=1) == 0] = 1.0
    return w


def _fpr_quantile(real_probabilities, fpr: float) -> float:
    """The (1 - fpr) quantile of real images' scores, rounded up to an observed score."""
    return float(np.quantile(real_probabilities, 1.0 - fpr, method="higher"))


def expit(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |z| (scipy's, without scipy)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))


class Scorer:
    """What every fitted detector does with its network: crops in, calibrated scores out.

    A subclass provides ``_logits(crops)``: (n, 2) float logits [real, synthetic] for n uint8
    crops of shape (S, S, 3), and sets the fitted attributes (``_set_metadata``).
    """

    def _set_metadata(self, meta: dict) -> None:
        """The fitted state a checkpoint's metadata carries (both formats store the same)."""
        self.model_id = meta["model_id"]
        self.preprocessing_ = meta["preprocessing"]
        self.class_names_ = tuple(meta["class_names"])
        self.classes_ = np.array([0, 1])
        self.calibration_ = meta["calibration"]
        self.threshold_ = float(meta["threshold"])
        self.training_summary_ = meta["training"]

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibration_"):
            raise ValueError("this detector is not fitted; call fit() or load() first")

    def _boxes(self, width: int, height: int, grid: tuple[int, int] | None = None) -> list:
        """(x, y, w, h) of each crop on a grid of ``grid`` (columns, rows; default ``crop_grid``
        both) spread from corner to corner, clipped to the image (a smaller image is padded,
        see ``_crops``)."""
        s = self.input_size
        gx, gy = (self.crop_grid, self.crop_grid) if grid is None else grid
        ys = [(max(height, s) - s) // 2] if gy == 1 else np.linspace(0, max(height, s) - s, gy)
        xs = [(max(width, s) - s) // 2] if gx == 1 else np.linspace(0, max(width, s) - s, gx)
        return [(int(x), int(y), min(s, width - int(x)), min(s, height - int(y)))
                for y in ys for x in xs]

    def _crops(self, image, boxes=None) -> np.ndarray:
        """(n, S, S, 3) uint8 crops of one image at native resolution (``_boxes``).

        Each crop is cut from the image and only then converted and padded, so the cost is the
        crops', whatever the image's size or shape (padding a 1 x 16,000,000 image first took
        7 GB); the pixels are those of padding the whole image and cropping it.
        """
        s = self.input_size
        crops = []
        for x, y, w, h in boxes or self._boxes(*image.size):
            crop = image.crop((x, y, x + w, y + h))
            crops.append(_pad_to(np.asarray(crop.convert("RGB") if crop.mode != "RGB"
                                            else crop), s))
        return np.stack(crops)

    def _crop_scores(self, images) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per image: the crops' uncalibrated scores (logit synthetic - logit real) and their
        weights (0 for a blank crop, see ``_crop_weights``)."""
        self._check_fitted()
        images = list(images)
        per = self.crop_grid ** 2
        out = []
        for i in range(0, len(images), BATCH):
            crops = np.concatenate([self._crops(im) for im in images[i:i + BATCH]])
            logits = self._logits(crops)
            diff = (logits[:, 1] - logits[:, 0]).reshape(-1, per)
            out.extend(zip(diff, _crop_weights(crops, per)))
        return out

    def raw_scores(self, images) -> np.ndarray:
        """Uncalibrated score per image: logit(synthetic) - logit(real), averaged over the crops
        that are not blank (see ``_crop_weights``)."""
        scores = [np.average(d, weights=w) for d, w in self._crop_scores(images)]
        return np.array(scores, dtype=np.float64)

    def _calibrated(self, z) -> np.ndarray:
        return expit(self.calibration_["scale"] * np.asarray(z) + self.calibration_["bias"])

    def score_regions(self, images) -> list[tuple[float, float, tuple]]:
        """Per image: p(synthetic) of the whole image, and of its most synthetic crop that is not
        blank with that crop's box (x, y, w, h): a generated region pasted into a real photo
        moves the whole-image score by its share of the crops, but shows in its own crop."""
        out = []
        for image, (d, w) in zip(images, self._crop_scores(images)):
            k = int(np.argmax(np.where(w > 0, d, -np.inf)))
            out.append((float(self._calibrated(np.average(d, weights=w))),
                        float(self._calibrated(d[k])), self._boxes(*image.size)[k]))
        return out

    def score_map(self, image, *, max_crops: int = MAP_CROPS) -> list[tuple[tuple, float]]:
        """(box, p(synthetic)) for crops tiling the whole image (``trustgen detect --map``): as
        many as it takes to cover it, at most ``max_crops`` (then spread evenly, with gaps)."""
        self._check_fitted()
        s = self.input_size
        w, h = image.size
        gx, gy = int(np.ceil(w / s)), int(np.ceil(h / s))
        shrink = min(1.0, float(np.sqrt(max_crops / (gx * gy))))
        boxes = self._boxes(w, h, (max(1, int(gx * shrink)), max(1, int(gy * shrink))))
        probs = []
        for i in range(0, len(boxes), BATCH * self.crop_grid ** 2):
            logits = self._logits(self._crops(image, boxes[i:i + BATCH * self.crop_grid ** 2]))
            probs.append(self._calibrated(logits[:, 1] - logits[:, 0]))
        return list(zip(boxes, np.concatenate(probs).tolist()))

    def decision_function(self, images) -> np.ndarray:
        """Calibrated log-odds of 'synthetic' (equal class priors)."""
        z = self.raw_scores(images)
        return self.calibration_["scale"] * z + self.calibration_["bias"]

    def predict_proba(self, images) -> np.ndarray:
        """(n, 2) array, columns [real, synthetic], rows summing to 1."""
        p = expit(self.decision_function(images))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, images) -> np.ndarray:
        """0 (real) or 1 (synthetic) per image, at the calibrated threshold ``threshold_``."""
        p = self.predict_proba(images)[:, 1]
        return self.classes_[is_synthetic(p, self.threshold_).astype(int)]

    def threshold_at_fpr(self, fpr: float) -> float:
        """The threshold on p(synthetic) that flagged at most ``fpr`` of the calibration set's
        real images (``threshold_`` at ``target_fpr``). Raises ValueError for any other rate
        when the calibration scores are not stored or too few to resolve it."""
        self._check_fitted()
        if np.isclose(fpr, self.target_fpr):
            return float(self.threshold_)
        real = self.calibration_.get("real_probabilities", ())
        if not real:
            raise ValueError(f"detector {self.model_id} stores no calibration scores; it is "
                             f"calibrated for a false-positive rate of {self.target_fpr} only")
        if not 0 < fpr < 1 or fpr * len(real) < 1:
            raise ValueError(f"a false-positive rate of {fpr} cannot be resolved with "
                             f"{len(real)} real calibration images (at least {1 / len(real):.3g})")
        return _fpr_quantile(real, fpr)


class OnnxDetector(Scorer):
    """A fitted detector run by onnxruntime: the same scores as the torch model it was exported
    from (tests/detector/test_onnx.py: within 1e-4, same verdicts), without torch."""

    def __init__(self, session, meta: dict):
        self._session = session
        self._input = session.get_inputs()[0].name
        params = meta["params"]
        self.input_size = params["input_size"]
        self.crop_grid = params["crop_grid"]
        self.target_fpr = params["target_fpr"]
        self._set_metadata(meta)

    def __repr__(self) -> str:
        return f"OnnxDetector(model_id={self.model_id!r})"

    def _logits(self, crops: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.ascontiguousarray(crops)})[0]

    @classmethod
    def load(cls, path=None, *, threads: int = THREADS) -> "OnnxDetector":
        """The shipped detector (cached and shared), or the ONNX file at ``path``."""
        if path is None:
            return _load_default(threads)
        return cls._from_file(Path(path), threads)

    @classmethod
    def _from_file(cls, path: Path, threads: int = THREADS) -> "OnnxDetector":
        from trustgen.errors import DependencyError

        try:
            import onnxruntime as ort
        except ImportError:
            raise DependencyError("the detector needs onnxruntime (pip install onnxruntime)") \
                from None
        if not path.is_file():
            raise InputError("no such detector model", path=path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's own warnings are not the user's problem
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            meta = json.loads(session.get_modelmeta().custom_metadata_map[META_KEY])
            if meta["format"] != FORMAT:
                raise ValueError(f"format {meta['format']!r}")
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            why = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            raise InputError(f"not a trustgen detector ONNX file ({why})", path=path) from None
        return cls(session, meta)


@functools.lru_cache(maxsize=4)
def _load_default(threads: int) -> OnnxDetector:
    return OnnxDetector._from_file(ONNX, threads)


def load_detector(path=None, *, threads: int = THREADS) -> Scorer:
    """The detector verification runs: the shipped ONNX model, or the file at ``path`` (an
    ``.onnx`` export runs on onnxruntime; a ``.safetensors`` checkpoint needs torch)."""
    if path is not None and Path(path).suffix.lower() != ".onnx":
        from .model import SyntheticImageDetector

        return SyntheticImageDetector.load(path)
    return OnnxDetector.load(path, threads=threads)
