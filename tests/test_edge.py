"""The Cloudflare edge and the cloudflared connectors as rendered, in both ingress modes.

`rendered` is the default replicas mode; `rendered_lb` renders the same stacks
with only kitestacks:ingressMode changed to load_balancer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pulumi.errors import RunError

from config.cloudflare_rules import tunnel_target
from config.tailnet_policy import host_tag, policy
from config.topology import CONNECTOR_SERVICE, Route, Topology
from render import render_stacks
from render.document import Rendered
from render.redact import unwrap
from tests.conftest import STACKS, by_name, resources_of, topology_of

TUNNEL = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
INGRESS = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
CATCH_ALL = {"service": "http_status:404"}
METRICS_PORT = 2000


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of("kscloud1")


@pytest.fixture(params=["replicas", "load_balancer"])
def any_mode(request: pytest.FixtureRequest) -> dict[str, Rendered]:
    fixture = "rendered" if request.param == "replicas" else "rendered_lb"
    return request.getfixturevalue(fixture)


def upstream(renders: dict[str, Rendered]) -> Rendered:
    return renders["kscloud1"]


def tunnel_ids(renders: dict[str, Rendered]) -> dict[str, str]:
    return upstream(renders).document["outputs"]["tunnelIds"]


def ingress_of(renders: dict[str, Rendered], tunnel_id: str) -> list[dict[str, Any]]:
    configs = [
        item
        for item in resources_of(upstream(renders), INGRESS)
        if item["inputs"]["tunnelId"] == tunnel_id
    ]
    assert len(configs) == 1
    return configs[0]["inputs"]["config"]["ingresses"]


def local_url(route: Route) -> str:
    return f"http://{route.service}:{route.port}"


def raw_token(render: Rendered, host: str) -> str:
    """Return the TUNNEL_TOKEN value a host's cloudflared container receives."""
    registration = next(
        item
        for item in render.run.registrations
        if item.name == f"{host}-{CONNECTOR_SERVICE}-container"
    )
    envs = [str(unwrap(entry)) for entry in registration.inputs["envs"]]
    return next(entry for entry in envs if entry.startswith("TUNNEL_TOKEN=")).split("=", 1)[1]


def upstream_tokens(renders: dict[str, Rendered]) -> dict[str, str]:
    return unwrap(upstream(renders).run.outputs["tunnelTokens"])


def connector(renders: dict[str, Rendered], host: str) -> dict[str, Any]:
    return by_name(renders[host], f"{host}-{CONNECTOR_SERVICE}-container")


# --- replicas mode -----------------------------------------------------------


def test_replicas_has_one_tunnel(rendered: dict[str, Rendered]) -> None:
    tunnels = resources_of(upstream(rendered), TUNNEL)
    assert [item["inputs"]["name"] for item in tunnels] == ["kitestacks"]
    assert tunnels[0]["inputs"]["configSrc"] == "cloudflare"
    assert tunnels[0]["options"]["protect"] is True


def test_replicas_connectors_join_one_tunnel(rendered: dict[str, Rendered]) -> None:
    ids = tunnel_ids(rendered)
    assert set(ids) == set(STACKS)
    assert len(set(ids.values())) == 1
    tokens = upstream_tokens(rendered)
    for host in STACKS:
        assert raw_token(rendered[host], host) == tokens[host], host


def test_replicas_rules_sorted_catch_all_last(
    rendered: dict[str, Rendered], topology: Topology
) -> None:
    rules = ingress_of(rendered, tunnel_ids(rendered)["monk"])
    assert [rule.get("hostname") for rule in rules[:-1]] == sorted(r.fqdn for r in topology.routes)
    assert rules[-1] == CATCH_ALL


def test_replicas_replicated_rules_stay_local(
    rendered: dict[str, Rendered], topology: Topology
) -> None:
    # Each connector resolves the container name on its own host's network,
    # so each serves its own copy.
    rules = {
        rule.get("hostname"): rule for rule in ingress_of(rendered, tunnel_ids(rendered)["monk"])
    }
    replicated = [route for route in topology.routes if route.replicated]
    assert replicated
    for route in replicated:
        assert rules[route.fqdn]["service"] == local_url(route), route.fqdn
        for host in route.hosts:
            container = by_name(rendered[host], f"{host}-{route.service}-container")
            aliases = container["inputs"]["networksAdvanced"][0]["aliases"]
            assert route.service in aliases, host


