"""Route requests through the rendered Cloudflare edge during a failure, for the tests.

It reads only the rendered resources (tunnels, ingress rules, DNS records,
pools, load balancers and containers) and the hosts' tailnet addresses. A
request follows the path Cloudflare and cloudflared would take: the DNS record
or load balancer, the tunnel, the connector's ingress rule, and the container
that the rule's URL reaches. The failure tests compare its results with
config/failures.py's `evaluate`, so the model and the desired state cannot
disagree about a row of the failure table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from config.cloudflare_inputs import (
    DNS_RECORD_TYPE,
    LOAD_BALANCER_TYPE,
    POOL_TYPE,
    TUNNEL_CONFIG_TYPE,
)
from config.cloudflare_rules import tunnel_of_target
from config.failures import Failure, Status, healthy
from config.topology import CONNECTOR_SERVICE, Topology
from render.document import Rendered

CONTAINER_TYPE = "docker:index/container:Container"


@dataclass(frozen=True)
class Container:
    """A rendered container: its service name, host, networks and published ports."""

    service: str
    host: str
    # (network name, aliases on it) pairs.
    networks: tuple[tuple[str, tuple[str, ...]], ...]
    # (address, host port) pairs it publishes.
    published: tuple[tuple[str, int], ...]

    def reachable_as(self, name: str, client: Container) -> bool:
        """Return whether `client` reaches this container by `name` on a network they share."""
        shared = {network for network, _ in client.networks}
        return any(network in shared and name in aliases for network, aliases in self.networks)


@dataclass(frozen=True)
class Served:
    """What the simulation finds for one hostname."""

    status: Status
    served_by: tuple[str, ...]


class RenderedEdge:
    """The rendered desired state of both stacks, read for routing requests."""

    def __init__(self, renders: dict[str, Rendered], topology: Topology) -> None:
        upstream = renders[topology.model.site.upstream_host].document
        resources = [item for render in renders.values() for item in render.document["resources"]]
        self.topology = topology
        self.tunnel_of_host: dict[str, str] = upstream["outputs"]["tunnelIds"]
        self.ingress: dict[str, list[dict[str, Any]]] = {
            item["inputs"]["tunnelId"]: item["inputs"]["config"]["ingresses"]
            for item in resources
            if item["type"] == TUNNEL_CONFIG_TYPE
        }
        self.records = {
            item["inputs"]["name"]: item["inputs"]
            for item in resources
            if item["type"] == DNS_RECORD_TYPE
        }
        self.balancers = {
            item["inputs"]["name"]: item["inputs"]
            for item in resources
            if item["type"] == LOAD_BALANCER_TYPE
        }
        self.pools = {item["id"]: item["inputs"] for item in resources if item["type"] == POOL_TYPE}
        self.containers = [container(item) for item in resources if item["type"] == CONTAINER_TYPE]
        self.host_of_address = {
            str(host.tailnet_ip): name for name, host in topology.model.catalogue.hosts.items()
        }

    def connectors(self, tunnel_id: str, failure: Failure) -> list[str]:
        """Return the hosts whose connector of this tunnel reaches Cloudflare."""
        if failure.tunnel_down:
            return []
        return sorted(
            host
            for host, tunnel in self.tunnel_of_host.items()
            if tunnel == tunnel_id
            and host not in failure.down_hosts
            and host not in failure.connectors_down
        )

    def answer(self, connector: str, tunnel_id: str, hostname: str, failure: Failure) -> str | None:
        """Return the host whose copy serves a request for `hostname` at `connector`, or None."""
        rules = self.ingress[tunnel_id]
        rule = next((rule for rule in rules if rule.get("hostname") == hostname), rules[-1])
        url = urlsplit(rule["service"])
        if url.hostname is None or url.port is None:
            return None
        if url.hostname in self.host_of_address:
            owner = self.host_of_address[url.hostname]
            matches = [
                item
                for item in self.containers
                if item.host == owner and (url.hostname, url.port) in item.published
            ]
        else:
            owner = connector
            client = next(
                item
                for item in self.containers
                if item.host == connector and item.service == CONNECTOR_SERVICE
            )
            matches = [
                item
                for item in self.containers
                if item.host == owner and item.reachable_as(url.hostname, client)
            ]
        if len(matches) != 1:
            return None
        if not healthy(self.topology, failure, matches[0].service, owner):
            return None
        return owner

    def serve(self, hostname: str, failure: Failure) -> Served:
        """Return what visitors of `hostname` get during `failure`."""
        if hostname in self.balancers:
            return self.serve_balancer(hostname, failure)
        tunnel_id = tunnel_of_target(self.records[hostname]["content"])
        assert tunnel_id is not None, f"{hostname} does not point at a tunnel"
        answers = [
            self.answer(connector, tunnel_id, hostname, failure)
            for connector in self.connectors(tunnel_id, failure)
        ]
        served = tuple(sorted({host for host in answers if host is not None}))
        if not served:
            return Served(Status.DOWN, ())
        if None in answers:
            return Served(Status.DEGRADED, served)
        return Served(Status.UP, served)

    def serve_balancer(self, hostname: str, failure: Failure) -> Served:
        """Follow the load balancer: monitors mark pools, steering picks among the healthy ones."""
        balancer = self.balancers[hostname]
        healthy_hosts: list[str] = []
        for pool_id in balancer["defaultPools"]:
            origin = self.pools[pool_id]["origins"][0]
            tunnel_id = tunnel_of_target(origin["address"])
            assert tunnel_id is not None
            host_header = origin["header"]["hosts"][0]
            answers = {
                self.answer(connector, tunnel_id, host_header, failure)
                for connector in self.connectors(tunnel_id, failure)
            } - {None}
            healthy_hosts += sorted(host for host in answers if host is not None)
        if not healthy_hosts:
            return Served(Status.DOWN, ())
        if balancer["steeringPolicy"] == "off":
            return Served(Status.UP, (healthy_hosts[0],))
        return Served(Status.UP, tuple(sorted(set(healthy_hosts))))


def container(resource: dict[str, Any]) -> Container:
    inputs = resource["inputs"]
    labels = {label["label"]: label["value"] for label in inputs.get("labels", [])}
    networks = tuple(
        (network["name"], tuple(network["aliases"]))
        for network in inputs.get("networksAdvanced", [])
    )
    published = tuple((port["ip"], port["external"]) for port in inputs.get("ports", []))
    return Container(inputs["name"], labels["org.kitestacks.host"], networks, published)
