"""The settings file of the commands: ``config.toml`` in the identity home (``$TRUSTGEN_HOME``).

::

    [signing]
    tsa_url = "http://timestamp.digicert.com"   # time-stamp every signature

    [store]
    url = "postgresql://trustgen@db/manifests"  # the manifest store (default: manifests.db here)
    resolvers = ["https://resolver.example/"]   # Soft Binding Resolution APIs verify also asks

A command-line option wins over the file; ``trustgen --config FILE`` (or ``$TRUSTGEN_CONFIG``)
reads another file. The library never reads it: ``TrustedPipeline(tsa_url=...)`` and the other
calls take their settings as arguments. Every key is checked when the file is read, and a
wrong one is one line naming the file and the key, never ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError, TrustgenError

CONFIG_FILE = "config.toml"
#: Environment variable naming a settings file to read instead of the home's.
CONFIG_ENV = "TRUSTGEN_CONFIG"
MAX_CONFIG_BYTES = 64 * 1024


def _tsa_url(value: Any) -> str:
    from .credentials.keys import _tsa

    if not isinstance(value, str):
        raise ValueError("must be a string (an http:// or https:// URL)")
    return _tsa(value)


def _store_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a file path, sqlite:///path or postgresql://... URL")
    return value.strip()


def _resolvers(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and v.startswith(("http://", "https://")) for v in value):
        raise ValueError("must be a list of http:// or https:// URLs")
    return tuple(value)


#: Every setting: section -> key -> check (returns the value, raises ValueError or a
#: TrustgenError saying why not). A new setting is one line here and one property below.
SETTINGS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "signing": {"tsa_url": _tsa_url},
    "store": {"url": _store_url, "resolvers": _resolvers},
}


@dataclass(frozen=True)
class Config:
    """Checked settings, and the file they came from (None: no file, every setting unset)."""

    source: Path | None = None
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        """A setting's value, None when the file does not set it."""
        if key not in SETTINGS.get(section, {}):
            raise KeyError(f"[{section}] {key} is not a trustgen setting")
        return self.values.get(section, {}).get(key)

    @property
    def tsa_url(self) -> str | None:
        """``[signing] tsa_url``: the RFC 3161 time-stamp authority every signature asks."""
        return self.get("signing", "tsa_url")

    @property
    def store_url(self) -> str | None:
        """``[store] url``: the manifest store generate registers in and verify looks up."""
        return self.get("store", "url")

    @property
    def resolvers(self) -> tuple[str, ...]:
        """``[store] resolvers``: remote Soft Binding Resolution APIs verify also asks."""
        return self.get("store", "resolvers") or ()


def config_path(home: str | os.PathLike | None = None) -> Path:
    """Where the settings file of ``home`` (default: the identity home) lives."""
    from .credentials.identity import default_home

    return (Path(home) if home is not None else default_home()) / CONFIG_FILE


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The settings in ``path``; without one, ``$TRUSTGEN_CONFIG``, else the identity home's
    file, which may be missing (no settings). A file named explicitly must exist."""
    named = path if path is not None else os.environ.get(CONFIG_ENV) or None
    file = Path(named) if named is not None else config_path()
    if named is None and not file.exists():
        return Config()
    try:
        if file.is_dir():
            raise ConfigError("settings file is a folder", path=file)
        with open(file, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("settings file not found", path=file) from None
    except OSError as err:
        raise ConfigError(f"cannot read settings file: {err.strerror or err}", path=file) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"settings file is larger than {MAX_CONFIG_BYTES // 1024} KiB", path=file)
    return Config(file, _check(_parse(data, file), file))


def _parse(data: bytes, file: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        return tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        raise ConfigError("settings file is not UTF-8 text", path=file) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML: {err}", path=file) from None


def _check(data: dict, file: Path) -> dict[str, dict[str, Any]]:
    checked: dict[str, dict[str, Any]] = {}
    for section, table in data.items():
        if section not in SETTINGS:
            known = ", ".join(f"[{s}]" for s in SETTINGS)
            raise ConfigError(f"unknown section [{section}] (known: {known})", path=file)
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table, not a value", path=file)
        for key, value in table.items():
            check = SETTINGS[section].get(key)
            if check is None:
                known = ", ".join(SETTINGS[section])
                raise ConfigError(f"[{section}] {key}: unknown key (known: {known})", path=file)
            try:
                checked.setdefault(section, {})[key] = check(value)
            except (ValueError, TrustgenError) as err:
                why = err.message if isinstance(err, TrustgenError) else str(err)
                raise ConfigError(f"[{section}] {key}: {why}", path=file) from None
    return checked