def test_replicas_single_host_rules_use_tailnet(
    rendered: dict[str, Rendered], topology: Topology
) -> None:
    rules = {
        rule.get("hostname"): rule for rule in ingress_of(rendered, tunnel_ids(rendered)["monk"])
    }
    single = [route for route in topology.routes if not route.replicated]
    assert single
    for route in single:
        # A proxy-mode hostname is served by Authentik's outpost, not the app.
        target = topology.ingress_route(route)
        owner = target.hosts[0]
        url = urlsplit(rules[route.fqdn]["service"])
        assert url.hostname == topology.tailnet_ip(owner), route.fqdn
        container = by_name(rendered[owner], f"{owner}-{target.service}-container")
        ports = {(port["ip"], port["external"]) for port in container["inputs"].get("ports", [])}
        assert (url.hostname, url.port) in ports, route.fqdn


def granted_ports(topology: Topology, source: str, destination: str) -> set[int]:
    """Return the TCP ports the tailnet policy grants from one host's tag to another's."""
    return {
        int(rule.removeprefix("tcp:"))
        for grant in policy(topology)["grants"]
        if host_tag(source) in grant["src"] and host_tag(destination) in grant["dst"]
        for rule in grant["ip"]
    }


def test_replicas_tailnet_opens_ingress_ports_only(topology: Topology) -> None:
    # kscloud1's connector reaches monk's single-host apps, and nothing else.
    expected = {
        topology.service(topology.ingress_route(route).service).published_port
        for route in topology.routes
        if topology.ingress_route(route).hosts == ("monk",)
    }
    opened = {
        flow.port
        for flow in topology.flows
        if (flow.source, flow.destination) == ("kscloud1", "monk")
    }
    assert opened == expected
    assert granted_ports(topology, "kscloud1", "monk") == expected


def test_balanced_tailnet_opens_no_ingress_ports() -> None:
    balanced = topology_of("kscloud1", {"kitestacks:ingressMode": "load_balancer"})
    assert granted_ports(balanced, "kscloud1", "monk") == set()


def test_replicas_records_point_at_tunnel(
    rendered: dict[str, Rendered], topology: Topology
) -> None:
    target = tunnel_target(tunnel_ids(rendered)["monk"])
    records = {
        item["inputs"]["name"]: item["inputs"] for item in resources_of(upstream(rendered), RECORD)
    }
    assert set(records) == {route.fqdn for route in topology.routes}
    for name, record in records.items():
        assert (record["type"], record["content"]) == ("CNAME", target), name
        assert (record["proxied"], record["ttl"]) == (True, 1), name


def test_replicas_has_no_load_balancers(rendered: dict[str, Rendered]) -> None:
    for kind in (BALANCER, POOL, MONITOR):
        assert resources_of(upstream(rendered), kind) == [], kind


# --- load_balancer mode ------------------------------------------------------


def test_balanced_tunnel_per_host(rendered_lb: dict[str, Rendered]) -> None:
    names = sorted(item["inputs"]["name"] for item in resources_of(upstream(rendered_lb), TUNNEL))
    assert names == sorted(f"kitestacks-{host}" for host in STACKS)
    assert len(set(tunnel_ids(rendered_lb).values())) == len(STACKS)


def test_primary_tunnel_survives_switch(
    rendered: dict[str, Rendered], rendered_lb: dict[str, Rendered]
) -> None:
    balanced = by_name(upstream(rendered_lb), "kitestacks-monk-tunnel")
    shared = by_name(upstream(rendered), "kitestacks-tunnel")
    assert "kitestacks-tunnel" in balanced["options"]["aliases"]
    assert "kitestacks-monk-tunnel" in shared["options"]["aliases"]
    assert balanced["options"]["protect"] is True
    assert (
        "kitestacks-ingress"
        in by_name(upstream(rendered_lb), "kitestacks-monk-ingress")["options"]["aliases"]
    )


def test_secondary_tunnel_is_removable(rendered_lb: dict[str, Rendered]) -> None:
    # Switching back to replicas deletes it, which protection would block.
    assert (
        by_name(upstream(rendered_lb), "kitestacks-kscloud1-tunnel")["options"]["protect"] is False
    )


