"""checkov, the scanner security reviewers run on CloudFormation, finds nothing on the example platform.

checkov runs once per session on the synthesized platform (the `platform` fixture). It lives in
its own virtualenv (`.venv-checkov`, made by `make setup`) because it pins its own boto3; the
Makefile exports its path as CHECKOV. Every accepted check is skipped on its resource through
`mwaa_platform.acknowledge(scope, "checkov::CKV_...", reason)`, so the reason is in the template.
"""

import json
from pathlib import Path

import pytest

from harness import checkov_failures, checkov_reports


@pytest.fixture(scope="session")
def checkov_report(platform):
    return checkov_reports(platform.assembly)


def _results(reports, kind):
    return [check for report in reports for check in report["results"][kind]]


def test_checkov_reports_no_failed_check(checkov_report):
    assert checkov_failures(checkov_report) == []
    assert len(_results(checkov_report, "passed_checks")) > 100  # it really scanned the templates


def test_checkov_parsed_every_resource_of_every_template(checkov_report, platform):
    resources = sum(len(json.loads(path.read_text()).get("Resources", {}))
                    for path in Path(platform.assembly.directory).glob("*.template.json"))
    summary = checkov_report[0]["summary"]
    assert (summary["parsing_errors"], summary["resource_count"]) == (0, resources)


def test_every_checkov_skip_carries_a_reason_and_is_used(checkov_report, platform):
    declared = set()
    for path in Path(platform.assembly.directory).glob("*.template.json"):
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip.get("comment", "")) >= 30, (logical_id, skip)
                declared.add((path.name, logical_id, skip["id"]))
    skipped = {(Path(c["file_path"]).name, c["resource"].split(".", 1)[1], c["check_id"])
               for c in _results(checkov_report, "skipped_checks")}
    assert declared, "no checkov skips found: the metadata is not reaching the templates"
    assert sorted(declared - skipped) == []  # a skip for a check that no longer fails is stale
