"""The offline policy evaluator, on small hand-written policies."""

from __future__ import annotations

from typing import Any

import pytest

from config.tailnet_eval import (
    Access,
    PolicyEvaluator,
    UnsupportedPolicyError,
    parse_port_range,
    structural_problems,
)

ALICE = "alice@example.com"
BOB = "bob@example.com"


def sample_policy() -> dict[str, Any]:
    return {
        "groups": {"group:ops": [ALICE], "group:nobody": []},
        "tagOwners": {"tag:db": ["group:ops"], "tag:web": ["group:ops"]},
        "grants": [
            {"src": ["group:ops"], "dst": ["tag:db"], "ip": ["tcp:22"]},
            {"src": ["tag:web"], "dst": ["tag:db"], "ip": ["tcp:5432", "6379"]},
            {"src": ["tag:web"], "dst": [ALICE], "ip": ["tcp:8000-8010"]},
        ],
        "tests": [
            {"src": ALICE, "proto": "tcp", "accept": ["tag:db:22"], "deny": ["tag:db:5432"]},
            {"src": "tag:web", "accept": ["tag:db:5432"], "deny": ["tag:db:22"]},
        ],
    }


@pytest.fixture
def evaluator() -> PolicyEvaluator:
    return PolicyEvaluator(sample_policy())


def test_group_grant_allows_member(evaluator: PolicyEvaluator) -> None:
    assert evaluator.allows(ALICE, "tag:db", 22)


def test_group_grant_denies_non_member(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies(BOB, "tag:db", 22)


def test_grant_denies_other_port(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies(ALICE, "tag:db", 23)


def test_tag_grant_allows_listed_ports(evaluator: PolicyEvaluator) -> None:
    assert evaluator.allows("tag:web", "tag:db", 5432)


def test_tag_grant_denies_other_tag(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies("tag:db", "tag:web", 5432)


def test_bare_port_covers_udp(evaluator: PolicyEvaluator) -> None:
    assert evaluator.allows("tag:web", "tag:db", 6379, protocol="udp")


def test_tcp_port_excludes_udp(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies("tag:web", "tag:db", 5432, protocol="udp")


def test_range_covers_both_ends(evaluator: PolicyEvaluator) -> None:
    assert evaluator.allows("tag:web", ALICE, 8000)
    assert evaluator.allows("tag:web", ALICE, 8010)


def test_range_excludes_next_port(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies("tag:web", ALICE, 8011)


def test_group_source_needs_every_member() -> None:
    policy = sample_policy()
    policy["groups"]["group:ops"] = [ALICE, BOB]
    policy["grants"].append({"src": [ALICE], "dst": ["tag:web"], "ip": ["tcp:80"]})
    evaluator = PolicyEvaluator(policy)
    assert not evaluator.allows("group:ops", "tag:web", 80)


def test_group_source_allowed_when_all_members_are() -> None:
    policy = sample_policy()
    policy["groups"]["group:ops"] = [ALICE, BOB]
    assert PolicyEvaluator(policy).allows("group:ops", "tag:db", 22)


def test_empty_group_is_never_allowed(evaluator: PolicyEvaluator) -> None:
    assert not evaluator.allows("group:nobody", "tag:db", 22)


def test_wildcard_source_allows_anyone() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": ["*"], "dst": ["tag:web"], "ip": ["tcp:443"]})
    evaluator = PolicyEvaluator(policy)
    assert evaluator.allows(BOB, "tag:web", 443)
    assert evaluator.allows("tag:db", "tag:web", 443)


def test_member_autogroup_excludes_tags() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": ["autogroup:member"], "dst": ["tag:web"], "ip": ["tcp:443"]})
    evaluator = PolicyEvaluator(policy)
    assert evaluator.allows(BOB, "tag:web", 443)
    assert evaluator.denies("tag:db", "tag:web", 443)


def test_device_reaches_itself(evaluator: PolicyEvaluator) -> None:
    assert evaluator.allows("tag:db", "tag:db", 9999)


def test_own_tests_pass(evaluator: PolicyEvaluator) -> None:
    failures = [result for result in evaluator.run_tests() if not result.passed]
    assert failures == []


def test_reports_failing_accept() -> None:
    policy = sample_policy()
    policy["tests"] = [{"src": BOB, "accept": ["tag:db:22"]}]
    results = PolicyEvaluator(policy).run_tests()
    assert [result.access for result in results if not result.passed] == [Access(BOB, "tag:db", 22)]


def test_reports_failing_deny() -> None:
    policy = sample_policy()
    policy["tests"] = [{"src": ALICE, "deny": ["tag:db:22"]}]
    results = PolicyEvaluator(policy).run_tests()
    assert [result.access for result in results if not result.passed] == [
        Access(ALICE, "tag:db", 22)
    ]


def test_rejects_acls_section() -> None:
    policy = sample_policy()
    policy["acls"] = [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]
    with pytest.raises(UnsupportedPolicyError, match="acls"):
        PolicyEvaluator(policy)


def test_rejects_address_selector() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": ["100.64.0.1"], "dst": ["tag:db"], "ip": ["tcp:22"]})
    with pytest.raises(UnsupportedPolicyError, match=r"100\.64\.0\.1"):
        PolicyEvaluator(policy)


def test_rejects_undefined_group() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": ["group:ghosts"], "dst": ["tag:db"], "ip": ["tcp:22"]})
    with pytest.raises(UnsupportedPolicyError, match="group:ghosts"):
        PolicyEvaluator(policy)


def test_rejects_application_grant() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": [ALICE], "dst": ["tag:db"], "app": {"example.com/cap": [{}]}})
    with pytest.raises(UnsupportedPolicyError, match="network grants"):
        PolicyEvaluator(policy)


def test_rejects_host_alias_destination(evaluator: PolicyEvaluator) -> None:
    with pytest.raises(UnsupportedPolicyError, match="not a tag or a user"):
        evaluator.allows(ALICE, "db-host", 22)


@pytest.mark.parametrize("entry", ["tcp:", "tcp:22-", "tcp:9-3", "gre:22", "tcp:70000"])
def test_rejects_malformed_port_entry(entry: str) -> None:
    with pytest.raises(UnsupportedPolicyError):
        parse_port_range(entry)


def test_structure_flags_port_range() -> None:
    problems = structural_problems(sample_policy() | {"groups": {"group:ops": [ALICE]}})
    assert problems == ["grants[2].ip: 'tcp:8000-8010' opens more than one port"]


def test_structure_flags_wildcard_source() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": ["*"], "dst": ["tag:db"], "ip": ["tcp:22"]})
    assert "grants[3].src: '*' is broader than one role" in structural_problems(policy)


def test_structure_flags_wildcard_port() -> None:
    policy = sample_policy()
    policy["grants"].append({"src": [ALICE], "dst": ["tag:db"], "ip": ["*"]})
    assert "grants[3].ip: '*' opens more than one port" in structural_problems(policy)


def test_structure_flags_unowned_test_tag() -> None:
    policy = sample_policy()
    policy["tests"].append({"src": "tag:cache", "deny": ["tag:db:22"]})
    assert "tests[2]: 'tag:cache' has no entry under tagOwners" in structural_problems(policy)


def test_structure_flags_empty_group() -> None:
    assert "groups.group:nobody: empty group" in structural_problems(sample_policy())


def test_structure_flags_missing_tests() -> None:
    policy = sample_policy()
    del policy["tests"]
    assert "tests: missing; the control server checks nothing on save" in structural_problems(
        policy
    )
