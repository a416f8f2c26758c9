"""Checks that span more than one key of the model.

Each check returns `key.path: problem; fix` lines and never raises, so one run
reports every problem at once.
"""

from __future__ import annotations

import re
from collections import defaultdict

from config import cloudflare_rules, refs
from config.cloud_init import check_cloud_hosts
from config.edge_plan import plan_edge
from config.model import IDENTITY_PLACEHOLDER, Model, Service, qualified_hostname
from config.tailnet_policy import check_tailnet
from config.topology import (
    CONNECTOR_SERVICE,
    IDENTITY_SERVICE,
    SCRAPER_SERVICE,
    Topology,
)


def check_model(model: Model) -> list[str]:
    """Return every cross-key problem of the model."""
    problems: list[str] = []
    problems += check_hosts(model)
    problems += check_references(model)
    problems += check_hostnames(model)
    problems += check_cycles(model)
    problems += check_tailnet(model)
    problems += check_cloud_hosts(model)
    problems += check_serving(model)
    return problems


def known_hosts(model: Model) -> str:
    return ", ".join(model.catalogue.hosts)


def name_a_service(model: Model) -> str:
    """Return the fix for a reference to an unknown service."""
    return f"name one of the {len(model.catalogue.services)} services under `services`"


def check_hosts(model: Model) -> list[str]:
    """Check that the stack, the identity host and every placement name a declared host."""
    site = model.site
    hosts = model.catalogue.hosts
    problems: list[str] = []
    if site.stack not in hosts:
        problems.append(
            f"stack: no host is named '{site.stack}'; name the stack after a host "
            f"({known_hosts(model)})"
        )
    if site.identity_host not in hosts:
        problems.append(
            f"{site.project}:identityHost: unknown host '{site.identity_host}'; "
            f"known hosts are {known_hosts(model)}"
        )
    upstream = hosts.get(site.upstream_host)
    if upstream is None or upstream.provider != "hetzner":
        problems.append(
            f"hosts.{site.upstream_host}: the upstream stack's host must be declared "
            "with provider hetzner"
        )
    addresses: dict[str, str] = {}
    for name, host in hosts.items():
        owner = addresses.setdefault(str(host.tailnet_ip), name)
        if owner != name:
            problems.append(
                f"hosts.{name}.tailnet_ip: {host.tailnet_ip} is already the address of "
                f"{owner}; use the address the Tailscale admin console shows for {name}"
            )
    if model.is_upstream:
        for key, value in (
            ("cloudflareAccountId", site.cloudflare_account_id),
            ("cloudflareZoneId", site.cloudflare_zone_id),
        ):
            if not re.fullmatch(r"[0-9a-f]{32}", value):
                problems.append(
                    f"{site.project}:{key}: '{value}' is not a Cloudflare id (32 hexadecimal "
                    f"characters); copy it from the dashboard's Overview page and run "
                    f"`pulumi config set {site.project}:{key} <id> --stack {site.stack}`"
                )
    for name, service in model.catalogue.services.items():
        seen: set[str] = set()
        for index, host in enumerate(service.hosts):
            if host != IDENTITY_PLACEHOLDER and host not in hosts:
                problems.append(
                    f"services.{name}.hosts[{index}]: unknown host '{host}'; "
                    f"known hosts are {known_hosts(model)}"
                )
            # `@identity` names a host too, so compare after resolving it.
            resolved = site.identity_host if host == IDENTITY_PLACEHOLDER else host
            if resolved in seen:
                shown = host if host == resolved else f"{host} ({resolved})"
                problems.append(
                    f"services.{name}.hosts[{index}]: '{shown}' is listed twice; remove one"
                )
            seen.add(resolved)
    return problems


def service_values(service: Service) -> list[tuple[str, str]]:
    """Return (key path suffix, value) of every value that may hold references."""
    values = [(f"env.{key}", value) for key, value in service.env.items()]
    values += [
        (f"files.{path}.template", spec.template)
        for path, spec in service.files.items()
        if spec.template is not None
    ]
    if service.sso is not None and service.sso.setup is not None:
        values.append(("sso.setup.script", service.sso.setup.script))
    return values


