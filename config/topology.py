"""Facts derived from the model once and shared by every component.

Pure Python with no Pulumi import, so the tests check it without mocks. A change
to the catalogue flows from here into containers, DNS, ingress, the tailnet
policy and single sign-on with no second edit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property

from config import refs
from config.model import Model, OriginOptions, Service, qualified_hostname

ADMINS = "admins"
SSH_PORT = 22
CONNECTOR_SERVICE = "cloudflared"
SCRAPER_SERVICE = "prometheus"
IDENTITY_SERVICE = "authentik-server"
# The generated file that points Grafana at Prometheus by container name.
DATASOURCES_GENERATOR = "grafana-datasources"
# Name of the generated client secret of each oidc app.
SSO_CLIENT_SECRET = "sso_client_secret"
# The generated file that declares every SSO client to Authentik. A service
# that loads it also receives the client secrets its `!Env` tags read.
BLUEPRINT_GENERATOR = "authentik-blueprint"


def sso_secret_env(service: str) -> str:
    """Return the environment variable that hands an app's client secret to Authentik."""
    return f"KITESTACKS_SSO_{service.upper().replace('-', '_')}_CLIENT_SECRET"


@dataclass(frozen=True, order=True)
class SecretName:
    """A generated secret, named by the service that declares it."""

    service: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


@dataclass(frozen=True)
class SecretPart:
    """A part of a value that is only known at deploy time and is secret."""

    kind: str  # "secret", "config", "tunnel" or "sso"
    key: str


ValuePart = str | SecretPart


@dataclass(frozen=True, order=True)
class Flow:
    """A private connection over the tailnet: source host (or admins) to a port of a host."""

    source: str
    destination: str
    port: int
    service: str
    reason: str


@dataclass(frozen=True, order=True)
class Link:
    """A connection between two containers of one host, by container name."""

    host: str
    client: str
    server: str
    reason: str


@dataclass(frozen=True)
class Publish:
    """A container port published on its host's tailnet address."""

    service: str
    container_port: int
    host_port: int


@dataclass(frozen=True)
class Route:
    """A public hostname and the service behind it."""

    fqdn: str
    service: str
    hosts: tuple[str, ...]
    port: int
    policy: str
    origin: OriginOptions
    sso_mode: str
    # Path the load balancer's health monitor requests (load_balancer mode).
    health_path: str = "/"

    @property
    def replicated(self) -> bool:
        return len(self.hosts) > 1


@dataclass(frozen=True)
class SsoClient:
    """An Authentik provider and application for one app."""

    service: str
    mode: str
    client_id: str
    launch_url: str
    redirect_uris: tuple[str, ...]
    internal_url: str


