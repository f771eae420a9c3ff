"""An IAM role whose every added permission lands in one customer managed policy.

aws-cdk-lib's ``grant_*`` methods and L2 constructs (an ECS task definition adding its image pull
and log permissions, say) call ``add_to_principal_policy``, which on a plain ``iam.Role`` creates
an inline ``DefaultPolicy``; the NIST 800-53, HIPAA and PCI packs reject inline policies. This
role overrides that call, so the same APIs write to its managed policy instead.
"""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import aws_iam as iam
from constructs import Construct


class ManagedPolicyRole(iam.Role):
    """``iam.Role`` plus ``policy``, a managed policy in ``scope`` (id ``policy_id``) that receives every grant.

    The policy is created with the first permission: a role that is never granted anything (a task
    role, say) has no policy at all, since an empty policy is not valid.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, policy_id: str, policy_description: Optional[str] = None,
        **role_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **role_props)
        self._policy_scope, self._policy_id, self._policy_description = scope, policy_id, policy_description
        self._policy: Optional[iam.ManagedPolicy] = None

    @property
    def policy(self) -> iam.ManagedPolicy:
        if self._policy is None:
            self._policy = iam.ManagedPolicy(self._policy_scope, self._policy_id,
                                             description=self._policy_description, roles=[self])
        return self._policy

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self.policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self.policy)

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        self.policy.add_statements(statement)
        return True
