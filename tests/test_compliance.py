"""The acknowledgment helper, the nag harness and the cfn-lint harness each fail when they must."""

import ast
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from harness import REPO_ROOT, assert_cfn_lint_clean, assert_nag_clean, nag_violations, repo_python_files
from mwaa_platform import acknowledge, acknowledge_across_packs
from mwaa_platform.compliance.nag import known_pack_names

REASON = "The service accepts no narrower resource for this action."


def _recorded(construct) -> dict:
    recorded = {}
    for entry in construct.node.metadata:
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
            recorded.update(entry.data)
    return recorded


def _wildcard_role(stack):
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"]))
    return role


def test_known_packs_are_read_from_cdk_nag():
    assert {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"} <= set(known_pack_names())


@pytest.mark.parametrize(
    "rule_id",
    [
        "AwsSolutions-IAM5",  # bare: hides the finding without an audit record
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions::NIST.800.53.R5-IAMNoInlinePolicy",  # pack prefix and rule disagree
        "Unknown::Unknown-X1",
        "AwsSolutions::",
    ],
)
def test_acknowledge_rejects_ids_that_are_not_pack_prefixed(stack, rule_id):
    with pytest.raises(ValueError, match=r"rule_id must be pack-prefixed .*got '" + r".*'"):
        acknowledge(stack, rule_id, REASON)
    assert _recorded(stack) == {}


def test_acknowledge_rejects_short_reasons_before_recording_anything(stack):
    with pytest.raises(ValueError, match=r"at least 30 characters, got 2 \('ok'\)"):
        acknowledge(stack, ["AwsSolutions::AwsSolutions-IAM5[Resource::*]"], "ok")
    with pytest.raises(ValueError, match="at least one finding"):
        acknowledge(stack, [], REASON)
    assert _recorded(stack) == {}


def test_acknowledge_records_each_pack_prefixed_finding(stack):
    ids = ["AwsSolutions::AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy"]
    acknowledge(stack, ids, "  " + REASON + "  ")
    assert _recorded(stack) == {ack_id: REASON for ack_id in ids}


def test_acknowledge_across_packs_records_the_rule_in_each_compliance_pack(stack):
    acknowledge_across_packs(stack, "LambdaInsideVPC", REASON)
    assert _recorded(stack) == {
        "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC": REASON,
        "HIPAA.Security::HIPAA.Security-LambdaInsideVPC": REASON,
        "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC": REASON,
    }


def test_acknowledge_across_packs_takes_the_packs_that_have_the_rule(stack):
    acknowledge_across_packs(stack, "LambdaDLQ", REASON, packs=("NIST.800.53.R5", "HIPAA.Security"))
    assert sorted(_recorded(stack)) == ["HIPAA.Security::HIPAA.Security-LambdaDLQ",
                                        "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ"]


def test_acknowledge_across_packs_keeps_the_audit_rules(stack):
    with pytest.raises(ValueError, match=r"at least 30 characters"):
        acknowledge_across_packs(stack, "LambdaDLQ", "short")
    with pytest.raises(ValueError, match=r"rule_id must be pack-prefixed .*got 'Nope::Nope-LambdaDLQ'"):
        acknowledge_across_packs(stack, "LambdaDLQ", REASON, packs=("Nope",))
    with pytest.raises(ValueError, match=r"packs must name at least one cdk-nag pack for rule 'LambdaDLQ'"):
        acknowledge_across_packs(stack, "LambdaDLQ", REASON, packs=())
    assert _recorded(stack) == {}


def test_acknowledge_writes_checkov_skips_into_the_resource_metadata(stack):
    bucket = s3.Bucket(stack, "Logs")
    acknowledge(bucket, "checkov::CKV_AWS_18", REASON)
    acknowledge(bucket, ["checkov::CKV2_AWS_62", "AwsSolutions::AwsSolutions-S1"], REASON)
    assert bucket.node.default_child.get_metadata("checkov") == {"skip": [
        {"id": "CKV_AWS_18", "comment": REASON}, {"id": "CKV2_AWS_62", "comment": REASON}]}
    assert _recorded(bucket) == {"AwsSolutions::AwsSolutions-S1": REASON}  # nag ids still go to CDK


def test_checkov_skips_need_a_resource_and_a_reason(stack):
    with pytest.raises(ValueError, match=r"checkov skips \(CKV_AWS_18\) live on one CloudFormation resource; Test is not"):
        acknowledge(stack, "checkov::CKV_AWS_18", REASON)
    bucket = s3.Bucket(stack, "Logs")
    with pytest.raises(ValueError, match=r"at least 30 characters"):
        acknowledge(bucket, "checkov::CKV_AWS_18", "short")
    with pytest.raises(ValueError, match=r"or 'checkov::CKV_AWS_<n>' for a checkov check\), got 'checkov::S3_1'"):
        acknowledge(bucket, "checkov::S3_1", REASON)
    assert bucket.node.default_child.get_metadata("checkov") is None


def test_nag_helper_fails_naming_rule_and_construct_path(stack):
    s3.Bucket(stack, "Bucket")  # no SSL enforcement, no access logs
    with pytest.raises(AssertionError) as failure:
        assert_nag_clean(stack)
    message = str(failure.value)
    assert "AwsSolutions::AwsSolutions-S10 at Test/Bucket/Resource" in message
    assert "AwsSolutions::AwsSolutions-S1 at Test/Bucket/Resource" in message
    assert "NIST.800.53.R5::" in message and "HIPAA.Security::" in message and "PCI.DSS.321::" in message


def test_nag_helper_honours_pack_prefixed_acknowledgments_on_ancestors(stack):
    role = _wildcard_role(stack)
    finding = "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
    assert any(line.startswith(finding + " at Test/Role/DefaultPolicy/Resource") for line in nag_violations(stack))
    acknowledge(role, finding, REASON)
    assert not [line for line in nag_violations(stack) if line.startswith(finding)]


def test_nag_helper_does_not_let_an_acknowledgment_leak_to_siblings(stack):
    role = _wildcard_role(stack)
    iam.Role(stack, "Role2", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")).add_to_policy(
        iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"])
    )
    acknowledge(role, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", REASON)
    violations = nag_violations(stack)
    assert any("AwsSolutions-IAM5[Resource::*] at Test/Role2/" in line for line in violations)
    assert not any("AwsSolutions-IAM5[Resource::*] at Test/Role/" in line for line in violations)


def test_cfn_lint_helper_fails_on_a_bad_template(tmp_path):
    bad = tmp_path / "Bad.template.json"
    bad.write_text(
        json.dumps(
            {
                "Resources": {
                    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"NotAProperty": 1}},
                    "Bucket": {"Type": "AWS::S3::Bucket", "DependsOn": "Missing"},
                }
            }
        )
    )
    with pytest.raises(AssertionError) as failure:
        assert_cfn_lint_clean([bad])
    assert "E3002" in str(failure.value) and "E3005" in str(failure.value)


