"""Whether an argument is of the kind a parameter takes, for the constructs' first checks.

A string passed where a network construct belongs used to fail deep inside a construct with an
``AttributeError``; these checks refuse it first, naming the parameter and the expected type.

aws-cdk-lib's interfaces (``kms.IKey``, ``sns.ITopic``) are jsii protocols that ``isinstance``
cannot check, and jsii's own checks accept any object for them. A value implements one when its
class (or a base) declares it through ``jsii.implements`` (every aws-cdk-lib class does), or when
it is jsii's proxy of an object created in the jsii runtime (what ``Key.from_key_arn`` returns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

from mwaa_platform.errors import MwaaPlatformTypeError, shorten

__all__ = ["Kind", "check_each", "check_kind", "is_kind", "kind_name"]

#: A class, a runtime-checkable protocol, an aws-cdk-lib interface, or a tuple of them (any one).
Kind = Union[type, tuple[type, ...]]


def _is_jsii_interface(kind: type) -> bool:
    return bool(getattr(kind, "_is_protocol", False)) and hasattr(kind, "__jsii_type__") and not getattr(
        kind, "_is_runtime_protocol", False)


def _implements(value: object, interface: type) -> bool:
    """Whether ``value`` implements the jsii interface ``interface`` (or one extending it)."""
    fqn = vars(interface).get("__jsii_type__")
    # jsii's InterfaceDynamicProxy holds one delegate per interface the object has
    delegates = getattr(value, "_delegates", None) if type(value).__name__ == "InterfaceDynamicProxy" else None
    for candidate in delegates if isinstance(delegates, list) else [value]:
        for cls in type(candidate).__mro__:
            if fqn is not None and vars(cls).get("__jsii_type__") == fqn:  # the interface's own proxy class
                return True
            if any(interface in declared.__mro__ for declared in vars(cls).get("__jsii_ifaces__", ())):
                return True
    return False


def is_kind(value: object, kind: Kind) -> bool:
    """Whether ``value`` is an instance of ``kind`` (of any one of a tuple)."""
    if isinstance(kind, tuple):
        return any(is_kind(value, one) for one in kind)
    if _is_jsii_interface(kind):
        return _implements(value, kind)
    return isinstance(value, kind)


def kind_name(kind: Kind) -> str:
    """``kms.IKey`` for aws-cdk-lib's ``aws_cdk.aws_kms.IKey``, the class name for the library's own."""
    if isinstance(kind, tuple):
        return " or ".join(kind_name(one) for one in kind)
    module = kind.__module__
    if module.startswith("aws_cdk.aws_"):
        return f"{module[len('aws_cdk.aws_'):]}.{kind.__name__}"
    if module == "aws_cdk":
        return f"cdk.{kind.__name__}"
    return kind.__name__


def _given(value: object) -> str:
    return repr(value) if value is None or isinstance(value, bool) else f"{type(value).__name__} {shorten(value)}"


def check_kind(field: str, value: object, kind: Kind, *, optional: bool = False, hint: Optional[str] = None) -> None:
    """Raise ``MwaaPlatformTypeError`` unless ``value`` is a ``kind`` (or None, when ``optional``).

    The message reads "network must be of type AirflowNetworkBase (an AirflowNetwork or
    SharedAirflowNetwork), got str 'vpc-123'".

    :param hint: what to pass, when the type's name alone does not say it. Default: none.
    """
    if value is None and optional:
        return
    if not is_kind(value, kind):
        raise MwaaPlatformTypeError(
            f"{field} must be of type {kind_name(kind)}{f' ({hint})' if hint else ''}{' or None' if optional else ''}, "
            f"got {_given(value)}")


def check_each(field: str, values: object, kind: Kind, *, hint: Optional[str] = None) -> None:
    """Raise unless ``values`` is a list (or tuple) of ``kind``, or a mapping whose values are.

    Entries are named by position (``statements[2]``) or key (``secrets['TOKEN']``).
    """
    entries: Sequence[tuple[str, Any]]
    if isinstance(values, Mapping):
        entries = [(f"{field}[{key!r}]", value) for key, value in values.items()]
    elif isinstance(values, (list, tuple)):
        entries = [(f"{field}[{index}]", value) for index, value in enumerate(values)]
    else:
        raise MwaaPlatformTypeError(f"{field} must be a list of {kind_name(kind)}, got {_given(values)}")
    for name, value in entries:
        check_kind(name, value, kind, hint=hint)
