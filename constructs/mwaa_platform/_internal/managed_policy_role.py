"""An IAM role whose every added permission lands in one customer managed policy.

aws-cdk-lib's ``grant_*`` methods and L2 constructs (an ECS task definition adding its image pull
and log permissions, say) call ``add_to_principal_policy``, which on a plain ``iam.Role`` creates
an inline ``DefaultPolicy``; the NIST 800-53, HIPAA and PCI packs reject inline policies. This
role overrides that call, so the same APIs write to its managed policy instead.
"""

from __future__ import annotations

from typing import Any, Optional

import jsii
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


@jsii.implements(iam.IGrantable)
class ManagedPolicyGrants(Construct):
    """An existing role as a grant target: grants land in a managed policy created here and attached to it.

    For a role defined in another stack (a shared environment's execution role, imported by name):
    the grants of this stack's resources stay in this stack, in a managed policy, not inline.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role: iam.IRole, description: str,
                 environment_name: Optional[str] = None) -> None:
        """
        :param environment_name: the MWAA environment whose execution role ``role`` is: grants that give
            its DAGs a way to something record that path for it. Default: none (no path recorded).
        """
        super().__init__(scope, construct_id)
        self.role = role
        self.environment_name = environment_name
        self._description = description
        self._policy: Optional[iam.ManagedPolicy] = None

    @property
    def policy(self) -> iam.ManagedPolicy:
        if self._policy is None:
            self._policy = iam.ManagedPolicy(self, "Policy", description=self._description, roles=[self.role])
        return self._policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return _PolicyPrincipal(self)


@jsii.implements(iam.IPrincipal)
class _PolicyPrincipal:
    def __init__(self, grants: ManagedPolicyGrants) -> None:
        self._grants = grants

    @property
    def policy(self) -> iam.ManagedPolicy:
        return self._grants.policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._grants.role.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._grants.role.policy_fragment

    @property
    def principal_account(self) -> Optional[str]:
        return self._grants.role.principal_account

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        self._grants.policy.add_statements(statement)
        return True

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self._grants.policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._grants.policy)


def managed_policy_of(principal: object) -> Optional[iam.ManagedPolicy]:
    """The managed policy grants to ``principal`` land in, when it is one of ours; else None."""
    policy = getattr(principal, "policy", None)
    return policy if isinstance(policy, iam.ManagedPolicy) else None
