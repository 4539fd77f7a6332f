"""Hashes of a pipeline's weights: the base model, and each adapter loaded on it apart.

A LoRA loaded with PEFT lives inside the base model's modules (``lora_A.<name>``,
``lora_B.<name>`` beside a ``base_layer``); a ControlNet is a component of its own. The base
model's hash leaves both out, so it stays the same whatever is loaded on top, and each adapter
is recorded with its own hash.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from typing import Any

#: Components that are adapters of the base model, not part of it.
ADAPTER_COMPONENTS = {"controlnet": "controlnet"}
#: An adapter component's hash, per component object (a ControlNet is 1.4 GB: hashed once).
_COMPONENT_SHA256: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_LORA_KEY = re.compile(r"\.lora_(?:A|B|embedding_A|embedding_B|magnitude_vector)\.([^.]+)\.")


def _modules(pipeline: Any):
    import torch

    for name, component in sorted(pipeline.components.items()):
        if isinstance(component, torch.nn.Module):
            yield name, component


def _update(digest, name: str, key: str, tensor) -> None:
    import torch

    digest.update(f"{name}.{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
    digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())


def model_sha256(pipeline: Any) -> str:
    """SHA-256 over every base weight tensor of every component, components sorted by name,
    tensors hashed as raw bytes (dtype-agnostic via a uint8 view)."""
    digest = hashlib.sha256()
    for name, component in _modules(pipeline):
        if name in ADAPTER_COMPONENTS:
            continue
        for key, tensor in sorted(component.state_dict().items()):
            if _LORA_KEY.search(key):
                continue
            _update(digest, name, key.replace(".base_layer.", "."), tensor)
    return digest.hexdigest()


def adapter_records(pipeline: Any) -> list[dict]:
    """``{"name", "kind", "sha256"}`` for each ControlNet component and each LoRA adapter."""
    records = []
    lora: dict[str, Any] = {}
    for name, component in _modules(pipeline):
        if name in ADAPTER_COMPONENTS:
            if component not in _COMPONENT_SHA256:
                digest = hashlib.sha256()
                for key, tensor in sorted(component.state_dict().items()):
                    _update(digest, name, key, tensor)
                _COMPONENT_SHA256[component] = digest.hexdigest()
            label = getattr(getattr(component, "config", None), "_name_or_path", None) or name
            records.append({"name": str(label).rstrip("/").rsplit("/", 1)[-1],
                            "kind": ADAPTER_COMPONENTS[name], "sha256": _COMPONENT_SHA256[component]})
            continue
        for key, tensor in sorted(component.state_dict().items()):
            found = _LORA_KEY.search(key)
            if found:
                digest = lora.setdefault(found.group(1), hashlib.sha256())
                _update(digest, name, key, tensor)
    records += [{"name": n, "kind": "lora", "sha256": d.hexdigest()} for n, d in sorted(lora.items())]
    return records
