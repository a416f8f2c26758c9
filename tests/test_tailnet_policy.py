"""The generated tailnet policy: one flow table, its grants and its own tests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from config.load import ConfigError
from config.tailnet_eval import Access, PolicyEvaluator, structural_problems
from config.tailnet_policy import (
    ADMIN_GROUP,
    DOCKER_API_PORTS,
    FlowTable,
    flow_table,
    host_tag,
    policy,
    policy_json,
)
from config.topology import SSH_PORT, Topology
from render.document import Rendered
from tests.conftest import by_name, load_model, topology_of

MONK = host_tag("monk")
CLOUD = host_tag("kscloud1")


@pytest.fixture(scope="session")
def topology() -> Topology:
    return topology_of("kscloud1")


@pytest.fixture(scope="session")
def table(topology: Topology) -> FlowTable:
    return flow_table(topology)


@pytest.fixture(scope="session")
def deployed(rendered: dict[str, Rendered]) -> dict[str, Any]:
    """Return the policy exactly as the kscloud1 stack hands it to Tailscale."""
    acl = by_name(rendered["kscloud1"], "kitestacks-tailnet-policy")
    return json.loads(acl["inputs"]["acl"])


@pytest.fixture(scope="session")
def evaluator(deployed: dict[str, Any]) -> PolicyEvaluator:
    return PolicyEvaluator(deployed)


def admin(topology: Topology) -> str:
    return topology.model.site.admin_users[0]


def port_of(topology: Topology, service: str) -> int:
    port = topology.service(service).published_port
    assert port is not None
    return port


def connections_in(policy_document: dict[str, Any], key: str) -> set[Access]:
    """Return the connections that the policy's tests block accepts or denies."""
    found: set[Access] = set()
    for test in policy_document["tests"]:
        for text in test.get(key, []):
            destination, _, port = text.rpartition(":")
            found.add(Access(test["src"], destination, int(port), test["proto"]))
    return found


def test_render_deploys_generated_policy(deployed: dict[str, Any], topology: Topology) -> None:
    assert deployed == json.loads(policy_json(topology))


def test_policy_json_is_stable(topology: Topology) -> None:
    assert policy_json(topology) == policy_json(topology_of("kscloud1"))


def test_own_tests_pass_offline(evaluator: PolicyEvaluator) -> None:
    failures = [str(result.access) for result in evaluator.run_tests() if not result.passed]
    assert failures == []


def test_tests_accept_exactly_required(deployed: dict[str, Any], table: FlowTable) -> None:
    assert connections_in(deployed, "accept") == set(table.required)


def test_tests_deny_exactly_forbidden(deployed: dict[str, Any], table: FlowTable) -> None:
    assert connections_in(deployed, "deny") == set(table.forbidden)


def test_evaluator_accepts_required(evaluator: PolicyEvaluator, table: FlowTable) -> None:
    refused = [
        str(a) for a in table.required if not evaluator.allows(a.source, a.destination, a.port)
    ]
    assert refused == []


def test_evaluator_denies_forbidden(evaluator: PolicyEvaluator, table: FlowTable) -> None:
    opened = [
        str(a) for a in table.forbidden if not evaluator.denies(a.source, a.destination, a.port)
    ]
    assert opened == []


def test_table_sides_are_disjoint(table: FlowTable) -> None:
    assert set(table.required) & set(table.forbidden) == set()


def test_every_flow_is_required(topology: Topology, table: FlowTable) -> None:
    required = {(a.destination, a.port) for a in table.required}
    missing = [
        flow for flow in topology.flows if (host_tag(flow.destination), flow.port) not in required
    ]
    assert missing == []


def test_policy_is_structurally_tight(deployed: dict[str, Any]) -> None:
    assert structural_problems(deployed) == []


def test_policy_has_no_tailscale_ssh(deployed: dict[str, Any]) -> None:
    assert "ssh" not in deployed