def test_cfn_lint_helper_passes_a_good_template(tmp_path):
    good = tmp_path / "Good.template.json"
    good.write_text(json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))
    assert_cfn_lint_clean([good])


# --- only the library's helper acknowledges ------------------------------------------------

HELPER = REPO_ROOT / "constructs" / "mwaa_platform" / "compliance" / "nag.py"


def _direct_acknowledgments(source: str) -> list[int]:
    """Lines that acknowledge findings without the library helper."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "acknowledge":
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id == "compliance"):
                lines.append(node.lineno)
        if isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) == "Acknowledgment":
            lines.append(node.lineno)
    return lines


def test_scanner_catches_direct_acknowledgments():
    sample = (
        "import aws_cdk as cdk\n"
        "cdk.Validations.of(x).acknowledge(cdk.Acknowledgment(id='a', reason='b'))\n"
        "v = cdk.Validations.of(x)\n"
        "v.acknowledge(y)\n"
        "from mwaa_platform import compliance\n"
        "compliance.acknowledge(x, 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', 'r')\n"
    )
    assert sorted(set(_direct_acknowledgments(sample))) == [2, 4]
    assert _direct_acknowledgments(HELPER.read_text()), "the helper itself must be found by the scanner"


def test_only_the_library_helper_calls_validations_acknowledge():
    offenders = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in repo_python_files()
        if path != HELPER and (lines := _direct_acknowledgments(path.read_text()))
    }
    assert offenders == {}, f"acknowledge through mwaa_platform.acknowledge only: {offenders}"
