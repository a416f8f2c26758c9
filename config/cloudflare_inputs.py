"""Read the Cloudflare resources a program registered into the vocabulary of the rules.

The offline render (and a policy pack during a real preview) receives each
resource as its type, name, id and camelCase inputs. `edge_from_resources`
turns those into a config/cloudflare_rules.py Edge, so the same checks that
ran on the plan run again on what the program actually sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from config.cloudflare_rules import (
    AUTOMATIC_TTL,
    DnsRecord,
    Edge,
    Ingress,
    LoadBalancer,
    Monitor,
    Pool,
    PoolOrigin,
    Tunnel,
    check,
)

# Resource type tokens of pulumi-cloudflare 6.x that the edge uses.
TUNNEL_TYPE = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
TUNNEL_CONFIG_TYPE = (
    "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
)
DNS_RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord"
MONITOR_TYPE = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
POOL_TYPE = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER_TYPE = "cloudflare:index/loadBalancer:LoadBalancer"
EDGE_TYPES = frozenset(
    {TUNNEL_TYPE, TUNNEL_CONFIG_TYPE, DNS_RECORD_TYPE, MONITOR_TYPE, POOL_TYPE, LOAD_BALANCER_TYPE}
)


@dataclass(frozen=True)
class RegisteredResource:
    """A resource as the engine received it: type, name, id and camelCase inputs."""

    type: str
    name: str
    id: str
    inputs: Mapping[str, Any]


class Registered(Protocol):
    """Anything that carries a registration's type, name, id and inputs, such as a render's."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


def check_registered(zone: str, registrations: Iterable[Registered]) -> list[str]:
    """Return the broken Cloudflare rules of registered resources, one line each.

    This is the entry point for a renderer or a policy pack: it ignores every
    resource that is not part of the Cloudflare edge.
    """
    resources = (
        RegisteredResource(item.type, item.name, item.id, item.inputs) for item in registrations
    )
    return check(edge_from_resources(zone, resources))


def mapping(value: Any) -> Mapping[str, Any]:
    """Return a nested input object, or an empty one when it is unset."""
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    """Return a nested input list, or an empty one when it is unset."""
    return list(cast(list[Any], value)) if isinstance(value, list) else []


def strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in items(value))


def edge_from_resources(zone: str, resources: Iterable[RegisteredResource]) -> Edge:
    """Read the Cloudflare resources a program registered into an Edge.

    Unset inputs take the provider's defaults (monitor: type http, path "/",
    expected_codes 200, interval 60, timeout 5, retries 2; pool:
    minimum_origins 1), as terraform-provider-cloudflare 5.x declares them.
    """
    registered = [item for item in resources if item.type in EDGE_TYPES]
    tunnel_ids = {item.id for item in registered if item.type == TUNNEL_TYPE}
    configs: dict[str, tuple[Ingress, ...]] = {}
    problems: list[str] = []
    for item in registered:
        if item.type != TUNNEL_CONFIG_TYPE:
            continue
        tunnel_id = str(item.inputs.get("tunnelId", ""))
        if tunnel_id not in tunnel_ids:
            problems.append(
                f"{item.name}: configures tunnel '{tunnel_id}', which the program does not "
                "create; configure one of its tunnels"
            )
        rules = items(mapping(item.inputs.get("config")).get("ingresses"))
        configs[tunnel_id] = tuple(
            ingress_from_inputs(f"{item.name}.config.ingresses[{index}]", mapping(rule))
            for index, rule in enumerate(rules)
        )
    return Edge(
        zone=zone,
        tunnels=tuple(
            tunnel_from_inputs(item, configs.get(item.id, ()))
            for item in registered
            if item.type == TUNNEL_TYPE
        ),
        records=tuple(
            record_from_inputs(item) for item in registered if item.type == DNS_RECORD_TYPE
        ),
        monitors=tuple(
            monitor_from_inputs(item) for item in registered if item.type == MONITOR_TYPE
        ),
        pools=tuple(pool_from_inputs(item) for item in registered if item.type == POOL_TYPE),
        load_balancers=tuple(
            balancer_from_inputs(item) for item in registered if item.type == LOAD_BALANCER_TYPE
        ),
        problems=tuple(problems),
    )


def tunnel_from_inputs(item: RegisteredResource, ingress: tuple[Ingress, ...]) -> Tunnel:
    return Tunnel(
        id=item.id,
        name=str(item.inputs.get("name", "")),
        config_src=str(item.inputs.get("configSrc", "local")),
        ingress=ingress,
        source=item.name,
    )


def ingress_from_inputs(source: str, rule: Mapping[str, Any]) -> Ingress:
    origin = mapping(rule.get("originRequest"))
    timeout = origin.get("connectTimeout")
    host_header = origin.get("httpHostHeader")
    return Ingress(
        service=str(rule.get("service", "")),
        hostname=str(rule.get("hostname", "")),
        path=str(rule.get("path", "")),
        connect_timeout=int(timeout) if timeout is not None else None,
        http_host_header=str(host_header) if host_header is not None else None,
        no_tls_verify=bool(origin.get("noTlsVerify", False)),
        source=source,
    )


def record_from_inputs(item: RegisteredResource) -> DnsRecord:
    inputs = item.inputs
    return DnsRecord(
        name=str(inputs.get("name", "")),
        type=str(inputs.get("type", "")),
        content=str(inputs.get("content", "")),
        proxied=bool(inputs.get("proxied", False)),
        ttl=int(inputs.get("ttl", AUTOMATIC_TTL)),
        source=item.name,
    )


def monitor_from_inputs(item: RegisteredResource) -> Monitor:
    inputs = item.inputs
    header = mapping(inputs.get("header"))
    hosts = next((values for name, values in header.items() if name.lower() == "host"), None)
    return Monitor(
        id=item.id,
        type=str(inputs.get("type", "http")),
        path=str(inputs.get("path", "/")),
        host_header=strings(hosts),
        expected_codes=str(inputs.get("expectedCodes", "200")),
        interval=int(inputs.get("interval", 60)),
        timeout=int(inputs.get("timeout", 5)),
        retries=int(inputs.get("retries", 2)),
        source=item.name,
    )


def pool_from_inputs(item: RegisteredResource) -> Pool:
    inputs = item.inputs
    regions = inputs.get("checkRegions")
    monitor = inputs.get("monitor")
    origins = [mapping(origin) for origin in items(inputs.get("origins"))]
    return Pool(
        id=item.id,
        name=str(inputs.get("name", "")),
        origins=tuple(
            PoolOrigin(
                name=str(origin.get("name", "")),
                address=str(origin.get("address", "")),
                host_header=strings(mapping(origin.get("header")).get("hosts")),
                enabled=bool(origin.get("enabled", True)),
            )
            for origin in origins
        ),
        monitor=str(monitor) if monitor else None,
        check_regions=strings(regions) if regions is not None else None,
        minimum_origins=int(inputs.get("minimumOrigins", 1)),
        source=item.name,
    )


def balancer_from_inputs(item: RegisteredResource) -> LoadBalancer:
    inputs = item.inputs
    return LoadBalancer(
        name=str(inputs.get("name", "")),
        default_pools=strings(inputs.get("defaultPools")),
        fallback_pool=str(inputs.get("fallbackPool", "")),
        steering_policy=str(inputs.get("steeringPolicy", "")),
        proxied=bool(inputs.get("proxied", False)),
        source=item.name,
    )
