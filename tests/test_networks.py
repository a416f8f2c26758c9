"""Docker networks: a network per service, joined only by the containers that connect to it."""

from __future__ import annotations

from typing import Any

import pytest

from components.docker_host import NETWORK_PREFIX
from config.topology import CONNECTOR_SERVICE, IDENTITY_SERVICE, SCRAPER_SERVICE, Topology
from render.document import Rendered
from tests.conftest import by_name, resources_of, topology_of

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"


def networks(rendered: dict[str, Rendered], host: str, service: str) -> dict[str, list[str]]:
    """Return the Docker networks a rendered container joins, with its aliases on each."""
    container: dict[str, Any] = by_name(rendered[host], f"{host}-{service}-container")
    return {
        entry["name"].removeprefix(NETWORK_PREFIX): entry["aliases"]
        for entry in container["inputs"]["networksAdvanced"]
    }


def members(rendered: dict[str, Rendered], host: str, network: str) -> set[str]:
    """Return the services whose containers on `host` join the network of `network`."""
    return {
        item["inputs"]["name"]
        for item in resources_of(rendered[host], CONTAINER)
        if any(
            entry["name"] == f"{NETWORK_PREFIX}{network}"
            for entry in item["inputs"]["networksAdvanced"]
        )
    }


@pytest.fixture(scope="module")
def monk() -> Topology:
    return topology_of("monk")


def test_chrome_reachable_only_from_karakeep(rendered: dict[str, Rendered]) -> None:
    assert members(rendered, "monk", "karakeep-chrome") == {"karakeep", "karakeep-chrome"}


def test_database_reachable_only_from_app(rendered: dict[str, Rendered]) -> None:
    for host in ("monk", "kscloud1"):
        assert members(rendered, host, "bookstack-db") == {"bookstack", "bookstack-db"}, host


def test_every_container_on_own_network(rendered: dict[str, Rendered]) -> None:
    for host, render in rendered.items():
        for item in resources_of(render, CONTAINER):
            service = item["inputs"]["name"]
            assert networks(rendered, host, service)[service] == [service], service


def test_every_link_shares_a_network(rendered: dict[str, Rendered], monk: Topology) -> None:
    assert monk.links
    for link in monk.links:
        assert link.server in networks(rendered, link.host, link.client), link


def test_network_per_service_on_host(rendered: dict[str, Rendered], monk: Topology) -> None:
    for host, render in rendered.items():
        names = sorted(item["inputs"]["name"] for item in resources_of(render, NETWORK))
        services = sorted(
            f"{NETWORK_PREFIX}{service}"
            for service in monk.model.catalogue.services
            if host in monk.hosts_of(service)
        )
        assert names == services, host


def test_grafana_reaches_prometheus(monk: Topology) -> None:
    assert SCRAPER_SERVICE in monk.networks_of("monk", "grafana")


def test_prometheus_joins_scrape_targets(monk: Topology) -> None:
    joined = monk.networks_of("monk", SCRAPER_SERVICE)
    local = {target.service for target in monk.scrape_targets if target.host == "monk"}
    assert set(joined) == local | {SCRAPER_SERVICE}


def test_outpost_joins_local_proxy_apps(monk: Topology) -> None:
    proxied = {
        client.service
        for client in monk.sso_clients
        if client.mode == "proxy" and "monk" in monk.hosts_of(client.service)
    }
    assert proxied
    assert proxied <= set(monk.networks_of("monk", IDENTITY_SERVICE))


def test_connector_joins_only_local_routes(monk: Topology) -> None:
    # In replicas mode the shared tunnel reaches a service by name only where
    # every connector host runs it; the rest go to a tailnet address.
    local = {route.service for route in monk.routes if route.replicated}
    assert set(monk.networks_of("monk", CONNECTOR_SERVICE)) == local | {CONNECTOR_SERVICE}


def test_unrelated_services_share_no_network(monk: Topology) -> None:
    assert "karakeep-chrome" not in monk.networks_of("monk", SCRAPER_SERVICE)
    assert "karakeep-chrome" not in monk.networks_of("monk", CONNECTOR_SERVICE)


def test_litellm_database_reachable_only_from_litellm(rendered: dict[str, Rendered]) -> None:
    assert members(rendered, "monk", "litellm-db") == {"litellm", "litellm-db"}
