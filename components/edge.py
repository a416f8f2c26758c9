"""The Cloudflare edge: tunnels, ingress rules, DNS records and load balancers.

config/edge_plan.py decides every object from the topology, and
config/cloudflare_rules.py checks that plan when the config is loaded. This
component only turns the plan into resources and swaps Cloudflare's ids in for
the plan's placeholders.
"""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from components.naming import child, type_token
from config import cloudflare_rules as rules
from config.edge_plan import (
    BalancerPlan,
    EdgePlan,
    MonitorPlan,
    PoolPlan,
    RecordPlan,
    TunnelPlan,
    plan_edge,
)
from config.topology import Topology

IngressArgs = cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressArgs
OriginRequestArgs = cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressOriginRequestArgs


def origin_request(rule: rules.Ingress) -> OriginRequestArgs | None:
    """Return the per-rule origin settings of an ingress rule, or None when it has none.

    WebSockets need no setting here: cloudflared proxies the upgrade of any
    http origin, and the zone's WebSockets switch is managed by the Edge.
    """
    if rule.connect_timeout is None and rule.http_host_header is None and not rule.no_tls_verify:
        return None
    return OriginRequestArgs(
        connect_timeout=rule.connect_timeout,
        http_host_header=rule.http_host_header,
        no_tls_verify=rule.no_tls_verify or None,
    )