def test_balanced_tunnels_route_local_copies(
    rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    for host, tunnel_id in tunnel_ids(rendered_lb).items():
        rules = ingress_of(rendered_lb, tunnel_id)
        # A proxy-mode hostname is served by Authentik's outpost on its host.
        targets = [topology.ingress_route(route) for route in topology.routes]
        served = sorted((r for r in targets if host in r.hosts), key=lambda r: r.fqdn)
        assert [rule["hostname"] for rule in rules[:-1]] == [r.fqdn for r in served], host
        assert [rule["service"] for rule in rules[:-1]] == [local_url(r) for r in served], host
        assert rules[-1] == CATCH_ALL, host


def test_balanced_connectors_use_own_tokens(rendered_lb: dict[str, Rendered]) -> None:
    tokens = upstream_tokens(rendered_lb)
    for host in STACKS:
        assert raw_token(rendered_lb[host], host) == tokens[host], host
    assert len(set(tokens.values())) == len(STACKS)


def test_balanced_records_for_single_host_apps(
    rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    ids = tunnel_ids(rendered_lb)
    records = {
        item["inputs"]["name"]: item["inputs"]
        for item in resources_of(upstream(rendered_lb), RECORD)
    }
    single = [route for route in topology.routes if not route.replicated]
    assert set(records) == {route.fqdn for route in single}
    for route in single:
        assert records[route.fqdn]["content"] == tunnel_target(ids[route.hosts[0]]), route.fqdn


def test_balancers_own_replicated_names(
    rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    names = {item["inputs"]["name"] for item in resources_of(upstream(rendered_lb), BALANCER)}
    assert names == {route.fqdn for route in topology.routes if route.replicated}


def pools_by_id(renders: dict[str, Rendered]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item["inputs"] for item in resources_of(upstream(renders), POOL)}


def balancer(renders: dict[str, Rendered], label: str) -> dict[str, Any]:
    return by_name(upstream(renders), f"kitestacks-{label}-lb")["inputs"]


def test_wiki_fails_over_to_kscloud1(rendered_lb: dict[str, Rendered]) -> None:
    wiki = balancer(rendered_lb, "wiki")
    pools = pools_by_id(rendered_lb)
    order = [pools[pool_id]["origins"][0]["name"] for pool_id in wiki["defaultPools"]]
    assert order == ["monk", "kscloud1"]
    assert wiki["steeringPolicy"] == "off"
    assert pools[wiki["fallbackPool"]]["origins"][0]["name"] == "kscloud1"
    assert wiki["proxied"] is True


def test_portal_spreads_over_hosts(rendered_lb: dict[str, Rendered]) -> None:
    portal = balancer(rendered_lb, "www")
    assert portal["steeringPolicy"] == "random"
    assert portal["sessionAffinity"] == "cookie"
    assert portal["fallbackPool"] in portal["defaultPools"]
    assert len(portal["defaultPools"]) == len(STACKS)


def test_pools_point_at_host_tunnels(rendered_lb: dict[str, Rendered]) -> None:
    ids = tunnel_ids(rendered_lb)
    monitors = {item["id"]: item["inputs"] for item in resources_of(upstream(rendered_lb), MONITOR)}
    for balancer_item in resources_of(upstream(rendered_lb), BALANCER):
        hostname = balancer_item["inputs"]["name"]
        for pool_id in balancer_item["inputs"]["defaultPools"]:
            pool = pools_by_id(rendered_lb)[pool_id]
            (origin,) = pool["origins"]
            assert origin["address"] == tunnel_target(ids[origin["name"]]), pool_id
            assert origin["header"]["hosts"] == [hostname], pool_id
            assert monitors[pool["monitor"]]["header"]["Host"] == [hostname], pool_id
            assert pool["checkRegions"], pool_id


def test_monitors_request_health_paths(
    rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    monitors = {
        item["inputs"]["header"]["Host"][0]: item["inputs"]
        for item in resources_of(upstream(rendered_lb), MONITOR)
    }
    for route in (route for route in topology.routes if route.replicated):
        monitor = monitors[route.fqdn]
        assert monitor["path"] == route.health_path, route.fqdn
        assert monitor["type"] == "https", route.fqdn
        assert monitor["expectedCodes"] == "200", route.fqdn
    assert monitors[topology.fqdn("bookstack")]["path"] == "/status"


def test_balanced_publishes_no_ingress_ports(
    rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    balanced = topology_of("kscloud1", {"kitestacks:ingressMode": "load_balancer"})
    assert not [flow for flow in balanced.flows if flow.reason.startswith("cloudflared on")]
    public = {route.service for route in topology.routes}
    for item in resources_of(rendered_lb["monk"], CONTAINER):
        if item["inputs"]["name"] in public:
            assert "ports" not in item["inputs"], item["name"]


# --- both modes --------------------------------------------------------------


@pytest.mark.parametrize("host", STACKS)
def test_connector_token_in_secret_env(any_mode: dict[str, Rendered], host: str) -> None:
    container = connector(any_mode, host)
    assert "TUNNEL_TOKEN=[secret]" in container["inputs"]["envs"]
    assert "envs" in container["secretInputs"]
    command = " ".join(container["inputs"]["command"])
    assert "--token" not in command
    assert raw_token(any_mode[host], host) not in command


@pytest.mark.parametrize("host", STACKS)
def test_connector_image_pinned(any_mode: dict[str, Rendered], host: str) -> None:
    images = [
        item["inputs"]["name"]
        for item in resources_of(any_mode[host], REMOTE_IMAGE)
        if "/cloudflared:" in item["inputs"]["name"]
    ]
    assert len(images) == 1
    tag = images[0].rsplit(":", 1)[1]
    assert tag != "latest"
    assert any(char.isdigit() for char in tag)


@pytest.mark.parametrize("host", STACKS)
def test_connector_restarts_and_reports_ready(any_mode: dict[str, Rendered], host: str) -> None:
    inputs = connector(any_mode, host)["inputs"]
    assert inputs["restart"] == "unless-stopped"
    test = inputs["healthcheck"]["tests"]
    assert test[0] == "CMD"
    assert test[-1] == "ready"
    assert f"127.0.0.1:{METRICS_PORT}" in test


@pytest.mark.parametrize("host", STACKS)
def test_connector_metrics_stay_off_public(
    any_mode: dict[str, Rendered], host: str, topology: Topology
) -> None:
    ports = connector(any_mode, host)["inputs"].get("ports", [])
    for port in ports:
        assert port["ip"] == topology.tailnet_ip(host)
        assert port["internal"] == METRICS_PORT
    scraped_locally = host in topology.hosts_of("prometheus")
    assert (ports == []) == scraped_locally


def test_prometheus_scrapes_both_connectors(
    any_mode: dict[str, Rendered], topology: Topology
) -> None:
    prometheus = by_name(any_mode["monk"], "monk-prometheus-container")
    (upload,) = prometheus["inputs"]["uploads"]
    config = yaml.safe_load(upload["content"])
    job = next(job for job in config["scrape_configs"] if job["job_name"] == CONNECTOR_SERVICE)
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == {
        f"{CONNECTOR_SERVICE}:{METRICS_PORT}",
        f"{topology.tailnet_ip('kscloud1')}:{METRICS_PORT}",
    }


def test_websockets_stay_on(any_mode: dict[str, Rendered], topology: Topology) -> None:
    assert any(route.origin.websockets for route in topology.routes)
    (setting,) = resources_of(upstream(any_mode), ZONE_SETTING)
    assert (setting["inputs"]["settingId"], setting["inputs"]["value"]) == ("websockets", "on")


def test_upload_apps_set_connect_timeout(topology: Topology) -> None:
    for service in ("bookstack", "forgejo", "kavita"):
        public = topology.service(service).public
        assert public is not None
        assert public.origin.connect_timeout is not None, service


def test_rules_carry_origin_settings(any_mode: dict[str, Rendered], topology: Topology) -> None:
    routes = {route.fqdn: route for route in topology.routes}
    for item in resources_of(upstream(any_mode), INGRESS):
        for rule in item["inputs"]["config"]["ingresses"][:-1]:
            timeout = routes[rule["hostname"]].origin.connect_timeout
            origin = rule.get("originRequest")
            if timeout is None:
                assert origin is None, rule["hostname"]
            else:
                assert origin == {"connectTimeout": timeout}, rule["hostname"]


def test_mode_exported(any_mode: dict[str, Rendered]) -> None:
    mode = upstream(any_mode).document["outputs"]["ingressMode"]
    expected = "load_balancer" if resources_of(upstream(any_mode), BALANCER) else "replicas"
    assert mode == expected


def test_monk_rejects_other_mode() -> None:
    with pytest.raises(RunError, match="set the same value on both stacks") as raised:
        render_stacks(["monk"], overrides={"monk": {"kitestacks:ingressMode": "load_balancer"}})
    # The check runs before monk registers anything but its stack reference.
    registered = {item.type for item in raised.value.registrations}  # type: ignore[attr-defined]
    assert registered == {"pulumi:pulumi:StackReference"}


def test_mode_switch_changes_edge_only(
    rendered: dict[str, Rendered], rendered_lb: dict[str, Rendered], topology: Topology
) -> None:
    # Outside the edge, a switch changes only what the mode decides: the
    # connectors' tokens, monk's published app ports and the tailnet policy.
    expected_changes = {f"{host}-{CONNECTOR_SERVICE}-container" for host in STACKS}
    expected_changes |= {
        f"monk-{route.service}-container" for route in topology.routes if route.hosts == ("monk",)
    }
    expected_changes.add("kitestacks-tailnet-policy")
    for stack in STACKS:
        before = {
            item["urn"]: item
            for item in resources_of(rendered[stack])
            if not item["type"].startswith("cloudflare:")
        }
        after = {
            item["urn"]: item
            for item in resources_of(rendered_lb[stack])
            if not item["type"].startswith("cloudflare:")
        }
        assert set(before) == set(after), stack
        changed = {before[urn]["name"] for urn in before if before[urn] != after[urn]}
        assert changed <= expected_changes, stack
