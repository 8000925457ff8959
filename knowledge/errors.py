"""Errors that are the user's to fix: the CLI prints the message and exits non-zero, no traceback."""


class GuanxiError(Exception):
    """A user-facing problem (bad input, missing workspace, ...). The message says what and where."""

    exit_code = 2
