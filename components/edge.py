"""The Cloudflare edge: tunnel, ingress rules and DNS for every public route."""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from components.naming import child, type_token
from config.topology import Route, Topology

# Cloudflare rejects a tunnel configuration whose last rule is not a catch-all
# without hostname and path.
CATCH_ALL_SERVICE = "http_status:404"
# A ttl of 1 means "automatic", the only value Cloudflare accepts for proxied records.
AUTOMATIC_TTL = 1


def origin_request(
    route: Route,
) -> cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressOriginRequestArgs | None:
    """Return the per-rule origin settings a route declares, or None."""
    origin = route.origin
    if (
        origin.connect_timeout is None
        and origin.http_host_header is None
        and not origin.no_tls_verify
    ):
        return None
    return cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressOriginRequestArgs(
        connect_timeout=origin.connect_timeout,
        http_host_header=origin.http_host_header,
        no_tls_verify=origin.no_tls_verify or None,
    )


class Edge(pulumi.ComponentResource):
    """One remote-managed tunnel with a connector on each host, and its DNS records.

    Cloudflare may hand a request to any connector of the tunnel, so every
    ingress URL works from every host (see Topology.replicas_origin_url).
    """

    tunnel: cloudflare.ZeroTrustTunnelCloudflared
    tokens: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        topology: Topology,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("cloudflare", "Edge"), name, None, opts)
        site = topology.model.site
        account_id = site.cloudflare_account_id
        zone_id = site.cloudflare_zone_id

        self.tunnel = cloudflare.ZeroTrustTunnelCloudflared(
            child(name, "tunnel"),
            cloudflare.ZeroTrustTunnelCloudflaredArgs(
                account_id=account_id,
                name=name,
                # Cloudflare's default is "local"; switching later replaces the
                # tunnel with a new id and token, so it is set from the start.
                config_src="cloudflare",
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        ingresses = [
            cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressArgs(
                hostname=route.fqdn,
                service=topology.replicas_origin_url(route),
                origin_request=origin_request(route),
            )
            for route in topology.routes
        ]
        ingresses.append(
            cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressArgs(service=CATCH_ALL_SERVICE)
        )
        self.config = cloudflare.ZeroTrustTunnelCloudflaredConfig(
            child(name, "ingress"),
            cloudflare.ZeroTrustTunnelCloudflaredConfigArgs(
                account_id=account_id,
                tunnel_id=self.tunnel.id,
                config=cloudflare.ZeroTrustTunnelCloudflaredConfigConfigArgs(ingresses=ingresses),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        target = pulumi.Output.concat(self.tunnel.id, ".cfargotunnel.com")
        self.records = {
            route.fqdn: cloudflare.DnsRecord(
                child(name, "dns", route.fqdn.split(".")[0]),
                cloudflare.DnsRecordArgs(
                    zone_id=zone_id,
                    name=route.fqdn,
                    type="CNAME",
                    content=target,
                    proxied=True,
                    ttl=AUTOMATIC_TTL,
                    comment=f"{route.service}, managed by Pulumi project kitestacks",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for route in topology.routes
        }

        # The token result is not marked secret by the SDK, so it is wrapped here.
        token = pulumi.Output.secret(
            cloudflare.get_zero_trust_tunnel_cloudflared_token_output(
                account_id=account_id,
                tunnel_id=self.tunnel.id,
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).token
        )
        self.tokens = {host: token for host in topology.connector_hosts}
        self.register_outputs({"tunnelId": self.tunnel.id})