def check_references(model: Model) -> list[str]:
    """Check that every `${...}` reference names something that exists."""
    services = model.catalogue.services
    problems: list[str] = []
    for name, service in services.items():
        for suffix, value in service_values(service):
            key = f"services.{name}.{suffix}"
            if refs.unterminated(value):
                problems.append(f"{key}: unterminated or malformed `${{`; write ${{kind:argument}}")
            for reference in refs.references(value):
                problem = check_reference(model, name, service, reference)
                if problem:
                    problems.append(f"{key}: {problem}")
    return problems


def check_reference(
    model: Model,
    name: str,
    service: Service,
    reference: refs.Reference,
) -> str | None:
    """Return the problem with one reference, or None."""
    services = model.catalogue.services
    kind, argument = reference.kind, reference.argument
    if kind not in refs.KINDS:
        return f"unknown reference kind '{kind}' in {reference}; use one of {', '.join(refs.KINDS)}"
    if refs.KINDS[kind] and not argument:
        return f"{reference} needs an argument; write ${{{kind}:NAME}}"
    if kind == "secret":
        owner, _, secret = argument.rpartition(".")
        owner = owner or name
        if owner not in services:
            return f"{reference} names unknown service '{owner}'; {name_a_service(model)}"
        if secret not in services[owner].secrets:
            return (
                f"{reference}: service '{owner}' declares no secret '{secret}'; "
                "add it under secrets"
            )
    elif kind == "config":
        if not re.match(r"^[a-z][A-Za-z0-9]*$", argument):
            return (
                f"{reference}: '{argument}' is not a config key; use camelCase such as openaiApiKey"
            )
    elif kind in ("host", "port", "url"):
        if argument not in services:
            return f"{reference} names unknown service '{argument}'; {name_a_service(model)}"
        target = services[argument]
        if kind in ("host", "port") and target.port is None:
            return f"{reference}: service '{argument}' declares no port; add `port` to it"
        if kind == "host" and argument == name:
            return f"{reference} refers to the service itself; use localhost"
        if kind == "url" and target.public is None:
            return (
                f"{reference}: service '{argument}' has no public hostname; add "
                f"`public.hostname` to it, or use ${{host:{argument}}} for a private address"
            )
        if kind in ("host", "port"):
            return check_reachable(model, name, argument, reference)
    elif kind == "tunnel":
        if argument != "token":
            return f"{reference}: unknown tunnel reference; write ${{tunnel:token}}"
        return check_tunnel_token(model, name, reference)
    elif kind == "sso":
        if argument not in refs.SSO_FIELDS:
            return f"{reference}: use one of {', '.join(refs.SSO_FIELDS)}"
        if service.sso is None or service.sso.mode != "oidc":
            return f"{reference}: the service is not an oidc app; set sso.mode to oidc"
    return None


def check_reachable(
    model: Model, source: str, target: str, reference: refs.Reference
) -> str | None:
    """Check that every host of `source` can reach a copy of `target`.

    A host that runs a copy of the target reaches that local copy. Any other
    host needs the target on exactly one host, so that its address is unique.
    """
    source_hosts = model.service_hosts(source)
    target_hosts = model.service_hosts(target)
    for host in source_hosts:
        # An unknown host is reported once, by check_hosts.
        if host in target_hosts or host not in model.catalogue.hosts:
            continue
        if len(target_hosts) != 1:
            return (
                f"{reference}: '{target}' runs on {', '.join(target_hosts)} but not on {host}, "
                f"so {host} has no single copy to reach; run it on {host} too or on one host"
            )
    return None


