"""The one exception type that reaches the user as a single line.

Anything the user can get wrong (a flag value, a config key, a data file) raises
:class:`DepthlabError` with a message that names the offending value and, where there
is a fixed set, the valid choices. The command prints it as one line and exits 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DepthlabError(Exception):
    """A user-facing error: its message is printed as one line, without a traceback."""


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> DepthlabError:
    """Build the error for a value outside a fixed set, suggesting the closest choice.

    >>> str(unknown_choice("activation", "tahn", ["tanh", "relu"]))
    "unknown activation 'tahn' (did you mean 'tanh'?); valid choices: relu, tanh"
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DepthlabError(f"unknown {what} '{value}'{hint}; valid choices: {', '.join(choices)}")


def either(names: Iterable[str]) -> str:
    """Names as a sentence lists them: ``auto, always or never``.

    >>> either(["auto", "autograd", "fused"])
    'auto, autograd or fused'
    """
    *head, last = names
    return f"{', '.join(head)} or {last}" if head else last
