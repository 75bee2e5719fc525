"""Errors that reach the user as one line and a non-zero exit status."""

from __future__ import annotations


class EdgewardenError(Exception):
    """A failure the user can act on; `str()` is the one-line reason shown by the CLI."""

    exit_code = 1


class UsageError(EdgewardenError):
    """Bad arguments or bad input files (exit status 2, like argparse)."""

    exit_code = 2
