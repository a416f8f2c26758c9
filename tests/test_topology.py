"""The topology derived from the catalogue, tested without Pulumi."""

from __future__ import annotations

from config.topology import ADMINS, Flow, SecretPart
from tests.conftest import topology_of

MONK_IP = "100.101.10.10"
KSCLOUD1_IP = "100.101.10.20"


def flow_set() -> set[tuple[str, str, int]]:
    return {(flow.source, flow.destination, flow.port) for flow in topology_of().flows}


def test_placements_follow_catalogue() -> None:
    topology = topology_of()
    for name in topology.model.catalogue.services:
        for host in topology.hosts_of(name):
            assert name in topology.placements[host], (name, host)


def test_identity_database_on_kscloud1() -> None:
    topology = topology_of()
    assert topology.hosts_of("authentik-postgres") == ("kscloud1",)
    assert topology.hosts_of("authentik-redis") == ("kscloud1",)


def test_authentik_reaches_postgres_and_redis() -> None:
    flows = flow_set()
    assert ("monk", "kscloud1", 5432) in flows
    assert ("monk", "kscloud1", 6379) in flows


def test_prometheus_scrapes_remote_node_exporter() -> None:
    assert ("monk", "kscloud1", 9100) in flow_set()


def test_management_ssh_flows() -> None:
    flows = flow_set()
    assert ("monk", "kscloud1", 22) in flows
    assert (ADMINS, "monk", 22) in flows
    assert (ADMINS, "kscloud1", 22) in flows


def test_no_flow_from_kscloud1_to_monk_ssh() -> None:
    assert ("kscloud1", "monk", 22) not in flow_set()


def test_every_flow_targets_a_published_port() -> None:
    topology = topology_of()
    for flow in topology.flows:
        if flow.service == "sshd":
            continue
        published = {item.host_port for item in topology.published[flow.destination]}
        assert flow.port in published, flow


def test_replicated_route_uses_local_copy() -> None:
    topology = topology_of()
    wiki = next(route for route in topology.routes if route.service == "bookstack")
    assert topology.replicas_origin_url(wiki) == "http://bookstack:80"


def test_single_host_route_uses_tailnet_address() -> None:
    topology = topology_of()
    grafana = next(route for route in topology.routes if route.service == "grafana")
    assert topology.replicas_origin_url(grafana) == f"http://{MONK_IP}:3030", (
        "expected monk's tailnet address and services.grafana.host_port (3030) from "
        "config/catalogue.yaml; update this test when the catalogue changes them"
    )


def test_routes_sorted_by_hostname() -> None:
    fqdns = [route.fqdn for route in topology_of().routes]
    assert fqdns == sorted(fqdns)


def test_env_resolves_remote_database_address() -> None:
    parts = topology_of().resolve("${host:authentik-postgres}", "authentik-server", "monk")
    assert parts == (KSCLOUD1_IP,)


def test_env_resolves_local_database_by_name() -> None:
    parts = topology_of().resolve("${host:bookstack-db}", "bookstack", "kscloud1")
    assert parts == ("bookstack-db",)


def test_env_keeps_secret_symbolic() -> None:
    parts = topology_of().resolve("sk-${secret:litellm.master_key}", "open-webui", "monk")
    assert parts == ("sk-", SecretPart("secret", "litellm.master_key"))


def test_sso_clients_have_https_redirects() -> None:
    for client in topology_of().sso_clients:
        for uri in client.redirect_uris:
            assert uri.startswith(client.launch_url + "/"), uri


def test_flows_are_sorted_and_unique() -> None:
    flows = topology_of().flows
    assert list(flows) == sorted(set(flows))
    assert all(isinstance(flow, Flow) for flow in flows)
