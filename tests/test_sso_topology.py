"""Single sign-on facts of the topology: modes, clients, ingress through the outpost."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from config.load import ConfigError, load
from config.refs import CATALOGUE_PATH
from config.topology import IDENTITY_SERVICE, Topology, derive
from render.engine import ROOT
from render.stackconfig import read_stack_config
from tests.conftest import topology_of

IDENTITY_ON_MONK = {"kitestacks:identityHost": "monk"}


def topology_with_catalogue(text: str, stack: str = "kscloud1") -> Topology:
    """Return the topology of a real stack with a changed catalogue."""
    config = read_stack_config(ROOT, stack)
    return derive(load(config.project, stack, config.values, catalogue_text=text))


def load_problems(text: str) -> list[str]:
    """Return the problems that loading a changed catalogue reports."""
    config = read_stack_config(ROOT, "kscloud1")
    with pytest.raises(ConfigError) as error:
        load(config.project, "kscloud1", config.values, catalogue_text=text)
    return error.value.problems


def catalogue_with(old: str, new: str) -> str:
    """Return the real catalogue with one unique passage replaced."""
    text = CATALOGUE_PATH.read_text()
    assert text.count(old) == 1, f"expected one {old!r} in the catalogue"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of("kscloud1")


def test_every_public_hostname_declares_sso(topology: Topology) -> None:
    for route in topology.routes:
        assert topology.service(route.service).sso is not None, route.fqdn


def test_public_hostnames_are_sso_or_public(topology: Topology) -> None:
    for route in topology.routes:
        assert route.sso_mode in ("oidc", "proxy", "public"), route.fqdn


def test_only_portal_and_identity_are_public(topology: Topology) -> None:
    public = {route.service for route in topology.routes if route.sso_mode == "public"}
    assert public == {"portal", IDENTITY_SERVICE}


def test_rejects_public_hostname_without_sso() -> None:
    text = catalogue_with(
        "    sso:\n      mode: public\n    files:\n      /usr/share/nginx",
        "    files:\n      /usr/share/nginx",
    )
    problems = load_problems(text)
    assert any(problem.startswith("services.portal.sso: missing") for problem in problems)


def test_rejects_setup_for_proxy_app() -> None:
    text = catalogue_with(
        "    sso:\n      mode: proxy\n    volumes:\n      uptime-kuma-data",
        "    sso:\n      mode: proxy\n      setup:\n        script: 'true'\n"
        "    volumes:\n      uptime-kuma-data",
    )
    problems = load_problems(text)
    assert any("services.uptime-kuma.sso" in problem for problem in problems)


def test_rejects_unknown_reference_in_setup_script() -> None:
    text = catalogue_with("--key ${sso:client_id}", "--key ${sso:client_name}")
    problems = load_problems(text)
    assert any(problem.startswith("services.forgejo.sso.setup.script") for problem in problems)


def test_client_ids_are_service_names(topology: Topology) -> None:
    for client in topology.sso_clients:
        assert client.client_id == client.service


def test_sso_clients_sorted(topology: Topology) -> None:
    names = [client.service for client in topology.sso_clients]
    assert names == sorted(names)


def test_oidc_redirect_uri_on_app_hostname(topology: Topology) -> None:
    for client in topology.sso_clients:
        for uri in client.redirect_uris:
            parts = urlsplit(uri)
            assert (parts.scheme, parts.hostname) == ("https", topology.fqdn(client.service))


def test_oidc_redirect_uri_ends_with_callback(topology: Topology) -> None:
    for client in topology.sso_clients:
        sso = topology.service(client.service).sso
        assert sso is not None
        if client.mode == "oidc":
            assert client.redirect_uris == (f"{client.launch_url}{sso.callback}",)


def test_issuer_on_identity_hostname(topology: Topology) -> None:
    for client in topology.sso_clients:
        parts = urlsplit(topology.issuer(client.service))
        assert (parts.scheme, parts.hostname) == ("https", topology.fqdn(IDENTITY_SERVICE))


def test_issuer_path_names_slug(topology: Topology) -> None:
    for client in topology.sso_clients:
        path = urlsplit(topology.issuer(client.service)).path
        assert path == f"/application/o/{client.service}/"


def test_proxy_upstream_by_container_name(topology: Topology) -> None:
    for client in topology.sso_clients:
        if client.mode == "proxy":
            port = topology.service(client.service).port
            assert client.internal_url == f"http://{client.service}:{port}"


def test_proxy_route_reaches_outpost(topology: Topology) -> None:
    identity_route = next(r for r in topology.routes if r.service == IDENTITY_SERVICE)
    for route in topology.routes:
        if route.sso_mode == "proxy":
            assert topology.replicas_origin_url(route) == topology.replicas_origin_url(
                identity_route
            )


def test_proxy_route_keeps_hostname(topology: Topology) -> None:
    for route in topology.routes:
        target = topology.ingress_route(route)
        assert target.fqdn == route.fqdn


def test_other_routes_reach_own_service(topology: Topology) -> None:
    for route in topology.routes:
        if route.sso_mode != "proxy":
            assert topology.ingress_route(route) == route


def test_per_connector_origin_of_proxy_route(topology: Topology) -> None:
    for route in topology.routes:
        if route.sso_mode == "proxy":
            url = topology.origin_url(route, connector_host="monk")
            assert url == f"http://{IDENTITY_SERVICE}:{topology.service(IDENTITY_SERVICE).port}"


def test_proxy_app_port_not_published(topology: Topology) -> None:
    proxied = {c.service for c in topology.sso_clients if c.mode == "proxy"}
    published = {item.service for items in topology.published.values() for item in items}
    assert proxied & published == set()


def test_outpost_reaches_app_on_other_host() -> None:
    text = catalogue_with(
        "    image: docker.io/louislam/uptime-kuma:1.23.16\n    hosts: [monk]",
        "    image: docker.io/louislam/uptime-kuma:1.23.16\n    hosts: [kscloud1]",
    )
    topology = topology_with_catalogue(text)
    client = next(c for c in topology.sso_clients if c.service == "uptime-kuma")
    assert client.internal_url == f"http://{topology.tailnet_ip('kscloud1')}:3001"


def test_outpost_flow_to_app_on_other_host() -> None:
    text = catalogue_with(
        "    image: docker.io/louislam/uptime-kuma:1.23.16\n    hosts: [monk]",
        "    image: docker.io/louislam/uptime-kuma:1.23.16\n    hosts: [kscloud1]",
    )
    topology = topology_with_catalogue(text)
    flows = {(f.source, f.destination, f.port, f.service) for f in topology.flows}
    assert ("monk", "kscloud1", 3001, "uptime-kuma") in flows


def test_client_secret_per_oidc_app(topology: Topology) -> None:
    keys = {secret.key for secret in topology.secrets}
    for client in topology.sso_clients:
        expected = f"{client.service}.sso_client_secret"
        assert (expected in keys) == (client.mode == "oidc"), client.service


def test_blueprint_loaders_get_client_secrets(topology: Topology) -> None:
    oidc = [client.service for client in topology.sso_clients if client.mode == "oidc"]
    for loader in (IDENTITY_SERVICE, "authentik-worker"):
        env = topology.env_of(loader)
        for service in oidc:
            name = f"KITESTACKS_SSO_{service.upper().replace('-', '_')}_CLIENT_SECRET"
            assert env.get(name) == f"${{secret:{service}.sso_client_secret}}"


def test_apps_get_no_other_client_secrets(topology: Topology) -> None:
    for client in topology.sso_clients:
        env = topology.env_of(client.service)
        assert not any(name.startswith("KITESTACKS_SSO_") for name in env), client.service


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_identity_store_on_kscloud1_by_default(stack: str) -> None:
    topology = topology_of(stack)
    for service in ("authentik-postgres", "authentik-redis"):
        assert topology.hosts_of(service) == ("kscloud1",)


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_identity_store_moves_to_monk(stack: str) -> None:
    topology = topology_of(stack, IDENTITY_ON_MONK)
    for service in ("authentik-postgres", "authentik-redis"):
        assert topology.hosts_of(service) == ("monk",)


def test_no_identity_flow_to_kscloud1_on_monk() -> None:
    topology = topology_of("monk", IDENTITY_ON_MONK)
    identity = {"authentik-postgres", "authentik-redis"}
    assert [flow for flow in topology.flows if flow.service in identity] == []


def test_identity_flows_to_kscloud1_by_default() -> None:
    topology = topology_of("monk")
    ports = {flow.port for flow in topology.flows if flow.destination == "kscloud1"}
    assert {5432, 6379} <= ports


def test_identity_server_reaches_store_locally() -> None:
    topology = topology_of("monk", IDENTITY_ON_MONK)
    env = topology.env_of(IDENTITY_SERVICE)
    parts = topology.resolve(env["AUTHENTIK_POSTGRESQL__HOST"], IDENTITY_SERVICE, "monk")
    assert parts == ("authentik-postgres",)


def test_identity_store_secrets_stay_upstream() -> None:
    default = {secret.key for secret in topology_of("kscloud1").secrets}
    moved = {secret.key for secret in topology_of("kscloud1", IDENTITY_ON_MONK).secrets}
    assert moved == default
