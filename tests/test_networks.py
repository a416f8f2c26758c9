"""Docker networks: a network per service, joined only by the containers that connect to it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.docker_host import NETWORK_PREFIX
from config.topology import CONNECTOR_SERVICE, IDENTITY_SERVICE, SCRAPER_SERVICE, Topology
from render import render_stacks
from render.document import Rendered
from render.engine import Registration
from render.redact import unwrap
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


# Container names as the apps use them: a URL's host, a `name:port` address,
# or the whole value of a variable whose name mentions HOST.
URL_HOST = re.compile(r"://([a-z0-9][a-z0-9-]*)[:/]")
ADDRESS = re.compile(r"(?<![\w.:/-])([a-z][a-z0-9-]*):[0-9]{2,5}\b")


# The worker only applies the blueprint. The server's embedded outpost opens
# the proxy providers' internal_host URLs in it.
NOT_DIALED = {("authentik-worker", "/blueprints/custom/kitestacks.yaml")}


def names_in_container(registration: Registration) -> set[str]:
    """Return the names a container's environment and files use as network addresses."""
    inputs = unwrap(registration.inputs)
    texts: list[str] = [
        str(entry["content"])
        for entry in inputs.get("uploads", [])
        if (inputs["name"], entry["file"]) not in NOT_DIALED
    ]
    names: set[str] = set()
    for entry in inputs.get("envs", []):
        key, _, value = str(entry).partition("=")
        texts.append(value)
        if "HOST" in key:
            names.add(value)
    for text in texts:
        names |= set(URL_HOST.findall(text)) | set(ADDRESS.findall(text))
    return names


def unreachable_names(renders: dict[str, Rendered]) -> list[str]:
    """Return each container name used on a host by a container not on that name's network."""
    missing: list[str] = []
    for host, render in renders.items():
        containers = [item for item in render.run.registrations if item.type == CONTAINER]
        services = {unwrap(item.inputs)["name"] for item in containers}
        for item in containers:
            inputs = unwrap(item.inputs)
            joined = {
                entry["name"].removeprefix(NETWORK_PREFIX) for entry in inputs["networksAdvanced"]
            }
            for name in sorted(names_in_container(item) & services - joined):
                missing.append(f"{host}: {inputs['name']} uses {name}")
    return missing


def test_used_names_reachable(rendered: dict[str, Rendered]) -> None:
    assert unreachable_names(rendered) == []


def test_used_names_reachable_load_balancer(rendered_lb: dict[str, Rendered]) -> None:
    assert unreachable_names(rendered_lb) == []


def test_used_names_reachable_identity_on_monk() -> None:
    overrides = {stack: {"kitestacks:identityHost": "monk"} for stack in ("kscloud1", "monk")}
    assert unreachable_names(render_stacks(["kscloud1", "monk"], overrides)) == []


def test_used_names_found_in_render(rendered: dict[str, Rendered]) -> None:
    # The scan must see the names the apps use, or the tests above pass vacuously.
    grafana = next(
        item for item in rendered["monk"].run.registrations if item.name == "monk-grafana-container"
    )
    assert SCRAPER_SERVICE in names_in_container(grafana)
