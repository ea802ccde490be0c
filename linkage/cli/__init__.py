"""The ``linkage`` command line: one click group, thin commands that call the library.

One module per role (:mod:`~linkage.cli.agency`, :mod:`~linkage.cli.coordinator`,
:mod:`~linkage.cli.bynamelist`, :mod:`~linkage.cli.service`, :mod:`~linkage.cli.research`,
:mod:`~linkage.cli.demo`). Each command imports the library only when it runs, so the
agency's install (no coordinator or research extras) lists and runs its own commands, and a
command whose extra is missing says which one to install.

Every user mistake surfaces as one line on stderr and a non-zero exit code (see
:mod:`linkage.errors`); tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from linkage import __version__
from linkage.cli import agency, bynamelist, coordinator, demo, research, service
from linkage.cli.common import example
from linkage.errors import LinkageError

# the install each command needs beyond the agency's (pyproject.toml's extras)
_EXTRA = {
    "match": "coordinator",
    "bnl": "coordinator",
    "serve": "coordinator",
    "token": "coordinator",
    "uploads": "coordinator",
    "synth": "research",
    "evaluate": "research",
    "attack": "research",
    "demo": "all",
}


class MissingExtra(LinkageError):
    """A command ran on an install without the extra it needs (a third-party module is absent)."""


class _Linkage(click.Group):
    """The top group: a command that imports a module its extra would have brought says so."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if not missing or missing == "linkage":
                raise
            command = ctx.invoked_subcommand or "this command"
            extra = _EXTRA.get(command)
            if extra is None:
                raise MissingExtra(
                    f"'linkage {command}' needs {missing}, which is not installed; the "
                    f"install is incomplete: reinstall with pip install linkage"
                ) from exc
            raise MissingExtra(
                f"'linkage {command}' needs the {extra} install (module {missing} is missing): "
                f"pip install 'linkage[{extra}]'"
            ) from exc


@click.group(
    cls=_Linkage,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=example(
        "linkage demo",
        "linkage keygen -o community.key",
        "linkage encode Client.csv --secret-file community.key --agency north -o north.clk",
    ),
)
@click.version_option(__version__, prog_name="linkage")
def cli() -> None:
    """Privacy-preserving record linkage for homeless-service by-name lists.

    Agencies encode their client exports locally (keygen, encode); only the encodings leave
    the building. The coordinator links them without ever seeing a name.
    """


for _role in (agency, coordinator, bynamelist, service, research, demo):
    for _command in _role.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Entry point: run the CLI, turning user errors into one line and an exit code."""
    try:
        code = cli.main(standalone_mode=False)
    except LinkageError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted; no output was written", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted; no output was written", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot access{where}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        # a database server gone mid-command: its message may quote SQL parameters (record
        # ids), so only the kind is shown; every store command is one transaction
        kind = type(getattr(exc, "orig", None) or exc).__name__
        if kind in ("IntegrityError", "UniqueViolation"):
            cause = "another command changed the store at the same moment; run this one again"
        else:
            cause = "check that the database server is up, then run it again"
        click.echo(
            f"error: the store's database failed ({kind}); the command's transaction was "
            f"rolled back ({cause})",
            err=True,
        )
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
