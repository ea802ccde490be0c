"""User-facing errors.

Every mistake a user can make (bad input, wrong secret, mismatched config) is raised as a
:class:`LinkageError`. The CLI prints it as one line and exits with its code; nothing else is
shown, so the message must say what is wrong, where, and what to do. Messages never contain
field values: only file names, line numbers, column names and codes.
"""

from __future__ import annotations


class LinkageError(Exception):
    """An error the user can fix; printed as one line, never as a traceback."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type[LinkageError], tuple[str, str | None]]:
        # keep the hint when an error crosses from a worker process
        return (type(self), (self.message, self.hint))

    def one_line(self) -> str:
        """The message and hint joined so the CLI can print a single line; a control
        character (a newline in a crafted file's agency name, say) is shown escaped, so no
        input can break the line or fake another."""
        text = f"{self.message} ({self.hint})" if self.hint else self.message
        return printable(text)


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped, as Python writes it in a
    string literal: for output a file's contents may have reached."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(LinkageError):
    """The linkage config is invalid."""


class InputError(LinkageError):
    """An input file (CSV export) is unusable."""


class SecretError(LinkageError):
    """The secret is missing, empty or unreadable."""


class ContainerError(LinkageError):
    """A ``.clk`` file is corrupt, truncated, tampered with or of an unknown version."""

    exit_code = 3