def test_every_host_tag_is_owned(deployed: dict[str, Any], topology: Topology) -> None:
    owned = set(deployed["tagOwners"])
    assert owned == {host_tag(host) for host in topology.model.catalogue.hosts}


def test_admin_group_lists_admin_users(deployed: dict[str, Any], topology: Topology) -> None:
    assert deployed["groups"][ADMIN_GROUP] == sorted(topology.model.site.admin_users)


def test_test_sources_are_logins_or_tags(deployed: dict[str, Any]) -> None:
    sources = [test["src"] for test in deployed["tests"]]
    assert all(source.startswith("tag:") or "@" in source for source in sources)


# Flows the architecture requires, written from the catalogue's intent rather
# than from the generator: (source, destination, service whose port is used).
REQUIRED_INTENT = [
    ("monk", "kscloud1", "authentik-postgres"),
    ("monk", "kscloud1", "authentik-redis"),
    ("monk", "kscloud1", "node-exporter"),
    ("kscloud1", "monk", "authentik-server"),
    ("kscloud1", "monk", "grafana"),
]


@pytest.mark.parametrize(("source", "destination", "service"), REQUIRED_INTENT)
def test_required_intent_is_open(
    evaluator: PolicyEvaluator, topology: Topology, source: str, destination: str, service: str
) -> None:
    port = port_of(topology, service)
    assert evaluator.allows(host_tag(source), host_tag(destination), port)


def test_prometheus_reaches_cloudflared_metrics(
    evaluator: PolicyEvaluator, topology: Topology
) -> None:
    assert evaluator.allows(MONK, CLOUD, topology.metrics_host_port("cloudflared"))


@pytest.mark.parametrize("host", ["monk", "kscloud1"])
def test_admins_reach_ssh(evaluator: PolicyEvaluator, topology: Topology, host: str) -> None:
    assert evaluator.allows(admin(topology), host_tag(host), SSH_PORT)


def test_kscloud1_cannot_ssh_to_monk(evaluator: PolicyEvaluator) -> None:
    assert evaluator.denies(CLOUD, MONK, SSH_PORT)


@pytest.mark.parametrize("service", ["osticket-db", "bookstack-db", "karakeep-meilisearch"])
def test_kscloud1_cannot_reach_monk_databases(
    evaluator: PolicyEvaluator, topology: Topology, service: str
) -> None:
    assert evaluator.denies(CLOUD, MONK, port_of(topology, service))


@pytest.mark.parametrize("service", ["authentik-postgres", "authentik-redis"])
def test_admins_cannot_reach_identity_stores(
    evaluator: PolicyEvaluator, topology: Topology, service: str
) -> None:
    assert evaluator.denies(admin(topology), CLOUD, port_of(topology, service))


def test_monk_cannot_reach_backup_wiki_database(
    evaluator: PolicyEvaluator, topology: Topology
) -> None:
    assert evaluator.denies(MONK, CLOUD, port_of(topology, "bookstack-db"))


@pytest.mark.parametrize("port", DOCKER_API_PORTS)
@pytest.mark.parametrize("destination", [MONK, CLOUD])
def test_docker_api_is_closed(
    evaluator: PolicyEvaluator, topology: Topology, destination: str, port: int
) -> None:
    sources = [admin(topology), MONK, CLOUD]
    opened = [s for s in sources if s != destination and not evaluator.denies(s, destination, port)]
    assert opened == []


def test_replicas_ingress_reaches_every_monk_only_route(
    evaluator: PolicyEvaluator, topology: Topology
) -> None:
    monk_only = [route for route in topology.routes if route.hosts == ("monk",)]
    closed = [
        route.fqdn
        for route in monk_only
        # A proxy-mode hostname is served through Authentik's outpost.
        if not evaluator.allows(
            CLOUD, MONK, port_of(topology, topology.ingress_route(route).service)
        )
    ]
    assert monk_only
    assert closed == []


@pytest.fixture(scope="session")
def monk_identity() -> Topology:
    """Return the topology with Authentik's stores moved to monk."""
    return topology_of("kscloud1", {"kitestacks:identityHost": "monk"})