def check_tunnel_token(model: Model, name: str, reference: refs.Reference) -> str | None:
    """Check that every host of a service reading the tunnel token runs a connector."""
    services = model.catalogue.services
    if CONNECTOR_SERVICE not in services:
        return None
    connectors = model.service_hosts(CONNECTOR_SERVICE)
    for host in model.service_hosts(name):
        if host not in connectors and host in model.catalogue.hosts:
            return (
                f"{reference}: {host} runs no {CONNECTOR_SERVICE}, so it has no tunnel token; "
                f"run {name} only where {CONNECTOR_SERVICE} runs"
            )
    return None


def check_hostnames(model: Model) -> list[str]:
    """Check that public hostnames are unique and lie directly under the zone.

    Cloudflare's Universal SSL certificate covers the zone and its first-level
    subdomains only, so `a.b.kitestacks.com` would fail TLS at the edge.
    """
    domain = model.site.domain
    owners: dict[str, list[str]] = defaultdict(list)
    problems: list[str] = []
    for name, service in model.catalogue.services.items():
        if service.public is None:
            continue
        hostname = service.public.hostname
        fqdn = qualified_hostname(hostname, domain)
        if "." in hostname and not hostname.endswith(f".{domain}"):
            problems.append(
                f"services.{name}.public.hostname: '{hostname}' is outside the zone {domain}; "
                f"use a name under it, such as {hostname.split('.')[0]}"
            )
        elif fqdn.count(".") != domain.count(".") + 1:
            label = "-".join(fqdn.removesuffix(f".{domain}").split("."))
            problems.append(
                f"services.{name}.public.hostname: '{hostname}' is more than one level below "
                f"{domain}, which Cloudflare's Universal SSL certificate does not cover; "
                f"use a single label such as {label}"
            )
        else:
            owners[fqdn].append(name)
    for fqdn, names in sorted(owners.items()):
        if len(names) > 1:
            problems.append(
                f"services.{names[1]}.public.hostname: {fqdn} is already "
                f"used by {names[0]}; choose another hostname"
            )
    for name, service in model.catalogue.services.items():
        if service.sso is not None and service.sso.mode != "public" and service.public is None:
            problems.append(
                f"services.{name}.sso: an app behind single sign-on needs a public "
                "hostname; add `public.hostname` or remove `sso`"
            )
        if service.public is not None and service.sso is None:
            problems.append(
                f"services.{name}.sso: missing; a public hostname must be behind single "
                "sign-on or public on purpose, so set `sso.mode` to oidc, proxy or public"
            )
    return problems


# TCP ports of the hosts themselves that a container must never take on the
# tailnet address: a grant to such a port would also open the host's service.
HOST_PORTS = {22: "SSH", 2375: "the Docker API", 2376: "the Docker API over TLS"}


def check_ports(topology: Topology) -> list[str]:
    """Check that no two services publish the same port on one host, nor a host's own port."""
    problems: list[str] = []
    for host, published in topology.published.items():
        used: dict[int, str] = {}
        for item in published:
            if item.host_port in HOST_PORTS:
                problems.append(
                    f"services.{item.service}.host_port: port {item.host_port} on {host} is "
                    f"{HOST_PORTS[item.host_port]} of the host itself; set another host_port"
                )
                continue
            owner = used.setdefault(item.host_port, item.service)
            if owner != item.service:
                problems.append(
                    f"services.{item.service}.host_port: port {item.host_port} on {host} is "
                    f"already published by {owner}; set a free host_port"
                )
    return problems


def check_cycles(model: Model) -> list[str]:
    """Check that `${host:...}` references form no dependency cycle."""
    graph = {
        name: sorted(
            {
                reference.argument
                for _, value in service_values(service)
                for reference in refs.references(value)
                if reference.kind in ("host", "port") and reference.argument != name
            }
        )
        for name, service in model.catalogue.services.items()
    }
    problems: list[str] = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            problems.append(
                f"services.{name}.env: dependency cycle {' -> '.join(cycle)}; "
                "remove one of these references"
            )
            return
        visiting.append(name)
        for target in graph.get(name, []):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    return problems


def check_edge(topology: Topology) -> list[str]:
    """Check the Cloudflare edge of the configured ingress mode against Cloudflare's rules."""
    return cloudflare_rules.check(plan_edge(topology).edge())


