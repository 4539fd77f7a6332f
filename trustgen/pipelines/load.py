"""Loading a local diffusers folder, for generation and for reading latent marks alike: local
files only (never a download), float32 unless asked, quiet when asked, and a one-line
``InputError`` naming the folder for anything that is not a loadable pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, missing_extra


def load_folder(folder: Path, *, dtype: Any = None, quiet: bool = False,
                purpose: str = "generating images") -> Any:
    """The ``diffusers.DiffusionPipeline`` in ``folder`` (``purpose`` names what needs it when
    diffusers is not installed); ``quiet`` silences the loading bars too."""
    from ..media import read_file

    if not folder.exists():
        raise InputError("no such model folder", path=folder)
    if not folder.is_dir():
        raise InputError("not a folder; expected a diffusers pipeline folder", path=folder)
    if not (folder / "model_index.json").is_file():
        raise InputError("no model_index.json: not a diffusers pipeline folder", path=folder)
    read_file(folder / "model_index.json")
    torch = _torch(purpose)
    try:
        import diffusers
    except ImportError as err:
        raise missing_extra(err, purpose) from None

    diffusers.utils.logging.set_verbosity_error()
    loggers = _bar_loggers() if quiet else []
    for logger in loggers:
        logger.disable_progress_bar()
    try:  # float32 on the CPU by default, whatever the stored precision (ours is float16)
        return diffusers.DiffusionPipeline.from_pretrained(
            str(folder), local_files_only=True, dtype=dtype or torch.float32)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as err:
        raise InputError(f"cannot load the pipeline: {first_line(err)}", path=folder) from None
    finally:
        for logger in loggers:
            logger.enable_progress_bar()


def check_device(device: str) -> None:
    """Refuse a device string torch cannot parse, before any model loads."""
    torch = _torch("generating images")
    try:
        torch.device(device)
    except (RuntimeError, ValueError, TypeError) as err:
        raise InputError(f"cannot use device {str(device)!r}: {first_line(err)}") from None


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _torch(purpose: str):
    try:
        import torch
    except ImportError as err:
        raise missing_extra(err, purpose) from None
    return torch


def _bar_loggers() -> list:
    """The logging modules whose progress bars are on now (diffusers', transformers')."""
    import diffusers

    loggers = [diffusers.utils.logging]
    try:
        import transformers

        loggers.append(transformers.utils.logging)
    except ImportError:
        pass
    return [logger for logger in loggers if logger.is_progress_bar_enabled()]
