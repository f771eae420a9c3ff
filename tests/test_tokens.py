"""is_unresolved agrees with CDK's Token.is_unresolved, and asks jsii only about possible tokens."""

import aws_cdk as cdk
import pytest
from aws_cdk import Token

from mwaa_platform._internal.tokens import is_unresolved

LITERALS = [None, True, 0, 3, -7, 2.5, -1e12, "", "mw1.micro", "${Token", "#{Token[x]}", "arn:aws:s3:::b/*"]


@pytest.mark.parametrize("value", LITERALS, ids=repr)
def test_literals_are_literals_without_asking_jsii(value, monkeypatch):
    assert not Token.is_unresolved(value)

    def no_call(*args):
        raise AssertionError("asked jsii about a literal")
    monkeypatch.setattr(Token, "is_unresolved", no_call)
    assert is_unresolved(value) is False


def test_tokens_are_tokens_as_cdk_says():
    stack = cdk.Stack()
    for value in (stack.account, f"prefix-{stack.region}-suffix", Token.as_number(cdk.Fn.ref("Count")),
                  Token.as_list(cdk.Fn.ref("Subnets")), cdk.Fn.get_att("Thing", "Arn"), cdk.Fn.ref("Thing")):
        assert Token.is_unresolved(value), value
        assert is_unresolved(value) is True, value
