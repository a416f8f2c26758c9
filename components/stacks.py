"""The two stacks: kscloud1 upstream, monk downstream reading it.

kscloud1 owns the Hetzner server, the Cloudflare edge, the tailnet policy,
every generated secret and its own containers. monk owns its containers and
reads secrets and its tunnel token through a StackReference; kscloud1 never
reads monk, so there is no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi

from components.cloud_server import CloudServer
from components.docker_host import DockerHost
from components.edge import Edge
from components.secrets import GeneratedSecrets
from components.service import Service
from components.tailnet import Tailnet
from components.values import SecretLookup, secret_from_map, shared
from config.load import ConfigError, settings_mismatches, shared_settings
from config.topology import SecretPart, Topology

SECRETS_OUTPUT = "secrets"
TUNNEL_TOKENS_OUTPUT = "tunnelTokens"
INGRESS_MODE_OUTPUT = "ingressMode"
SHARED_SETTINGS_OUTPUT = "sharedSettings"


def config_secret(key: str) -> pulumi.Output[str]:
    """Return a secret that the user set with `pulumi config set --secret`."""
    return pulumi.Config().require_secret(key)


def deploy_services(
    topology: Topology, host: str, docker_host: DockerHost, lookup: SecretLookup
) -> list[Service]:
    """Create a Service for every catalogue entry placed on `host`."""
    return [
        Service(f"{host}-{service}", service, host, docker_host, topology, lookup)
        for service in topology.placements[host]
    ]


def deploy_upstream(topology: Topology) -> None:
    """Create the kscloud1 stack."""
    model = topology.model
    site = model.site
    host_name = site.stack
    host = model.catalogue.hosts[host_name]

    lengths = {
        f"{service}.{secret}": spec.length
        for service, entry in model.catalogue.services.items()
        for secret, spec in entry.secrets.items()
    }
    secrets = GeneratedSecrets("kitestacks-secrets", topology.secrets, lengths)
    edge = Edge("kitestacks", topology)
    tailnet = Tailnet("kitestacks-tailnet", topology, key_hosts=(host_name,))
    server = CloudServer(
        host_name,
        host_name,
        host,
        site.admin_ssh_keys,
        tailnet.auth_keys[host_name],
        tailnet_domain=site.tailnet_domain,
        rebuild=site.rebuild_server,
    )
    docker_host = DockerHost(
        host_name,
        host.ssh_user,
        str(host.tailnet_ip),
        opts=pulumi.ResourceOptions(depends_on=[server.ready]),
    )

    def lookup(part: SecretPart) -> pulumi.Output[str]:
        if part.kind == "secret":
            return secrets.values[part.key]
        if part.kind == "tunnel":
            return edge.tokens[part.key]
        return config_secret(part.key)

    deploy_services(topology, host_name, docker_host, shared(lookup))

    # Each value is a secret Output, so the map keeps its keys readable.
    pulumi.export(SECRETS_OUTPUT, secrets.values)
    pulumi.export(TUNNEL_TOKENS_OUTPUT, edge.tokens)
    pulumi.export(INGRESS_MODE_OUTPUT, site.ingress_mode)
    pulumi.export(SHARED_SETTINGS_OUTPUT, shared_settings(site))
    pulumi.export("tunnelId", edge.tunnel.id)
    pulumi.export("tunnelIds", edge.tunnel_ids)
    pulumi.export("serverIpv4", server.server.ipv4_address)
    pulumi.export("publicHostnames", [route.fqdn for route in topology.routes])


def deploy_downstream(topology: Topology) -> None:
    """Create a downstream stack (monk) that reads the upstream stack's outputs.

    The stack first compares its shared settings with the upstream stack's and
    stops before registering any resource when they differ, so a half-applied
    mismatch never reaches the hosts.
    """
    pulumi.run(lambda: deploy_downstream_checked(topology))


async def deploy_downstream_checked(topology: Topology) -> None:
    """Check the upstream stack's shared settings, then create the downstream stack."""
    model = topology.model
    site = model.site
    host_name = site.stack
    host = model.catalogue.hosts[host_name]

    upstream = pulumi.StackReference(site.upstream_stack)
    details = await upstream.get_output_details(SHARED_SETTINGS_OUTPUT)
    upstream_settings: Any = details.value
    settings = cast(
        "Mapping[str, object] | None",
        upstream_settings if isinstance(upstream_settings, dict) else None,
    )
    problems = settings_mismatches(site, settings)
    if problems:
        raise pulumi.RunError(str(ConfigError(problems)))

    secrets: pulumi.Output[Mapping[str, str]] = upstream.get_output(SECRETS_OUTPUT)
    tokens: pulumi.Output[Mapping[str, str]] = upstream.get_output(TUNNEL_TOKENS_OUTPUT)
    docker_host = DockerHost(host_name, host.ssh_user, str(host.tailnet_ip))

    def lookup(part: SecretPart) -> pulumi.Output[str]:
        if part.kind == "secret":
            return secret_from_map(secrets, part.key)
        if part.kind == "tunnel":
            return secret_from_map(tokens, part.key)
        return config_secret(part.key)

    services = deploy_services(topology, host_name, docker_host, shared(lookup))
    pulumi.export("containers", [service.container.name for service in services])


def deploy(topology: Topology) -> None:
    """Create the stack named after one host."""
    if topology.model.is_upstream:
        deploy_upstream(topology)
    else:
        deploy_downstream(topology)
