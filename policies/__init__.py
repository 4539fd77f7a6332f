"""The shipped verification policies (TOML), installed as ``trustgen.policies``."""