@dataclass(frozen=True)
class Topology:
    """Derived facts of one model: placements, routes, flows and SSO clients."""

    model: Model

    @property
    def domain(self) -> str:
        return self.model.site.domain

    @cached_property
    def placements(self) -> dict[str, tuple[str, ...]]:
        """Map each host to the services it runs, in catalogue order."""
        result: dict[str, list[str]] = {host: [] for host in self.model.catalogue.hosts}
        for name in self.model.catalogue.services:
            for host in self.model.service_hosts(name):
                result[host].append(name)
        return {host: tuple(names) for host, names in result.items()}

    def hosts_of(self, service: str) -> tuple[str, ...]:
        return self.model.service_hosts(service)

    def service(self, name: str) -> Service:
        return self.model.catalogue.services[name]

    def fqdn(self, service: str) -> str:
        public = self.service(service).public
        assert public is not None, f"{service} has no public hostname"
        return qualified_hostname(public.hostname, self.domain)

    def url(self, service: str) -> str:
        return f"https://{self.fqdn(service)}"

    @property
    def issuer_base(self) -> str:
        return self.url(IDENTITY_SERVICE)

    def issuer(self, service: str) -> str:
        """Return the OpenID issuer URL of an app; Authentik issues one per application slug."""
        return f"{self.issuer_base}/application/o/{service}/"

    @cached_property
    def routes(self) -> tuple[Route, ...]:
        """Return every public route, sorted by hostname."""
        routes: list[Route] = []
        for name, service in self.model.catalogue.services.items():
            if service.public is None or service.port is None:
                continue
            routes.append(
                Route(
                    fqdn=self.fqdn(name),
                    service=name,
                    hosts=self.hosts_of(name),
                    port=service.port,
                    policy=service.public.policy,
                    origin=service.public.origin,
                    sso_mode=service.sso.mode if service.sso else "public",
                    health_path=service.public.health_path,
                )
            )
        return tuple(sorted(routes, key=lambda route: route.fqdn))

    @property
    def connector_hosts(self) -> tuple[str, ...]:
        return self.hosts_of(CONNECTOR_SERVICE)

    def tailnet_ip(self, host: str) -> str:
        return str(self.model.catalogue.hosts[host].tailnet_ip)

    def ingress_route(self, route: Route) -> Route:
        """Return the route whose service Cloudflare forwards a public hostname to.

        A proxy-mode app is reachable only through Authentik's embedded outpost,
        which runs inside authentik-server, checks the session and forwards
        signed-in requests to the app. So its hostname targets authentik-server
        (hosts and port included); every other route targets its own service.
        """
        if route.sso_mode != "proxy":
            return route
        identity = self.service(IDENTITY_SERVICE)
        assert identity.port is not None, f"{IDENTITY_SERVICE} declares no port"
        return replace(
            route,
            service=IDENTITY_SERVICE,
            hosts=self.hosts_of(IDENTITY_SERVICE),
            port=identity.port,
        )

    def origin_url(self, route: Route, connector_host: str) -> str:
        """Return the URL that cloudflared on `connector_host` forwards a route to.

        A copy on the connector's own host is reached by container name on the
        host's Docker network. A service on one other host is reached at that
        host's tailnet address and published port. A proxy-mode route goes to
        Authentik's outpost instead (see ingress_route).
        """
        route = self.ingress_route(route)
        if connector_host in route.hosts:
            return f"http://{route.service}:{route.port}"
        owner = route.hosts[0]
        port = self.service(route.service).published_port
        return f"http://{self.tailnet_ip(owner)}:{port}"

    def replicas_origin_url(self, route: Route) -> str:
        """Return the one URL that every connector of a shared tunnel can use.

        In replicas mode all connectors share one ingress configuration, so the
        URL must work on each host. A service that runs on every connector
        host resolves to the local copy by container name. Any other service
        is reached at its owner's tailnet address.
        """
        route = self.ingress_route(route)
        if all(host in route.hosts for host in self.connector_hosts):
            return f"http://{route.service}:{route.port}"
        return self.origin_url(route, connector_host="")

    @cached_property
    def flows(self) -> tuple[Flow, ...]:
        """Return every private flow the services need, sorted and without duplicates."""
        flows: set[Flow] = set()
        flows |= self._reference_flows()
        flows |= self._ingress_flows()
        flows |= self._scrape_flows()
        flows |= self._management_flows()
        flows |= self._outpost_flows()
        flows |= self._datasource_flows()
        return tuple(sorted(flows))

    @property
    def datasource_clients(self) -> list[str]:
        """Return the services whose generated data source file points at Prometheus."""
        return [
            name
            for name, service in self.model.catalogue.services.items()
            if any(file.generator == DATASOURCES_GENERATOR for file in service.files.values())
        ]

    def _datasource_flows(self) -> set[Flow]:
        """Return the flows from a Grafana on another host to Prometheus's published port."""
        flows: set[Flow] = set()
        for name in self.datasource_clients:
            scraper_hosts = self.hosts_of(SCRAPER_SERVICE)
            port = self.service(SCRAPER_SERVICE).published_port
            assert port is not None
            for host in self.hosts_of(name):
                if host not in scraper_hosts:
                    reason = f"{name} queries {SCRAPER_SERVICE}"
                    flows.add(Flow(host, scraper_hosts[0], port, SCRAPER_SERVICE, reason))
        return flows

    @cached_property
    def links(self) -> tuple[Link, ...]:
        """Return every connection between containers of one host, sorted.

        Each service has a Docker network of its own, and a container joins
        the network of every server it connects to (see networks_of), so these
        connections are the only ones Docker allows between containers.
        """
        links: set[Link] = set()
        for name, service in self.model.catalogue.services.items():
            for target in addressed_services(service):
                for host in set(self.hosts_of(name)) & set(self.hosts_of(target)):
                    links.add(Link(host, name, target, f"{name} uses {target}"))
        links |= self._ingress_links()
        for client in self.sso_clients:
            host = self.identity_server_host
            if client.mode == "proxy" and host in self.hosts_of(client.service):
                reason = f"Authentik's outpost forwards to {client.service}"
                links.add(Link(host, IDENTITY_SERVICE, client.service, reason))
        for target in self.scrape_targets:
            scraper_hosts = self.hosts_of(SCRAPER_SERVICE)
            if target.host in scraper_hosts and target.service != SCRAPER_SERVICE:
                reason = f"prometheus scrapes {target.service}"
                links.add(Link(target.host, SCRAPER_SERVICE, target.service, reason))
        for name in self.datasource_clients:
            for host in set(self.hosts_of(name)) & set(self.hosts_of(SCRAPER_SERVICE)):
                links.add(Link(host, name, SCRAPER_SERVICE, f"{name} queries prometheus"))
        return tuple(sorted(links))

    def _ingress_links(self) -> set[Link]:
        """Return the connections from each connector to the apps it reaches by name."""
        links: set[Link] = set()
        replicas = self.model.site.ingress_mode != "load_balancer"
        for connector in self.connector_hosts:
            for public_route in self.routes:
                route = self.ingress_route(public_route)
                if connector not in route.hosts:
                    continue
                url = (
                    self.replicas_origin_url(route)
                    if replicas
                    else self.origin_url(route, connector)
                )
                if url.startswith(f"http://{route.service}:"):
                    reason = f"cloudflared serves {public_route.fqdn}"
                    links.add(Link(connector, CONNECTOR_SERVICE, route.service, reason))
        return links

    def networks_of(self, host: str, service: str) -> tuple[str, ...]:
        """Return the services whose networks a service's container joins on a host, sorted.

        Every container is on its own service's network and on the network of
        each server it connects to.
        """
        servers = {
            link.server for link in self.links if link.host == host and link.client == service
        }
        return tuple(sorted(servers | {service}))

    def _reference_flows(self) -> set[Flow]:
        flows: set[Flow] = set()
        for name, service in self.model.catalogue.services.items():
            for target in sorted(addressed_services(service)):
                target_hosts = self.hosts_of(target)
                port = self.service(target).published_port
                assert port is not None
                for host in self.hosts_of(name):
                    if host in target_hosts:
                        continue
                    flows.add(Flow(host, target_hosts[0], port, target, f"{name} uses {target}"))
        return flows

    def _ingress_flows(self) -> set[Flow]:
        if self.model.site.ingress_mode != "replicas":
            return set()
        flows: set[Flow] = set()
        for public_route in self.routes:
            route = self.ingress_route(public_route)
            url = self.replicas_origin_url(route)
            if url.startswith(f"http://{route.service}:"):
                continue
            port = self.service(route.service).published_port
            assert port is not None
            for connector in self.connector_hosts:
                if connector not in route.hosts:
                    flows.add(
                        Flow(
                            connector,
                            route.hosts[0],
                            port,
                            route.service,
                            f"cloudflared on {connector} serves {route.fqdn}",
                        )
                    )
        return flows

    def _outpost_flows(self) -> set[Flow]:
        """Return the flows from Authentik's outpost to proxy-mode apps on other hosts."""
        identity_host = self.identity_server_host
        flows: set[Flow] = set()
        for client in self.sso_clients:
            hosts = self.hosts_of(client.service)
            if client.mode != "proxy" or identity_host in hosts:
                continue
            port = self.service(client.service).published_port
            assert port is not None
            flows.add(
                Flow(
                    identity_host,
                    hosts[0],
                    port,
                    client.service,
                    f"authentik outpost forwards to {client.service}",
                )
            )
        return flows

    def _scrape_flows(self) -> set[Flow]:
        if SCRAPER_SERVICE not in self.model.catalogue.services:
            return set()
        flows: set[Flow] = set()
        for scraper in self.hosts_of(SCRAPER_SERVICE):
            for target in self.scrape_targets:
                if target.host != scraper:
                    flows.add(
                        Flow(
                            scraper,
                            target.host,
                            target.port,
                            target.service,
                            f"prometheus scrapes {target.service}",
                        )
                    )
        return flows

    def _management_flows(self) -> set[Flow]:
        flows: set[Flow] = set()
        upstream = self.model.site.upstream_host
        for host in self.model.catalogue.hosts:
            flows.add(
                Flow(ADMINS, host, SSH_PORT, "sshd", "admins manage hosts and Docker over SSH")
            )
            if host != upstream:
                flows.add(
                    Flow(host, upstream, SSH_PORT, "sshd", f"{host} manages {upstream} over SSH")
                )
        return flows

    @cached_property
    def scrape_targets(self) -> tuple[ScrapeTarget, ...]:
        """Return every metrics endpoint with the address Prometheus reaches it at."""
        targets: list[ScrapeTarget] = []
        scraper_hosts = (
            self.hosts_of(SCRAPER_SERVICE)
            if SCRAPER_SERVICE in self.model.catalogue.services
            else ()
        )
        for name, service in self.model.catalogue.services.items():
            if service.metrics is None:
                continue
            for host in self.hosts_of(name):
                local = host in scraper_hosts
                address = (
                    f"{name}:{service.metrics.port}"
                    if local
                    else f"{self.tailnet_ip(host)}:{self.metrics_host_port(name)}"
                )
                targets.append(
                    ScrapeTarget(
                        name, host, self.metrics_host_port(name), address, service.metrics.path
                    )
                )
        return tuple(sorted(targets, key=lambda target: (target.service, target.host)))

    def metrics_host_port(self, service: str) -> int:
        """Return the host port of a service's metrics endpoint."""
        spec = self.service(service)
        assert spec.metrics is not None
        if spec.metrics.port == spec.port and spec.published_port is not None:
            return spec.published_port
        return spec.metrics.port

    @cached_property
    def published(self) -> dict[str, tuple[Publish, ...]]:
        """Map each host to the ports its containers publish on the tailnet address."""
        result: dict[str, set[Publish]] = defaultdict(set)
        for flow in self.flows:
            if flow.service == "sshd":
                continue
            spec = self.service(flow.service)
            if spec.port is not None and flow.port == spec.published_port:
                container_port = spec.port
            else:
                assert spec.metrics is not None
                container_port = spec.metrics.port
            result[flow.destination].add(Publish(flow.service, container_port, flow.port))
        return {
            host: tuple(sorted(result.get(host, set()), key=lambda p: (p.service, p.host_port)))
            for host in self.model.catalogue.hosts
        }

    def published_for(self, host: str, service: str) -> tuple[Publish, ...]:
        return tuple(item for item in self.published[host] if item.service == service)

    @cached_property
    def secrets(self) -> tuple[SecretName, ...]:
        """Return every generated secret, sorted."""
        names = {
            SecretName(name, secret)
            for name, service in self.model.catalogue.services.items()
            for secret in service.secrets
        }
        names |= {
            SecretName(client.service, SSO_CLIENT_SECRET)
            for client in self.sso_clients
            if client.mode == "oidc"
        }
        return tuple(sorted(names))

    @property
    def identity_server_host(self) -> str:
        """Return the host of authentik-server, whose embedded outpost serves proxy apps."""
        return self.hosts_of(IDENTITY_SERVICE)[0]

    def upstream_url(self, service: str) -> str:
        """Return the URL at which Authentik's outpost reaches a proxy-mode app.

        The outpost runs inside authentik-server: an app on the same host is
        reached by container name, an app on another host at that host's
        tailnet address and published port (see _outpost_flows).
        """
        spec = self.service(service)
        hosts = self.hosts_of(service)
        if self.identity_server_host in hosts:
            return f"http://{service}:{spec.port}"
        return f"http://{self.tailnet_ip(hosts[0])}:{spec.published_port}"

    @cached_property
    def sso_clients(self) -> tuple[SsoClient, ...]:
        """Return the Authentik provider of every app behind single sign-on, sorted by name."""
        clients: list[SsoClient] = []
        for name, service in self.model.catalogue.services.items():
            if service.sso is None or service.sso.mode == "public" or service.port is None:
                continue
            url = self.url(name)
            redirect = (f"{url}{service.sso.callback}",) if service.sso.callback else ()
            clients.append(
                SsoClient(
                    service=name,
                    mode=service.sso.mode,
                    client_id=name,
                    launch_url=url,
                    redirect_uris=redirect,
                    internal_url=self.upstream_url(name),
                )
            )
        return tuple(sorted(clients, key=lambda client: client.service))

    def env_of(self, service: str) -> dict[str, str]:
        """Return a service's environment as catalogue values, ready for resolve.

        That is its `env`, plus, for a service that loads the Authentik
        blueprint, one `${secret:...}` per oidc client: the blueprint reads
        each client secret with `!Env` instead of holding it in plain text.
        """
        spec = self.service(service)
        env = dict(spec.env)
        if any(file.generator == BLUEPRINT_GENERATOR for file in spec.files.values()):
            for client in self.sso_clients:
                if client.mode == "oidc":
                    key = f"{client.service}.{SSO_CLIENT_SECRET}"
                    env[sso_secret_env(client.service)] = f"${{secret:{key}}}"
        return env

    def resolve(self, value: str, service: str, host: str) -> tuple[ValuePart, ...]:
        """Resolve a catalogue value for one container into literal and secret parts."""
        parts: list[ValuePart] = []
        for part in refs.split(value):
            if isinstance(part, str):
                parts.append(part)
            else:
                parts.append(self._resolve_reference(part, service, host))
        return merge_literals(parts)

    def _resolve_reference(self, reference: refs.Reference, service: str, host: str) -> ValuePart:
        kind, argument = reference.kind, reference.argument
        if kind == "secret":
            owner, _, name = argument.rpartition(".")
            return SecretPart("secret", f"{owner or service}.{name}")
        if kind == "config":
            return SecretPart("config", argument)
        if kind == "tunnel":
            return SecretPart("tunnel", host)
        if kind == "sso":
            if argument == "client_secret":
                return SecretPart("secret", f"{service}.{SSO_CLIENT_SECRET}")
            if argument == "client_id":
                return service
            return self.issuer(service)
        if kind == "domain":
            return self.domain
        if kind == "url":
            return self.url(argument)
        target = self.service(argument)
        local = host in self.hosts_of(argument)
        if kind == "host":
            return argument if local else self.tailnet_ip(self.hosts_of(argument)[0])
        assert kind == "port", f"unknown reference kind {kind}"
        assert target.port is not None, f"{argument} declares no port"
        return str(target.port if local else target.published_port)


@dataclass(frozen=True)
class ScrapeTarget:
    """A metrics endpoint of one copy of a service."""

    service: str
    host: str
    port: int
    address: str
    path: str


def addressed_services(service: Service) -> set[str]:
    """Return the services whose address a service's values name with ${host:...} or ${port:...}."""
    return {
        reference.argument
        for value in values_of(service)
        for reference in refs.references(value)
        if reference.kind in ("host", "port")
    }


def values_of(service: Service) -> list[str]:
    """Return every catalogue value of a service that may hold references."""
    values = list(service.env.values())
    values += [spec.template for spec in service.files.values() if spec.template is not None]
    if service.sso is not None and service.sso.setup is not None:
        values.append(service.sso.setup.script)
    return values


def merge_literals(parts: list[ValuePart]) -> tuple[ValuePart, ...]:
    """Join neighbouring literal strings so that equal values compare equal."""
    merged: list[ValuePart] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        elif part != "":
            merged.append(part)
    return tuple(merged)


def derive(model: Model) -> Topology:
    """Return the topology of a validated model."""
    return Topology(model)
