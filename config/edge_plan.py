"""The Cloudflare edge that the topology requires, in both ingress modes, as plain data.

`plan_edge` decides every tunnel, ingress rule, DNS record, health monitor,
pool and load balancer before anything is registered. components/edge.py
turns the plan into resources, and config/cloudflare_rules.py checks the same
plan at load time, so a catalogue that Cloudflare would reject fails with the
key path to fix.

Ids that Cloudflare assigns are unknown here, so the plan uses placeholders
such as `<kitestacks-monk>` for a tunnel id; the component swaps in the real
outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import cloudflare_rules as rules
from config.topology import CONNECTOR_SERVICE, Route, Topology

DEFAULT_NAME = "kitestacks"
# cloudflared returns this response to every request that matches no hostname.
CATCH_ALL_SERVICE = "http_status:404"
# Proxied records always have the automatic TTL, which the API takes as 1.
AUTOMATIC_TTL = rules.AUTOMATIC_TTL
# The monitor probes `<tunnel-id>.cfargotunnel.com` over HTTPS on port 443 with
# the app's hostname as Host header, which Cloudflare routes into the tunnel.
MONITOR_TYPE = "https"
MONITOR_EXPECTED_CODES = "200"
MONITOR_INTERVAL_SECONDS = rules.MIN_MONITOR_INTERVAL
MONITOR_TIMEOUT_SECONDS = 5
MONITOR_RETRIES = 2
# A null check_regions means every data center, which only Enterprise accounts
# may ask for. One region is enough: the probe reaches the host through its
# tunnel, so the region only decides which Cloudflare data centers send it.
HEALTH_CHECK_REGIONS = ("WEU",)
# "off" serves the first healthy pool of default_pools (failover order);
# "random" spreads requests over every healthy pool.
STEERING = {"failover": "off", "spread": "random"}
# With spread, a visitor keeps reaching the same copy while it stays healthy,
# because copies that keep their own data would otherwise alternate per request.
SESSION_AFFINITY = {"failover": "none", "spread": "cookie"}


@dataclass(frozen=True)
class TunnelPlan:
    """A tunnel, the connector hosts that run it and its ingress rules."""

    key: str
    hosts: tuple[str, ...]
    tunnel: rules.Tunnel
    # The primary tunnel exists in both modes under the same resource, so a
    # mode switch keeps its id, its token and the DNS records that point at it.
    primary: bool


@dataclass(frozen=True)
class RecordPlan:
    """A proxied CNAME from a public hostname to the tunnel that serves it."""

    service: str
    tunnel_key: str
    record: rules.DnsRecord


@dataclass(frozen=True)
class MonitorPlan:
    """The health monitor of one replicated service."""

    service: str
    monitor: rules.Monitor


@dataclass(frozen=True)
class PoolPlan:
    """The pool of one copy of a replicated service: one origin, its host's tunnel."""

    service: str
    host: str
    tunnel_key: str
    pool: rules.Pool


@dataclass(frozen=True)
class BalancerPlan:
    """The load balancer that owns a replicated service's hostname."""

    service: str
    policy: str
    session_affinity: str
    balancer: rules.LoadBalancer


@dataclass(frozen=True)
class EdgePlan:
    """Every Cloudflare object of one ingress mode."""

    name: str
    mode: str
    zone: str
    tunnels: tuple[TunnelPlan, ...]
    records: tuple[RecordPlan, ...]
    monitors: tuple[MonitorPlan, ...]
    pools: tuple[PoolPlan, ...]
    balancers: tuple[BalancerPlan, ...]
    # Hostnames whose app declares `websockets: true`.
    websocket_hostnames: tuple[str, ...]
    problems: tuple[str, ...] = ()

    def edge(self) -> rules.Edge:
        """Return the plan in the vocabulary of config/cloudflare_rules.py."""
        return rules.Edge(
            zone=self.zone,
            tunnels=tuple(plan.tunnel for plan in self.tunnels),
            records=tuple(plan.record for plan in self.records),
            monitors=tuple(plan.monitor for plan in self.monitors),
            pools=tuple(plan.pool for plan in self.pools),
            load_balancers=tuple(plan.balancer for plan in self.balancers),
            problems=self.problems,
        )

    def tunnel(self, key: str) -> TunnelPlan:
        return next(plan for plan in self.tunnels if plan.key == key)

    def tunnel_for_host(self, host: str) -> TunnelPlan:
        """Return the tunnel whose token the connector on `host` runs."""
        return next(plan for plan in self.tunnels if host in plan.hosts)


