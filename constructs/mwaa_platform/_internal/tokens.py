"""Whether a value is an unresolved CDK token, asking jsii only when it could be one."""

from __future__ import annotations

from aws_cdk import Token

#: How CDK encodes a string token inside a string (``${Token[TOKEN.12]}``).
_STRING_TOKEN_MARKER = "${Token["
#: CDK encodes number tokens as doubles near -1.9e289; no literal a user writes comes close.
_SMALLEST_NUMBER_TOKEN = 1e280


def is_unresolved(value: object) -> bool:
    """``Token.is_unresolved(value)``, without a jsii round trip for values that cannot be tokens.

    A bool, an int, None, a string without CDK's token marker or a float of ordinary size is a
    literal; anything else (an IResolvable, a list, an encoded number) is asked of CDK. Building a
    team's stacks checks dozens of literals, and each jsii call costs about half a millisecond.
    """
    if value is None or isinstance(value, (bool, int)):
        return False
    if isinstance(value, str):
        return _STRING_TOKEN_MARKER in value and Token.is_unresolved(value)
    if isinstance(value, float) and abs(value) < _SMALLEST_NUMBER_TOKEN:
        return False
    return Token.is_unresolved(value)
