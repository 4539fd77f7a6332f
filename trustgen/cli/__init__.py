"""The ``trustgen`` command: parse, call one library function, render. No logic lives here.

Each command group sits in its own module and imports heavy libraries (torch, c2pa, diffusers)
only inside the command body, so ``trustgen --help`` starts fast.
"""

from __future__ import annotations

import functools

import click

from .._version import __version__
from ..errors import TrustgenError
from ._render import fail

_COMMANDS = (
    ("keys", "keys"),
    ("generate", "generate"),
    ("sign", "sign"),
    ("verify", "verify"),
    ("watermark", "watermark"),
    ("serve", "serve"),
    ("store", "store"),
)


@functools.cache
def _plugins() -> dict:
    """Commands other packages register under the ``trustgen.commands`` entry point group
    (``detect`` and ``detector`` from ``detectors``): names come from installed metadata, so
    listing them imports nothing."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="trustgen.commands")}


def _plugin_command(name: str):
    ep = _plugins().get(name)
    if ep is None:
        return None
    try:
        return ep.load()
    except ModuleNotFoundError as err:
        if err.name and (ep.module == err.name or ep.module.startswith(f"{err.name}.")):
            return None  # stale metadata: the package that registered it is gone
        raise


class _Main(click.Group):
    """Commands are imported on first use, so one slow module never slows ``--help``; a
    ``TrustgenError`` (or a stray ``OSError``) from any command becomes one line on stderr and
    the error's ``exit_code`` (2 for every error today), after the traceback with ``--debug``.
    A usage error is one line too, and libraries' warnings (Pillow's on a malformed file, with
    its install paths) are shown only with ``--debug``."""

    def list_commands(self, ctx):
        return sorted({name for name, _ in _COMMANDS} | set(_plugins()))

    def get_command(self, ctx, name):
        import importlib

        module = dict(_COMMANDS).get(name)
        if module is None:
            return _plugin_command(name)
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as err:
            if err.name and err.name.startswith(f"{__name__}.{module}"):
                return None  # this command group is not part of this build
            raise
        return getattr(mod, name.replace("-", "_") + "_command", None)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:  # `trustgen --bogus`
            _usage_error(err)

    def invoke(self, ctx):
        import warnings

        debug = ctx.params.get("debug")
        try:
            with warnings.catch_warnings():
                if not debug:
                    warnings.simplefilter("ignore")
                return super().invoke(ctx)
        except click.UsageError as err:
            _usage_error(err)
        except (TrustgenError, OSError) as err:
            if debug:
                import traceback

                traceback.print_exc()
            if isinstance(err, OSError):  # a stray I/O error still names its file on one line
                where = f"{err.filename}: " if err.filename else ""
                fail(f"{where}{err.strerror or err}")
            fail(str(err), err.exit_code)


#: What click >= 8.2 raises to show a command's help when it is given no arguments at all.
_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _usage_error(err: click.UsageError) -> None:
    """One line, like every other error, with where to find help; a command given no
    arguments at all still shows its help."""
    if isinstance(err, _NO_ARGS_HELP):
        raise err
    hint = f"; see '{err.ctx.command_path} -h'" if err.ctx is not None else ""
    fail(err.format_message().rstrip(".") + hint, err.exit_code)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trustgen")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option("--config", "config_path", metavar="FILE", default=None,
              help="Settings file (default: $TRUSTGEN_CONFIG, else config.toml in $TRUSTGEN_HOME).")
def cli(debug: bool, config_path: str | None) -> None:
    """Generate accountable images and verify where images came from.

    Exit codes: 0 done (every file passed), 1 a verification did not pass, 2 usage or input error.
    """


def main() -> None:
    """Console entry point."""
    cli(prog_name="trustgen")
