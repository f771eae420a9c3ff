"""The generated security review: what each page shows, that it is stable, and what a change's diff names."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from harness import TEST_ACCOUNT, TEST_REGION, new_app
from mwaa_platform import acknowledge
from mwaa_platform.compliance import MWAA_CHECKS_PACK, MwaaChecks
from mwaa_platform.review import INDEX, render_review, review_diff, stale_pages, write_review
from mwaa_platform.review.__main__ import main

REASON = "Partner account 999999999999 runs its own role vending; reviewed in SEC-4711."
ENV = cdk.Environment(account=TEST_ACCOUNT, region=TEST_REGION)


def imported_vpc(stack):
    return ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a"],
                                       private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"],
                                       private_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaaa"])


def synthesize(directory, *, extra_action=False, extra_principal=False, acknowledged_root=False):
    """A small app: a role with a policy and a trust, a bucket, a security group; optionally more."""
    app = new_app(outdir=str(directory))
    stack = cdk.Stack(app, "Review", env=ENV)
    trusted = [iam.ServicePrincipal("glue.amazonaws.com")]
    if extra_principal:
        trusted.append(iam.ArnPrincipal("arn:aws:iam::999999999999:role/partner"))
    role = iam.Role(stack, "Worker", assumed_by=iam.CompositePrincipal(*trusted), role_name="worker")
    bucket = s3.Bucket(stack, "Data", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                       block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    bucket.grant_read(role)
    if extra_action:
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("in/*")]))
    vpc = imported_vpc(stack)
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc, description="workers", allow_all_outbound=False)
    group.add_ingress_rule(ec2.Peer.ipv4("10.0.0.0/16"), ec2.Port.tcp(443), "HTTPS from the VPC")
    if acknowledged_root:
        partner = iam.Role(stack, "Partner", assumed_by=iam.AccountPrincipal("999999999999"))
        acknowledge(partner, f"{MWAA_CHECKS_PACK}::{MWAA_CHECKS_PACK}-CrossAccountRootTrust[999999999999]", REASON)
    cdk.Validations.of(app).add_plugins(MwaaChecks())
    app.synth()
    return directory


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("base") / "cdk.out")


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("head") / "cdk.out", extra_action=True, extra_principal=True,
                      acknowledged_root=True)


def test_a_page_per_stack_and_an_index(base):
    pages = render_review(base)
    assert sorted(pages) == [INDEX, "Review.md"]
    assert "[Review](Review.md)" in pages[INDEX]


def test_the_page_shows_roles_grouped_by_resource_rules_exposure_and_encryption(base):
    page = render_review(base)["Review.md"]
    assert "Deploys to account `123456789012`, Region `eu-west-1`." in page
    assert "Role name `worker`." in page
    assert "| Allow | `Service: glue.amazonaws.com` | `sts:AssumeRole` | - |" in page
    assert "| `<Data666C94C7.Arn>/*` | Allow | `s3:GetBucket*`, `s3:GetObject*`, `s3:List*` | - |" in page
    assert "| `<GroupC77FDACD>` | ingress | tcp 443 | `10.0.0.0/16` | HTTPS from the VPC |" in page
    assert "| `Data666C94C7` | AWS::S3::Bucket | AES256 (S3 managed keys) |" in page
    assert "Bool aws:SecureTransport = false" in page  # the bucket's TLS-only policy, a resource policy
    exposure = page.split("## Public exposure")[1].split("##")[0]
    assert "None found." in exposure


def test_the_page_names_public_exposure(tmp_path):
    app = new_app(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Open", env=ENV)
    group = ec2.SecurityGroup(stack, "Group", vpc=imported_vpc(stack))
    group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22), "ssh")
    app.synth()
    exposure = render_review(tmp_path / "cdk.out")["Open.md"].split("## Public exposure")[1].split("##")[0]
    assert "ingress from the internet: tcp 22 from 0.0.0.0/0" in exposure


def test_acknowledgments_are_listed_with_their_reasons(head):
    page = render_review(head)["Review.md"]
    acknowledged = page.split("## Acknowledged findings")[1]
    assert "`MwaaChecks::MwaaChecks-CrossAccountRootTrust[999999999999]`" in acknowledged
    assert REASON in acknowledged and "Partner/Resource (Partner" in acknowledged


def test_the_review_is_deterministic_and_names_no_local_path(base, tmp_path):
    again = synthesize(tmp_path / "again" / "cdk.out")
    assert render_review(base) == render_review(again)
    assert not any(str(tmp_path.parent) in text or "/tmp" in text for text in render_review(base).values())


def test_the_diff_names_an_added_action_and_an_added_trust_principal(base, head):
    diff = review_diff(base, head)
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("s3:PutObject" in line and "<Data666C94C7.Arn>/in/*" in line for line in added), diff
    assert any("AWS: arn:aws:iam::999999999999:role/partner" in line for line in added), diff
    assert review_diff(base, base) == ""


def test_the_command_writes_checks_and_diffs(base, head, tmp_path, capsys):
    out = tmp_path / "review"
    assert main([str(base), "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == [INDEX, "Review.md"]
    assert main([str(base), "--out", str(out), "--check"]) == 0
    (out / "Gone.md").write_text("a stack that no longer exists\n")
    assert main([str(head), "--out", str(out), "--check"]) == 1
    assert stale_pages(head, out) == ["Gone.md", INDEX, "Review.md"]
    write_review(head, out)
    assert stale_pages(head, out) == [] and not (out / "Gone.md").exists()
    capsys.readouterr()
    assert main([str(head), "--base", str(base)]) == 0
    assert "+| Allow | `AWS: arn:aws:iam::999999999999:role/partner`" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing"), "--out", str(out)]) == 2