def placeholder_id(tunnel_name: str) -> str:
    """Return the stand-in for a tunnel id that Cloudflare has not assigned yet."""
    return f"<{tunnel_name}>"


def label(route: Route) -> str:
    """Return the first label of a route's hostname, used in resource names."""
    return route.fqdn.split(".")[0]


def ingress_rule(route: Route, service_url: str) -> rules.Ingress:
    origin = route.origin
    return rules.Ingress(
        service=service_url,
        hostname=route.fqdn,
        connect_timeout=origin.connect_timeout,
        http_host_header=origin.http_host_header,
        no_tls_verify=origin.no_tls_verify,
        source=f"services.{route.service}.public",
    )


def catch_all(tunnel_source: str) -> rules.Ingress:
    return rules.Ingress(service=CATCH_ALL_SERVICE, source=f"{tunnel_source} (catch-all rule)")


def plan_edge(topology: Topology, name: str = DEFAULT_NAME) -> EdgePlan:
    """Return the edge of the topology's ingress mode."""
    if topology.model.site.ingress_mode == "load_balancer":
        return plan_load_balancer(topology, name)
    return plan_replicas(topology, name)


def plan_replicas(topology: Topology, name: str) -> EdgePlan:
    """Plan one tunnel shared by every connector, with ingress URLs that work from every host."""
    source = f"services.{CONNECTOR_SERVICE}"
    tunnel_id = placeholder_id(name)
    ingress = [
        ingress_rule(route, topology.replicas_origin_url(route)) for route in topology.routes
    ]
    tunnel = TunnelPlan(
        key="",
        hosts=topology.connector_hosts,
        tunnel=rules.Tunnel(
            id=tunnel_id,
            name=name,
            config_src="cloudflare",
            ingress=(*ingress, catch_all(source)),
            source=source,
        ),
        primary=True,
    )
    records = tuple(record(route, tunnel) for route in topology.routes)
    return EdgePlan(
        name=name,
        mode="replicas",
        zone=topology.domain,
        tunnels=(tunnel,),
        records=records,
        monitors=(),
        pools=(),
        balancers=(),
        websocket_hostnames=websocket_hostnames(topology),
        problems=tuple(connector_problems(topology)),
    )


def plan_load_balancer(topology: Topology, name: str) -> EdgePlan:
    """Plan a tunnel per connector host and a load balancer per replicated hostname."""
    source = f"services.{CONNECTOR_SERVICE}.hosts"
    tunnels: list[TunnelPlan] = []
    for index, host in enumerate(topology.connector_hosts):
        tunnel_name = f"{name}-{host}"
        ingress = [
            ingress_rule(route, topology.origin_url(route, host))
            for route in topology.routes
            # A proxy-mode hostname is served where Authentik's outpost runs.
            if host in topology.ingress_route(route).hosts
        ]
        tunnels.append(
            TunnelPlan(
                key=host,
                hosts=(host,),
                tunnel=rules.Tunnel(
                    id=placeholder_id(tunnel_name),
                    name=tunnel_name,
                    config_src="cloudflare",
                    ingress=(*ingress, catch_all(f"{source}[{index}]")),
                    source=f"{source}[{index}]",
                ),
                primary=index == 0,
            )
        )

    by_host = {plan.key: plan for plan in tunnels}
    records: list[RecordPlan] = []
    monitors: list[MonitorPlan] = []
    pools: list[PoolPlan] = []
    balancers: list[BalancerPlan] = []
    problems = connector_problems(topology)
    for route in topology.routes:
        served = [host for host in topology.ingress_route(route).hosts if host in by_host]
        if not served:
            problems.append(
                f"services.{route.service}.hosts: {', '.join(route.hosts)} run no "
                f"{CONNECTOR_SERVICE} connector, so load_balancer mode has no tunnel to "
                f"{route.fqdn}; add a host to services.{CONNECTOR_SERVICE}.hosts or use "
                "replicas mode"
            )
            continue
        if not route.replicated:
            records.append(record(route, by_host[served[0]]))
            continue
        monitor = monitor_plan(route, name)
        monitors.append(monitor)
        route_pools = [pool_plan(route, name, by_host[host], monitor) for host in served]
        pools += route_pools
        balancers.append(balancer_plan(route, route_pools))
    return EdgePlan(
        name=name,
        mode="load_balancer",
        zone=topology.domain,
        tunnels=tuple(tunnels),
        records=tuple(records),
        monitors=tuple(monitors),
        pools=tuple(pools),
        balancers=tuple(balancers),
        websocket_hostnames=websocket_hostnames(topology),
        problems=tuple(problems),
    )


