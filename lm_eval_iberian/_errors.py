"""The project's user-error base class.

Every error that means "the input is wrong" (a recipe, a model argument, a mirror file, a results file, a
config) derives from :class:`UserError`. The command line shows such an error as one line and exits 2; any other
exception is a bug and keeps its traceback. Each subclass also derives from the builtin it replaces
(``ValueError``, ``RuntimeError``), so ``except ValueError`` in callers keeps working.
"""

__all__ = ["UsageError", "UserError"]


class UserError(Exception):
    """A mistake in what the user gave; the message names the problem and the fix."""


class UsageError(UserError, ValueError):
    """A bad option or argument value (a boolean, a number, a path)."""