def check_serving(model: Model) -> list[str]:
    """Check that every public service can be served in the chosen ingress mode.

    The topology skips a public service that has no port. It also needs the
    tunnel connector, and the identity provider and Prometheus wherever a
    service refers to them, so a catalogue without them would crash the program.
    """
    services = model.catalogue.services
    problems: list[str] = []
    if CONNECTOR_SERVICE not in services:
        problems.append(
            f"services.{CONNECTOR_SERVICE}: missing; the tunnel needs a connector, add a "
            f"{CONNECTOR_SERVICE} service on every host that should receive traffic"
        )
    for name, service in services.items():
        if service.public is not None and service.port is None:
            problems.append(
                f"services.{name}.public: a public service needs `port`, the port its app "
                "listens on; set `port` or remove `public`"
            )
        problems += check_replicas(model, name)
    problems += check_identity_provider(model)
    for name, service in services.items():
        for path, spec in service.files.items():
            if spec.generator == "grafana-datasources" and (
                SCRAPER_SERVICE not in services or services[SCRAPER_SERVICE].port is None
            ):
                problems.append(
                    f"services.{name}.files.{path}.generator: grafana-datasources points "
                    f"Grafana at {SCRAPER_SERVICE}, which is not declared with a port; "
                    f"add the {SCRAPER_SERVICE} service or remove this file"
                )
    return problems


def check_replicas(model: Model, name: str) -> list[str]:
    """Check that the sharing policy of a public service fits where its copies run.

    `failover` needs a second copy to fail over to. In load_balancer mode each
    host's copy is reached only through that host's own tunnel, so a host with
    a copy but no connector leaves that copy unreachable.
    """
    service = model.catalogue.services[name]
    if service.public is None:
        return []
    hosts = model.service_hosts(name)
    problems: list[str] = []
    if service.public.policy == "failover" and len(hosts) < 2:
        problems.append(
            f"services.{name}.public.policy: failover needs copies on two hosts, but {name} "
            f"runs on {', '.join(hosts)} only; add a second host or use spread"
        )
    if model.site.ingress_mode != "load_balancer":
        return problems
    services = model.catalogue.services
    connectors = model.service_hosts(CONNECTOR_SERVICE) if CONNECTOR_SERVICE in services else ()
    for index, host in enumerate(hosts):
        if host not in connectors and host in model.catalogue.hosts:
            problems.append(
                f"services.{name}.hosts[{index}]: load_balancer mode reaches each copy of a "
                f"public service through its host's own tunnel, but {host} runs no "
                f"{CONNECTOR_SERVICE}; add {host} to services.{CONNECTOR_SERVICE}.hosts or "
                f"remove it here"
            )
    return problems


def check_identity_provider(model: Model) -> list[str]:
    """Check that single sign-on has an identity provider with a public hostname."""
    services = model.catalogue.services
    users = [
        name
        for name, service in services.items()
        if (service.sso is not None and service.sso.mode != "public")
        or any(
            reference.kind == "sso"
            for _, value in service_values(service)
            for reference in refs.references(value)
        )
    ]
    if not users:
        return []
    identity = services.get(IDENTITY_SERVICE)
    if identity is not None and identity.public is not None:
        # A host listed twice has its own problem, reported by check_hosts.
        hosts = tuple(dict.fromkeys(model.service_hosts(IDENTITY_SERVICE)))
        if len(hosts) > 1:
            # The blueprint's proxy providers point the one embedded outpost at
            # the apps' addresses as seen from a single host.
            return [
                f"services.{IDENTITY_SERVICE}.hosts: Authentik's server runs on one host, "
                f"whose embedded outpost serves the proxy-mode apps, but it lists "
                f"{', '.join(hosts)}; keep one host"
            ]
        return []
    return [
        f"services.{users[0]}.sso: single sign-on needs {IDENTITY_SERVICE} with a public "
        f"hostname, which is missing; declare {IDENTITY_SERVICE} with `public.hostname`"
    ]
