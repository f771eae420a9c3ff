"""The one error type of the library: a user's mistake, with the construct it happened in.

aws-cdk-lib raises ``ValidationError(message, scope)``; this is the same idea for mwaa-platform.
``MwaaPlatformError`` is a ``ValueError``, so ``except ValueError`` keeps working, and an app (the
platform's registry loader, say) can catch exactly the library's errors and nothing else.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from constructs import IConstruct

__all__ = ["MwaaPlatformError", "MwaaPlatformTypeError", "construct_path", "shorten", "validating"]

#: Longest value echoed in a message: a user's 3 GB YAML alias bomb must not become a 3 GB message.
MAX_VALUE_CHARS = 200


class MwaaPlatformError(ValueError):
    """A value the library cannot accept, and where: the message names the field, the bad value and
    what is allowed; ``construct_path`` names the construct being built, when there is one.

    ``str(error)`` is ``"<construct path>: <message>"`` (or only the message without a path), and
    ``error.message`` is the message alone, for callers that add their own location.

    :param message: what is wrong: the field, the bad value (through ``shorten``) and what is allowed.
    :param construct_path: the construct being built. Default: none (a check run before any
        construct exists, such as the registry's); ``validating`` fills it in.
    """

    def __init__(self, message: str, construct_path: Optional[str] = None) -> None:
        self.message = message
        self.construct_path = construct_path
        super().__init__(f"{construct_path}: {message}" if construct_path else message)

    def at(self, construct_path: str) -> "MwaaPlatformError":
        """This error located at ``construct_path`` (unless it already names a construct)."""
        if self.construct_path:
            return self
        return type(self)(self.message, construct_path)


class MwaaPlatformTypeError(MwaaPlatformError, TypeError):
    """An argument of the wrong kind: a string where a network construct belongs, say.

    It is a ``MwaaPlatformError`` (so ``except MwaaPlatformError`` and ``except ValueError`` still
    catch every mistake the library reports) and a ``TypeError``, as Python reports a wrong type.
    The message names the parameter, the expected type and what was given.
    """


def construct_path(scope: IConstruct, construct_id: Optional[str] = None) -> str:
    """The path of ``scope``, or of the child ``construct_id`` that ``scope`` is about to create."""
    path = scope.node.path
    if construct_id is None:
        return path
    return f"{path}/{construct_id}" if path else construct_id


@contextmanager
def validating(scope: IConstruct, construct_id: Optional[str] = None) -> Iterator[None]:
    """Locate every ``MwaaPlatformError`` raised inside the block at ``scope`` (or its child)."""
    try:
        yield
    except MwaaPlatformError as error:
        raise error.at(construct_path(scope, construct_id)) from None


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring = _REPR.maxother = MAX_VALUE_CHARS


def shorten(value: object) -> str:
    """``repr(value)`` for a message, bounded in depth, items and length.

    The work is bounded too: nested containers are cut at three levels and six items, so a value
    built from YAML aliases is never expanded.
    """
    text = _REPR.repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
