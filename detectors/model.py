"""``SyntheticImageDetector``: a timm classifier that scores how likely an image is generated.

scikit-learn conventions: ``__init__`` only stores parameters, ``fit`` and ``calibrate`` return
self, learned state ends in ``_``, ``predict_proba`` columns follow ``classes_`` (0 real,
1 synthetic). One checkpoint file (safetensors) carries the weights and all
that inference needs: architecture, input size, crop policy, normalisation, class names,
calibration, threshold and a summary of the training data, so a checkpoint cannot be used with
the wrong preprocessing. torch and timm are imported only when a model is built or run.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from pathlib import Path

import numpy as np

from trustgen.errors import InputError, missing_extra

from .inference import CLASS_NAMES, FORMAT, Scorer, _fpr_quantile, _pad_to, expit

CHECKPOINT = Path(__file__).with_name("checkpoints") / "trustgen-detector.safetensors"
#: The trace network's architecture name (``detectors.tracenet``; not a timm model) and width.
TRACENET = "tracenet"
TRACENET_WIDTH = 24
#: Crops per forward pass: small passes keep activations in cache and peak memory low
#: (``benchmarks/detector_speed.py --forward-crops``: faster than one pass of 144 crops, and
#: 180 MB less peak RSS).
FORWARD_CROPS = 32


def _torch():
    try:
        import timm
        import torch
    except ImportError as err:
        raise missing_extra(err, "the torch detector (training, evaluation, .safetensors "
                                 "checkpoints)") from None
    return torch, timm


#: Probabilities of the training augmentations with ``augment=True``: resize (down, half of the
#: time back up), Gaussian blur, JPEG round trip, horizontal flip.
AUGMENT = {"resize": 0.25, "blur": 0.2, "jpeg": 0.5, "flip": 0.5}


def _augment_probabilities(augment) -> dict[str, float]:
    """``augment``: True (``AUGMENT``), False or None (none), or a dict overriding some of them."""
    if augment is True:
        return dict(AUGMENT)
    if augment is False or augment is None:
        return {}
    if isinstance(augment, dict) and set(augment) <= set(AUGMENT):
        return {**AUGMENT, **augment}
    raise ValueError(f"augment must be True, False or a dict with keys from "
                     f"{', '.join(AUGMENT)}, not {augment!r}")


def jpeg_roundtrip(img, quality: int):
    """``img`` saved as a JPEG at ``quality`` and decoded again (RGB)."""
    from PIL import Image

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _use_imagenet(pretrained) -> bool:
    """``pretrained``: True or "imagenet" start from ImageNet weights; False or None do not."""
    if pretrained is True or pretrained == "imagenet":
        return True
    if pretrained is False or pretrained is None:
        return False
    raise ValueError(f"pretrained must be True, 'imagenet', False or None, not {pretrained!r}")


class SyntheticImageDetector(Scorer):
    """Probability that an image is synthetic, calibrated, with a threshold at a target FPR.

    Images are scored at native resolution: ``crop_grid`` x ``crop_grid`` crops of
    ``input_size`` pixels on an evenly spaced grid from corner to corner (the shipped 3 x 3:
    corners, edge midpoints and centre; ``crop_grid=1``: the centre crop; smaller images are
    reflect-padded), the logits of the crops that are not blank averaged, so the score speaks
    for the whole image and a generated region moves it by about its share of the crops; never
    resized, because resizing erases the upsampling traces the detector relies on. Small crops
    keep training affordable on a CPU and inference fast.
    """

    _PARAMS = ("arch", "input_size", "crop_grid", "pretrained", "steps", "batch_size", "lr",
               "weight_decay", "target_fpr", "augment", "random_state", "model_id", "verbose")

    def __init__(self, arch="tf_efficientnet_lite0", input_size=64, crop_grid=3,
                 pretrained="imagenet", steps=400, batch_size=32, lr=5e-4, weight_decay=0.01,
                 target_fpr=0.01, augment=True, random_state=0,
                 model_id="trustgen-detector-custom", verbose=0):
        self.arch = arch
        self.input_size = input_size
        self.crop_grid = crop_grid
        self.pretrained = pretrained
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.target_fpr = target_fpr
        self.augment = augment
        self.random_state = random_state
        self.model_id = model_id
        self.verbose = verbose

    # -- scikit-learn plumbing -------------------------------------------------------------
    def get_params(self, deep=True) -> dict:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> "SyntheticImageDetector":
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"SyntheticImageDetector(model_id={self.model_id!r}, arch={self.arch!r})"

    # -- preprocessing ---------------------------------------------------------------------
    def _tensor(self, crops: np.ndarray):
        torch, _ = _torch()
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
        mean = torch.tensor(self.preprocessing_["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(self.preprocessing_["std"]).view(1, 3, 1, 1)
        return (x - mean) / std

    # -- inference (the rest is Scorer's) ----------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("this detector is not fitted; call fit() or load() first")

    def _logits(self, crops: np.ndarray) -> np.ndarray:
        torch, _ = _torch()
        with torch.inference_mode():
            return torch.cat([self.model_(self._tensor(crops[k:k + FORWARD_CROPS]))
                              for k in range(0, len(crops), FORWARD_CROPS)]).float().numpy()

    # -- training --------------------------------------------------------------------------
    def _build(self, *, pretrained: bool):
        _, timm = _torch()
        if self.arch == TRACENET:
            from .tracenet import TraceNet

            return TraceNet(getattr(self, "preprocessing_", {}).get("width", TRACENET_WIDTH))
        model = timm.create_model(self.arch, pretrained=False, num_classes=2)
        if pretrained:
            from .pretrained import imagenet_state_dict

            model.load_state_dict(imagenet_state_dict(model), strict=False)
        return model

    def _augment(self, tile: np.ndarray, rng, p: dict[str, float]) -> np.ndarray:
        """The same random degradations for both classes, so none of them marks a class.

        Smoothing (resampling down, or down and back up, and blur) is frequent: real photos are
        resized and blurred all the time, and a detector that has not seen smoothed real photos
        learns that smoothness means synthetic.
        """
        from PIL import Image, ImageFilter

        img = Image.fromarray(tile)
        filters = (Image.NEAREST, Image.BOX, Image.BILINEAR, Image.HAMMING, Image.BICUBIC,
                   Image.LANCZOS)
        if p:
            if rng.random() < p["resize"]:
                f = rng.uniform(0.4, 0.9)
                w, h = img.size
                img = img.resize((max(1, round(w * f)), max(1, round(h * f))),
                                 filters[rng.integers(len(filters))])
                if rng.random() < 0.5:
                    img = img.resize((w, h), filters[rng.integers(len(filters))])
            if rng.random() < p["blur"]:
                img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
            if rng.random() < p["jpeg"]:
                img = jpeg_roundtrip(img, int(rng.integers(50, 96)))
        s = self.input_size
        a = _pad_to(np.asarray(img), s)
        y = rng.integers(a.shape[0] - s + 1)
        x = rng.integers(a.shape[1] - s + 1)
        a = a[y:y + s, x:x + s]
        return a[:, ::-1] if p and rng.random() < p["flip"] else a

    def fit(self, images, y, *, summary: dict | None = None) -> "SyntheticImageDetector":
        """Fine-tune on PIL images labelled 0 (real) / 1 (synthetic), balanced per batch."""
        torch, timm = _torch()
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("fit needs both real (0) and synthetic (1) images")
        augment = _augment_probabilities(self.augment)
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        tiles = [np.asarray(im.convert("RGB")) for im in images]
        by_class = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]
        model = self._build(pretrained=_use_imagenet(self.pretrained) and self.arch != TRACENET)
        cfg = getattr(model, "pretrained_cfg", None) or {"mean": (0.0,) * 3, "std": (1.0,) * 3}
        self.preprocessing_ = {"input_size": self.input_size, "crop_grid": self.crop_grid,
                               "crop": "native-resolution grid, reflect-padded, no resizing",
                               "mean": list(cfg.get("mean", (0.5,) * 3)),
                               "std": list(cfg.get("std", (0.5,) * 3))}
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        warm = max(1, self.steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: min(1.0, (i + 1) / warm)
            * 0.5 * (1 + np.cos(np.pi * min(1.0, i / max(1, self.steps)))))
        model.train()
        half = max(1, self.batch_size // 2)
        for step in range(self.steps):
            idx = np.concatenate([rng.choice(by_class[0], half), rng.choice(by_class[1], half)])
            x = self._tensor(np.stack([self._augment(tiles[i], rng, augment) for i in idx]))
            target = torch.from_numpy(y[idx])
            loss = torch.nn.functional.cross_entropy(model(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if self.verbose and (step % 10 == 0 or step == self.steps - 1):
                print(f"step {step + 1}/{self.steps} loss {loss.item():.4f}", flush=True)
        self.model_ = model.eval()
        self.classes_ = np.array([0, 1])
        self.class_names_ = CLASS_NAMES
        self.calibration_ = {"method": "none", "scale": 1.0, "bias": 0.0}
        self.threshold_ = 0.5
        self.training_summary_ = {**(summary or {}), "train_images": {
            "real": int(len(by_class[0])), "synthetic": int(len(by_class[1]))},
            "steps": self.steps, "batch_size": self.batch_size, "arch": self.arch,
            "pretrained": self.pretrained}
        return self

    def calibrate(self, images, y) -> "SyntheticImageDetector":
        """Platt/temperature scaling on held-out images, then the threshold for ``target_fpr``.

        Classes are weighted equally, so probabilities assume even prior odds; the threshold is
        the (1 - target_fpr) quantile of the calibrated probability on the real images.
        """
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        z = self.raw_scores(images)
        lr = LogisticRegression(C=1e4, class_weight="balanced").fit(z[:, None], y)
        self.calibration_ = {"method": "platt (temperature + bias, scikit-learn)",
                             "scale": float(lr.coef_[0, 0]), "bias": float(lr.intercept_[0])}
        p = expit(self.calibration_["scale"] * z + self.calibration_["bias"])
        self.calibration_["real_probabilities"] = sorted(round(float(v), 7) for v in p[y == 0])
        self.threshold_ = _fpr_quantile(self.calibration_["real_probabilities"], self.target_fpr)
        self.training_summary_["calibration_images"] = {
            "real": int((y == 0).sum()), "synthetic": int((y == 1).sum())}
        return self

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write one safetensors file: the weights plus the metadata inference needs."""
        from safetensors.torch import save

        from trustgen.media import atomic_write

        self._check_fitted()
        meta = {"format": FORMAT, "model_id": self.model_id, "params": self.get_params(),
                "preprocessing": self.preprocessing_, "class_names": list(self.class_names_),
                "calibration": self.calibration_, "threshold": self.threshold_,
                "training": self.training_summary_}
        tensors = {k: v.contiguous() for k, v in self.model_.state_dict().items()}
        return atomic_write(path, save(tensors, metadata={"trustgen": json.dumps(meta)}),
                            overwrite=overwrite)

    @classmethod
    def load(cls, path=None) -> "SyntheticImageDetector":
        """The shipped detector (cached and shared: never ``fit`` it), or the one at ``path``."""
        if path is None:
            return _load_default()
        return cls._from_file(Path(path))

    @classmethod
    def _from_file(cls, path: Path) -> "SyntheticImageDetector":
        if not path.is_file():
            raise InputError("no such detector checkpoint", path=path)
        data = path.read_bytes()
        try:
            (n,) = struct.unpack("<Q", data[:8])
            meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["trustgen"])
            if meta["format"] != FORMAT:
                raise ValueError(f"format {meta['format']!r}")
        except (struct.error, ValueError, KeyError, TypeError) as err:
            raise InputError(f"not a trustgen detector checkpoint ({err})", path=path) from None
        from safetensors import SafetensorError
        from safetensors.torch import load

        det = cls(**meta["params"])
        det._set_metadata(meta)
        model = det._build(pretrained=False)
        try:
            state = load(data)
        except SafetensorError as err:  # truncated or corrupt tensor data
            raise InputError(f"corrupt or truncated detector checkpoint ({err})".splitlines()[0],
                             path=path) from None
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise InputError(f"checkpoint weights do not fit {det.arch}: {err}".splitlines()[0],
                             path=path) from None
        det.model_ = model.eval()
        return det


@functools.lru_cache(maxsize=1)
def _load_default() -> SyntheticImageDetector:
    return SyntheticImageDetector._from_file(CHECKPOINT)