@pytest.mark.parametrize("service", ["authentik-postgres", "authentik-redis"])
def test_identity_on_monk_closes_stores_to_kscloud1(monk_identity: Topology, service: str) -> None:
    evaluator = PolicyEvaluator(policy(monk_identity))
    assert evaluator.denies(CLOUD, MONK, port_of(monk_identity, service))


def test_identity_on_monk_passes_own_tests(monk_identity: Topology) -> None:
    results = PolicyEvaluator(policy(monk_identity)).run_tests()
    assert [str(result.access) for result in results if not result.passed] == []


@pytest.fixture(scope="session")
def load_balanced() -> Topology:
    """Return the topology with a tunnel per host, which needs no ingress flows."""
    return topology_of("kscloud1", {"kitestacks:ingressMode": "load_balancer"})


def test_load_balancer_passes_own_tests(load_balanced: Topology) -> None:
    results = PolicyEvaluator(policy(load_balanced)).run_tests()
    assert [str(result.access) for result in results if not result.passed] == []


def test_load_balancer_closes_ingress_paths(load_balanced: Topology) -> None:
    evaluator = PolicyEvaluator(policy(load_balanced))
    assert evaluator.denies(CLOUD, MONK, port_of(load_balanced, "authentik-server"))


def test_broadened_grant_fails_own_tests(deployed: dict[str, Any], topology: Topology) -> None:
    broken = copy.deepcopy(deployed)
    admin_to_cloud = next(
        grant
        for grant in broken["grants"]
        if grant["src"] == [ADMIN_GROUP] and grant["dst"] == [CLOUD]
    )
    admin_to_cloud["ip"].append(f"tcp:{port_of(topology, 'authentik-postgres')}")
    failures = [r.access for r in PolicyEvaluator(broken).run_tests() if not r.passed]
    assert failures == [Access(admin(topology), CLOUD, port_of(topology, "authentik-postgres"))]


def test_narrowed_grant_fails_own_tests(deployed: dict[str, Any], topology: Topology) -> None:
    broken = copy.deepcopy(deployed)
    monk_to_cloud = next(grant for grant in broken["grants"] if grant["src"] == [MONK])
    redis = f"tcp:{port_of(topology, 'authentik-redis')}"
    monk_to_cloud["ip"].remove(redis)
    failures = [r.access for r in PolicyEvaluator(broken).run_tests() if not r.passed]
    assert failures == [Access(MONK, CLOUD, port_of(topology, "authentik-redis"))]


def test_rejects_empty_admin_users() -> None:
    with pytest.raises(ConfigError, match=r"kitestacks:adminUsers: empty"):
        load_model("kscloud1", {"kitestacks:adminUsers": "[]"})


def test_rejects_malformed_admin_login() -> None:
    with pytest.raises(ConfigError, match=r"kitestacks:adminUsers\[0\]: 'kenpat'"):
        load_model("kscloud1", {"kitestacks:adminUsers": '["kenpat"]'})


def test_rejects_empty_ssh_keys() -> None:
    with pytest.raises(ConfigError, match=r"kitestacks:adminSshKeys: empty"):
        load_model("kscloud1", {"kitestacks:adminSshKeys": "[]"})


def test_rejects_malformed_ssh_key() -> None:
    with pytest.raises(ConfigError, match=r"kitestacks:adminSshKeys\[0\]: not an OpenSSH"):
        load_model("kscloud1", {"kitestacks:adminSshKeys": '["AAAAC3Nza kenpat@monk"]'})


def test_rejects_malformed_tailnet_domain() -> None:
    with pytest.raises(ConfigError, match=r"kitestacks:tailnetDomain: 'tail net'"):
        load_model("kscloud1", {"kitestacks:tailnetDomain": "tail net"})


def test_downstream_stack_needs_no_admins() -> None:
    assert load_model("monk").site.admin_users == ()