def record(route: Route, tunnel: TunnelPlan) -> RecordPlan:
    return RecordPlan(
        service=route.service,
        tunnel_key=tunnel.key,
        record=rules.DnsRecord(
            name=route.fqdn,
            type="CNAME",
            content=rules.tunnel_target(tunnel.tunnel.id),
            proxied=True,
            ttl=AUTOMATIC_TTL,
            source=f"services.{route.service}.public.hostname",
        ),
    )


def monitor_plan(route: Route, name: str) -> MonitorPlan:
    return MonitorPlan(
        service=route.service,
        monitor=rules.Monitor(
            id=f"<{name}-{label(route)}-monitor>",
            type=MONITOR_TYPE,
            path=route.health_path,
            host_header=(route.fqdn,),
            expected_codes=MONITOR_EXPECTED_CODES,
            interval=MONITOR_INTERVAL_SECONDS,
            timeout=MONITOR_TIMEOUT_SECONDS,
            retries=MONITOR_RETRIES,
            source=f"services.{route.service}.public.health_path",
        ),
    )


def pool_plan(route: Route, name: str, tunnel: TunnelPlan, monitor: MonitorPlan) -> PoolPlan:
    host = tunnel.key
    pool_name = f"{name}-{label(route)}-{host}"
    return PoolPlan(
        service=route.service,
        host=host,
        tunnel_key=tunnel.key,
        pool=rules.Pool(
            id=pool_name,
            name=pool_name,
            origins=(
                rules.PoolOrigin(
                    name=host,
                    address=rules.tunnel_target(tunnel.tunnel.id),
                    host_header=(route.fqdn,),
                ),
            ),
            monitor=monitor.monitor.id,
            check_regions=HEALTH_CHECK_REGIONS,
            minimum_origins=1,
            source=f"services.{route.service}.hosts[{route.hosts.index(host)}]",
        ),
    )


def balancer_plan(route: Route, pools: list[PoolPlan]) -> BalancerPlan:
    # Pools follow the order of the service's `hosts`, which is the failover order.
    pool_ids = tuple(plan.pool.id for plan in pools)
    return BalancerPlan(
        service=route.service,
        policy=route.policy,
        session_affinity=SESSION_AFFINITY[route.policy],
        balancer=rules.LoadBalancer(
            name=route.fqdn,
            default_pools=pool_ids,
            fallback_pool=pool_ids[-1],
            steering_policy=STEERING[route.policy],
            proxied=True,
            source=f"services.{route.service}.public.policy",
        ),
    )


def connector_problems(topology: Topology) -> list[str]:
    if topology.routes and not topology.connector_hosts:
        return [
            f"services.{CONNECTOR_SERVICE}.hosts: no host runs a tunnel connector, so no "
            "public hostname is reachable; run it on at least one host"
        ]
    return []


def websocket_hostnames(topology: Topology) -> tuple[str, ...]:
    return tuple(route.fqdn for route in topology.routes if route.origin.websockets)
