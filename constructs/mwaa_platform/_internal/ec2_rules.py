"""Deploy-time rules of EC2 that CloudFormation's schema does not carry (EC2 API reference)."""

from __future__ import annotations

import re

from mwaa_platform.errors import MwaaPlatformError, shorten

#: Characters a security group's or rule's description may hold (IpRange, UserIdGroupPair,
#: PrefixListId and CreateSecurityGroup GroupDescription), and its length.
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$")
EC2_DESCRIPTION_MAX = 255
EC2_DESCRIPTION_CHARS = "a-z A-Z 0-9, spaces and ._-:/()#,@[]+=&;{}!$*"


def check_ec2_description(field: str, text: str) -> None:
    """Raise unless EC2 accepts ``text`` as a security group (rule) description."""
    bad = "".join(sorted({char for char in text if not EC2_DESCRIPTION.match(char)}))
    if bad:
        raise MwaaPlatformError(
            f"{field} may hold only {EC2_DESCRIPTION_CHARS} (EC2 rejects anything else at deploy time), got "
            f"{shorten(text)} with {bad!r}"
        )
    if len(text) > EC2_DESCRIPTION_MAX:
        raise MwaaPlatformError(f"{field} may have at most {EC2_DESCRIPTION_MAX} characters (EC2), got {len(text)}")
