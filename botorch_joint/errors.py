"""Exceptions for runs that are set up wrongly, as opposed to bugs or failed simulations.

A :class:`UsageError` means the user's settings cannot work and its message says what
to change; the command line prints that message on one line and exits with status 2
instead of showing a traceback. Each subclass also derives from the built-in exception
that describes it (``ValueError``, ``FileExistsError``), so ``except ValueError`` keeps
working.
"""

from __future__ import annotations

__all__ = [
    "InvalidResultError",
    "ProblemDefinitionError",
    "RunDirectoryError",
    "SettingsError",
    "UsageError",
]


class UsageError(Exception):
    """The settings of a run cannot work; the message names the setting and the fix."""


class SettingsError(UsageError, ValueError):
    """An argument of :func:`~botorch_joint.optimize` is invalid or contradicts another.

    Also raised when ``resume=True`` meets a checkpoint of another problem or of
    different settings.
    """


class RunDirectoryError(UsageError, FileExistsError):
    """The run directory already holds a run, and ``resume`` was not asked for."""


class ProblemDefinitionError(UsageError, ValueError):
    """A problem was declared inconsistently (bounds, names, reference point)."""


class InvalidResultError(ValueError):
    """A simulator returned a result that does not match the problem's declaration."""