class Edge(pulumi.ComponentResource):
    """The tunnels, ingress rules, DNS records and load balancers of one ingress mode.

    replicas: one remote-managed tunnel whose connector runs on every host;
    Cloudflare may hand any request to any connector, so every ingress URL
    works from every host (see Topology.replicas_origin_url).

    load_balancer: one tunnel per connector host, each routing only what its
    host runs. A single-host service gets a CNAME to its host's tunnel. A
    replicated service gets a load balancer with one pool per host, a health
    monitor that requests the service through the tunnel, and the service's
    failover or spread policy.

    The first connector host's tunnel is the same resource in both modes
    (aliases carry it across), so switching `kitestacks:ingressMode` keeps its
    id and token and only adds or removes the other hosts' tunnels.
    """

    tunnel: cloudflare.ZeroTrustTunnelCloudflared
    tunnels: dict[str, cloudflare.ZeroTrustTunnelCloudflared]
    tokens: dict[str, pulumi.Output[str]]
    tunnel_ids: dict[str, pulumi.Output[str]]
    plan: EdgePlan

    def __init__(
        self,
        name: str,
        topology: Topology,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("cloudflare", "Edge"), name, None, opts)
        site = topology.model.site
        self._name = name
        self._account_id = site.cloudflare_account_id
        self._zone_id = site.cloudflare_zone_id
        # The plan check rejects public hostnames without any connector host.
        self._primary_host = next(iter(topology.connector_hosts), "")
        self.plan = plan = plan_edge(topology, name)

        self.tunnels = {}
        self._ids: dict[str, pulumi.Output[str]] = {}
        for tunnel_plan in plan.tunnels:
            tunnel = self._tunnel(tunnel_plan)
            self.tunnels[tunnel_plan.key] = tunnel
            self._ids[tunnel_plan.tunnel.id] = tunnel.id
            self._ingress(tunnel_plan, tunnel)
        self.tunnel = self.tunnels[next(item.key for item in plan.tunnels if item.primary)]

        for record in plan.records:
            self._record(record)
        monitors = {item.monitor.id: self._monitor(item) for item in plan.monitors}
        pools = {item.pool.id: self._pool(item, monitors) for item in plan.pools}
        for balancer in plan.balancers:
            self._load_balancer(balancer, pools)
        if plan.websocket_hostnames:
            self._websockets()

        self.tokens = {}
        self.tunnel_ids = {}
        tokens_by_key = {key: self._token(tunnel) for key, tunnel in self.tunnels.items()}
        for host in topology.connector_hosts:
            key = plan.tunnel_for_host(host).key
            self.tokens[host] = tokens_by_key[key]
            self.tunnel_ids[host] = self.tunnels[key].id
        self.register_outputs({"tunnelIds": self.tunnel_ids, "ingressMode": plan.mode})

    def _names(self, tunnel_plan: TunnelPlan, kind: str) -> tuple[str, list[pulumi.Alias]]:
        """Return a tunnel child's name and, for the primary tunnel, its name in the other mode.

        The alias makes Pulumi treat the other mode's resource as this one, so
        a mode switch renames the primary tunnel in place instead of replacing it.
        """
        shared = child(self._name, kind)
        per_host = child(self._name, self._primary_host, kind)
        if tunnel_plan.key:
            name = child(self._name, tunnel_plan.key, kind)
            other = shared
        else:
            name = shared
            other = per_host
        aliases = [pulumi.Alias(name=other)] if tunnel_plan.primary else []
        return name, aliases

    def _tunnel(self, tunnel_plan: TunnelPlan) -> cloudflare.ZeroTrustTunnelCloudflared:
        name, aliases = self._names(tunnel_plan, "tunnel")
        return cloudflare.ZeroTrustTunnelCloudflared(
            name,
            cloudflare.ZeroTrustTunnelCloudflaredArgs(
                account_id=self._account_id,
                name=tunnel_plan.tunnel.name,
                # Cloudflare's default is "local"; switching later replaces the
                # tunnel with a new id and token, so it is set from the start.
                config_src=tunnel_plan.tunnel.config_src,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                aliases=aliases,
                # The primary tunnel exists in both modes, and deleting it
                # takes every hostname down until the connectors get a new
                # token. The other hosts' tunnels exist only in load_balancer
                # mode, so switching back to replicas must be able to delete them.
                protect=tunnel_plan.primary,
            ),
        )

    def _ingress(
        self, tunnel_plan: TunnelPlan, tunnel: cloudflare.ZeroTrustTunnelCloudflared
    ) -> cloudflare.ZeroTrustTunnelCloudflaredConfig:
        name, aliases = self._names(tunnel_plan, "ingress")
        ingresses = [
            IngressArgs(
                hostname=rule.hostname or None,
                service=rule.service,
                origin_request=origin_request(rule),
            )
            for rule in tunnel_plan.tunnel.ingress
        ]
        return cloudflare.ZeroTrustTunnelCloudflaredConfig(
            name,
            cloudflare.ZeroTrustTunnelCloudflaredConfigArgs(
                account_id=self._account_id,
                tunnel_id=tunnel.id,
                config=cloudflare.ZeroTrustTunnelCloudflaredConfigConfigArgs(ingresses=ingresses),
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
        )

    def _target(self, placeholder_target: str) -> pulumi.Output[str]:
        """Return `<tunnel-id>.cfargotunnel.com` for a plan target that contains a placeholder."""
        placeholder = rules.tunnel_of_target(placeholder_target)
        assert placeholder is not None, f"{placeholder_target} is not a tunnel target"
        return pulumi.Output.concat(self._ids[placeholder], f".{rules.TUNNEL_DOMAIN}")

    def _record(self, plan: RecordPlan) -> cloudflare.DnsRecord:
        record = plan.record
        return cloudflare.DnsRecord(
            child(self._name, "dns", record.name.split(".")[0]),
            cloudflare.DnsRecordArgs(
                zone_id=self._zone_id,
                name=record.name,
                type=record.type,
                content=self._target(record.content),
                proxied=record.proxied,
                ttl=record.ttl,
                comment=f"{plan.service}, managed by Pulumi project kitestacks",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _monitor(self, plan: MonitorPlan) -> cloudflare.LoadBalancerMonitor:
        monitor = plan.monitor
        hostname = monitor.host_header[0]
        return cloudflare.LoadBalancerMonitor(
            child(self._name, hostname.split(".")[0], "monitor"),
            cloudflare.LoadBalancerMonitorArgs(
                account_id=self._account_id,
                type=monitor.type,
                path=monitor.path,
                # The tunnel routes by hostname, so without this header the
                # probe would get the catch-all 404 instead of the app.
                header={"Host": list(monitor.host_header)},
                expected_codes=monitor.expected_codes,
                follow_redirects=False,
                interval=monitor.interval,
                timeout=monitor.timeout,
                retries=monitor.retries,
                description=f"{hostname}{monitor.path} through the tunnel ({plan.service})",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pool(
        self, plan: PoolPlan, monitors: dict[str, cloudflare.LoadBalancerMonitor]
    ) -> cloudflare.LoadBalancerPool:
        pool = plan.pool
        monitor_id = pool.monitor
        assert monitor_id is not None
        return cloudflare.LoadBalancerPool(
            child(self._name, pool.origins[0].host_header[0].split(".")[0], plan.host, "pool"),
            cloudflare.LoadBalancerPoolArgs(
                account_id=self._account_id,
                name=pool.name,
                description=f"{plan.service} on {plan.host}",
                origins=[
                    cloudflare.LoadBalancerPoolOriginArgs(
                        name=origin.name,
                        address=self._target(origin.address),
                        # The tunnel routes by hostname, so the origin sends the
                        # app's hostname rather than the tunnel's.
                        header=cloudflare.LoadBalancerPoolOriginHeaderArgs(
                            hosts=list(origin.host_header)
                        ),
                        enabled=origin.enabled,
                    )
                    for origin in pool.origins
                ],
                monitor=monitors[monitor_id].id,
                check_regions=list(pool.check_regions or ()),
                minimum_origins=pool.minimum_origins,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _load_balancer(
        self, plan: BalancerPlan, pools: dict[str, cloudflare.LoadBalancerPool]
    ) -> cloudflare.LoadBalancer:
        balancer = plan.balancer
        return cloudflare.LoadBalancer(
            child(self._name, balancer.name.split(".")[0], "lb"),
            cloudflare.LoadBalancerArgs(
                zone_id=self._zone_id,
                name=balancer.name,
                description=f"{plan.service}, {plan.policy}, managed by Pulumi project kitestacks",
                default_pools=[pools[pool_id].id for pool_id in balancer.default_pools],
                fallback_pool=pools[balancer.fallback_pool].id,
                steering_policy=balancer.steering_policy,
                session_affinity=plan.session_affinity,
                proxied=balancer.proxied,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _websockets(self) -> cloudflare.ZoneSetting:
        # Cloudflare proxies WebSockets unless the zone's WebSockets switch
        # (dashboard: Network) is off; owning the setting keeps it on for the
        # apps that declare `websockets: true`.
        return cloudflare.ZoneSetting(
            child(self._name, "websockets"),
            cloudflare.ZoneSettingArgs(zone_id=self._zone_id, setting_id="websockets", value="on"),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _token(self, tunnel: cloudflare.ZeroTrustTunnelCloudflared) -> pulumi.Output[str]:
        # The token result is not marked secret by the SDK, so it is wrapped here.
        return pulumi.Output.secret(
            cloudflare.get_zero_trust_tunnel_cloudflared_token_output(
                account_id=self._account_id,
                tunnel_id=tunnel.id,
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).token
        )
