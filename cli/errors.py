"""What the command line reports instead of a traceback, and the exit code for each."""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    """The exit codes, documented in `lifeboat --help` and the README."""

    OK = 0
    # The API refused the request (its message and field are printed), or a name matched
    # nothing or several objects.
    REFUSED = 1
    # Typer's own code for a bad command line (unknown option, missing argument).
    USAGE = 2
    # Not signed in, or the sign-in expired and could not be refreshed: run `lifeboat login`.
    SIGN_IN = 3
    # The server (API or identity provider) did not answer.
    UNREACHABLE = 4
    # A waited-for backup or restore ended Failed, PartialSuccess or Aborted, or a receiver
    # did not take its test message.
    OPERATION_FAILED = 5
    # The server or its identity provider does not offer what was asked (the device
    # authorization grant).
    NOT_OFFERED = 6


EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 the API refused (its message is printed) or a name is unknown or "
    "ambiguous; 2 bad command line; 3 not signed in or sign-in expired (run `lifeboat login`); "
    "4 server unreachable; 5 a waited-for backup or restore ended Failed, PartialSuccess or "
    "Aborted, or a receiver did not take its test message; 6 the server or its identity "
    "provider does not offer what was asked."
)


class CliError(Exception):
    """An error for the person at the terminal: one message saying what to do, and an exit code."""

    def __init__(self, message: str, code: Exit = Exit.REFUSED, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # The API's HTTP status, when it refused.
        self.status = status
