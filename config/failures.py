"""The failure table: what users see when a part of KiteStacks breaks, derived from the model.

Each Failure names what is down. For every public hostname, `evaluate`
returns whether Cloudflare can still serve it, which hosts' copies serve it,
and whether single sign-on still works, from the same topology the program
deploys. The outcomes differ between the two ingress modes, and the tests hold
each row in both. The runbook is generated from the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from config import refs
from config.topology import IDENTITY_SERVICE, Route, Topology, values_of


class Status(Enum):
    """Behaviour of a public hostname during a failure."""

    UP = "up"
    # Some requests fail: a connector that is still up forwards to a broken copy.
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class Failure:
    """One row of the failure table."""

    key: str
    title: str
    symptom: str
    cause: str
    action: str
    down_hosts: frozenset[str] = frozenset()
    # Every connector lost Cloudflare (every tunnel, in load_balancer mode).
    tunnel_down: bool = False
    # Hosts that run but whose cloudflared connector is down.
    connectors_down: frozenset[str] = frozenset()
    # (service, host) copies that are broken while their host runs.
    broken: frozenset[tuple[str, str]] = frozenset()
    recovers_automatically: bool = False


@dataclass(frozen=True)
class Outcome:
    """Result for one public hostname during a failure."""

    fqdn: str
    status: Status
    # Hosts whose copies serve the requests that Cloudflare sends.
    served_by: tuple[str, ...]
    # False when the app needs single sign-on and Authentik cannot log anyone in.
    login: bool
    notes: tuple[str, ...] = field(default=())


def failure_table(topology: Topology) -> tuple[Failure, ...]:
    """Return the failure table of the model, one row per way the homelab breaks."""
    site = topology.model.site
    upstream = site.upstream_host
    home = next(host for host in topology.model.catalogue.hosts if host != upstream)
    balanced = site.ingress_mode == "load_balancer"
    return (
        home_offline(topology, home, upstream, balanced),
        upstream_offline(topology, home, upstream),
        Failure(
            key="tunnel-down",
            title="Cloudflare tunnel down",
            symptom="Every public hostname is unreachable.",
            cause="Every cloudflared connector lost its connection to Cloudflare, or the "
            "tunnel's token was revoked.",
            action="Check the tunnel's status in the Cloudflare dashboard (Zero Trust, "
            "Networks, Tunnels), then run `docker restart cloudflared` on each host.",
            tunnel_down=True,
        ),
        *(connector_down(topology, host, balanced) for host in topology.connector_hosts),
        database_crash(home, upstream, balanced),
        Failure(
            key="portainer-lockout",
            title="Portainer lockout",
            symptom="Containers cannot be managed from the web; every other app keeps running.",
            cause="Portainer's admin password is lost or its session store is broken.",
            action="Reset the admin password with Portainer's helper image: stop the "
            "portainer container, run `docker run --rm -v portainer-data:/data "
            "portainer/helper-reset-password`, then start portainer again.",
            broken=frozenset({("portainer", home)}),
        ),
    )


def home_offline(topology: Topology, home: str, upstream: str, balanced: bool) -> Failure:
    sign_in = (
        " Signing in fails everywhere, because Authentik runs only on "
        f"{home}: the wiki's backup copy loads, but nobody can sign in to it."
        if home in topology.hosts_of(IDENTITY_SERVICE)
        else ""
    )
    steering = (
        f"the load balancers' health monitors mark {home}'s pools unhealthy and send the "
        f"portal and the wiki to {upstream} (within about three monitor intervals)"
        if balanced
        else f"Cloudflare stops using {home}'s connector and {upstream}'s connector serves "
        f"its own copies of the portal and the wiki"
    )
    return Failure(
        key=f"{home}-offline",
        title=f"{home} offline",
        symptom=f"Apps that run only on {home} are unreachable; the portal and the wiki "
        f"are still served from {upstream}.{sign_in}",
        cause=f"Power, network or hardware failure at home; {home}'s tunnel connector is gone.",
        action=f"Nothing to do for the portal and the wiki: {steering}. Bring {home} back "
        "to restore the other apps.",
        down_hosts=frozenset({home}),
        recovers_automatically=True,
    )


def upstream_offline(topology: Topology, home: str, upstream: str) -> Failure:
    """Return the row of the upstream host going offline, worded from its evaluated outcomes."""
    failure = Failure(
        key=f"{upstream}-offline",
        title=f"{upstream} offline",
        symptom="",
        cause=f"The Hetzner server is stopped, or {upstream} left the tailnet.",
        action="",
        down_hosts=frozenset({upstream}),
    )
    outcomes = evaluate(topology, failure)
    dark = sorted(fqdn for fqdn, outcome in outcomes.items() if outcome.status is Status.DOWN)
    sign_in_works = all(outcome.login for outcome in outcomes.values())
    identity_here = topology.model.site.identity_host == upstream

    sentences: list[str] = []
    if dark:
        verb = "is" if len(dark) == 1 else "are"
        sentences.append(f"{joined(dark)} {verb} unreachable.")
    if dark and identity_here:
        sentences.append(
            f"Authentik fails without its database and Redis on {upstream}, and the apps in "
            "proxy mode fail with it, because Authentik's outpost serves them."
        )
    others = "The other apps load" if dark else "Every app loads"
    if sign_in_works:
        sentences.append(f"{others} through the tunnel connector on {home}; sign-in keeps working.")
    else:
        sentences.append(
            f"{others} through the tunnel connector on {home}, but nobody can sign in to them."
        )

    if identity_here:
        action = (
            f"Restart {upstream}; sign-in works again once Authentik's database is back. To "
            f"restore sign-in while {upstream} stays down, move the database to {home}. Only "
            f"the {home} stack can be deployed while {upstream} is down: run "
            f"`pulumi config set kitestacks:identityHost {home} --stack {home}` and "
            f"`pulumi up --stack {home}`, then restore the latest dump of Authentik's database "
            f"on {home}, or create the users again without one. docs/sso.md describes the "
            f"steps, and how to bring the {upstream} stack in line once {upstream} is back."
        )
    else:
        action = (
            f"Restart {upstream}. Sign-in keeps working meanwhile, because Authentik's "
            f"database runs on {home}."
        )
    return replace(failure, symptom=" ".join(sentences), action=action)


def joined(items: list[str]) -> str:
    """Return items as an English list: "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def connector_down(topology: Topology, host: str, balanced: bool) -> Failure:
    only_here = [route.fqdn for route in topology.routes if route.hosts == (host,)]
    if balanced and only_here:
        symptom = (
            f"The hostnames of apps that run only on {host} are unreachable, because their "
            f"DNS records point at {host}'s tunnel; replicated apps fail over to the other "
            "hosts' pools."
        )
    elif balanced:
        symptom = (
            f"Every hostname stays up: the load balancers mark {host}'s pools unhealthy "
            "and serve the other copies."
        )
    elif only_here:
        symptom = (
            "Every hostname stays up: the other connectors of the shared tunnel serve "
            f"every request, reaching {host}'s apps over the tailnet, and replicated apps "
            "are served by the other hosts' copies."
        )
    else:
        # No app runs only on this host, so no ingress rule reaches it over the tailnet.
        symptom = (
            "Every hostname stays up: the other connectors of the shared tunnel serve "
            "every request from the other hosts' copies."
        )
    return Failure(
        key=f"cloudflared-{host}-down",
        title=f"cloudflared on {host} down",
        symptom=symptom,
        cause=f"The cloudflared container on {host} stopped or cannot reach Cloudflare "
        "while the host itself runs.",
        action=f"Run `docker logs cloudflared` and `docker restart cloudflared` on {host}; "
        "check the tunnel's connectors in the Cloudflare dashboard (Zero Trust, "
        "Networks, Tunnels).",
        connectors_down=frozenset({host}),
    )


def database_crash(home: str, upstream: str, balanced: bool) -> Failure:
    symptom = (
        f"The wiki's health check (/status) fails on {home}, so Cloudflare serves the wiki "
        f"from {upstream}'s copy, which has its own database and lacks recent edits."
        if balanced
        else f"The wiki shows a database error for requests that reach {home}'s copy; "
        f"requests that Cloudflare hands to {upstream}'s connector get {upstream}'s copy."
    )
    return Failure(
        key="bookstack-db-crash",
        title="BookStack database crashes",
        symptom=symptom,
        cause=f"The bookstack-db container on {home} stopped or its data is corrupt.",
        action="On the affected host run `docker restart bookstack-db && "
        "docker restart bookstack`.",
        broken=frozenset({("bookstack-db", home)}),
    )


def dependencies(topology: Topology, service: str) -> set[str]:
    """Return the services that a service reaches through `${host:...}` or `${port:...}`."""
    return {
        reference.argument
        for value in values_of(topology.service(service))
        for reference in refs.references(value)
        if reference.kind in ("host", "port") and reference.argument != service
    }


def healthy(topology: Topology, failure: Failure, service: str, host: str) -> bool:
    """Return whether the copy of `service` on `host` works during `failure`."""
    seen: set[tuple[str, str]] = set()

    def works(name: str, on: str) -> bool:
        if (name, on) in seen:
            return True
        seen.add((name, on))
        if on in failure.down_hosts or (name, on) in failure.broken:
            return False
        for target in dependencies(topology, name):
            target_hosts = topology.hosts_of(target)
            target_host = on if on in target_hosts else target_hosts[0]
            if not works(target, target_host):
                return False
        return True

    return works(service, host)


def identity_works(topology: Topology, failure: Failure) -> bool:
    """Return whether any copy of Authentik can log users in."""
    return any(
        healthy(topology, failure, IDENTITY_SERVICE, host)
        for host in topology.hosts_of(IDENTITY_SERVICE)
    )


def connectors_up(topology: Topology, failure: Failure) -> tuple[str, ...]:
    """Return the hosts whose tunnel connector still reaches Cloudflare."""
    if failure.tunnel_down:
        return ()
    return tuple(
        host
        for host in topology.connector_hosts
        if host not in failure.down_hosts and host not in failure.connectors_down
    )


def serving_host(topology: Topology, failure: Failure, route: Route, connector: str) -> str | None:
    """Return the host whose copy serves a replicas-mode request at `connector`, or None.

    The shared ingress URL is the local container for a service on every
    connector host, else the owner's tailnet address.
    """
    url = topology.replicas_origin_url(route)
    target = connector if url.startswith(f"http://{route.service}:") else route.hosts[0]
    return target if healthy(topology, failure, route.service, target) else None


def serve_replicas(topology: Topology, failure: Failure, route: Route) -> Outcome:
    # Cloudflare hands each request to any connector that is up, so a connector
    # that forwards to a broken copy makes some requests fail.
    answers = [
        serving_host(topology, failure, route, connector)
        for connector in connectors_up(topology, failure)
    ]
    served_by = tuple(sorted({host for host in answers if host is not None}))
    if not served_by:
        status = Status.DOWN
    elif None in answers:
        status = Status.DEGRADED
    else:
        status = Status.UP
    notes: tuple[str, ...] = ()
    if route.replicated and route.policy == "failover" and len(served_by) > 1:
        notes = ("replicas mode serves every copy; the failover order needs load_balancer mode",)
    return Outcome(route.fqdn, status, served_by, login=True, notes=notes)


def serve_load_balanced(topology: Topology, failure: Failure, route: Route) -> Outcome:
    """Return what a hostname does with a tunnel per host.

    A single-host app's CNAME points at its host's tunnel only. A replicated
    app's load balancer has one pool per host in `hosts` order. The health
    monitor marks a pool unhealthy when its connector or copy fails. The
    steering policy then picks the first healthy pool for failover, or every
    healthy pool for spread.
    """
    up = set(connectors_up(topology, failure))
    pools = [host for host in route.hosts if host in topology.connector_hosts]
    healthy_pools = [
        host for host in pools if host in up and healthy(topology, failure, route.service, host)
    ]
    if route.replicated and route.policy == "failover":
        healthy_pools = healthy_pools[:1]
    served_by = tuple(sorted(healthy_pools))
    status = Status.UP if served_by else Status.DOWN
    return Outcome(route.fqdn, status, served_by, login=True)


def serve_route(
    topology: Topology,
    failure: Failure,
    route: Route,
    serve: Callable[[Topology, Failure, Route], Outcome],
) -> Outcome:
    """Return what a hostname does, following it to the service Cloudflare reaches.

    A proxy-mode hostname is served by Authentik's outpost, so it needs both
    the outpost's copy and a working copy of the app behind it.
    """
    target = topology.ingress_route(route)
    outcome = serve(topology, failure, target)
    if target == route:
        return outcome
    if not any(healthy(topology, failure, route.service, host) for host in route.hosts):
        return Outcome(route.fqdn, Status.DOWN, (), login=True)
    return outcome


def evaluate(topology: Topology, failure: Failure) -> dict[str, Outcome]:
    """Return what every public hostname does during `failure`.

    Signing in needs a working copy of Authentik and its hostname reachable
    through Cloudflare, because the browser is sent there to log in.
    """
    balanced = topology.model.site.ingress_mode == "load_balancer"
    serve = serve_load_balanced if balanced else serve_replicas
    served = {route.fqdn: serve_route(topology, failure, route, serve) for route in topology.routes}
    identity_reachable = all(
        served[route.fqdn].status is not Status.DOWN
        for route in topology.routes
        if route.service == IDENTITY_SERVICE
    )
    login = identity_works(topology, failure) and identity_reachable
    outcomes: dict[str, Outcome] = {}
    for route in topology.routes:
        outcome = served[route.fqdn]
        needs_login = route.sso_mode in ("oidc", "proxy") or route.service == IDENTITY_SERVICE
        outcomes[route.fqdn] = Outcome(
            fqdn=outcome.fqdn,
            status=outcome.status,
            served_by=outcome.served_by,
            login=login or not needs_login,
            notes=outcome.notes,
        )
    return outcomes


def summarize(topology: Topology, outcomes: dict[str, Outcome]) -> str:
    """Return one line of what users see: dark and degraded hostnames, who serves copies, login.

    Hostnames appear by their first label, for example "wiki" for
    wiki.<domain>; docs/edge.md quotes this line for each row and mode.
    """
    routes = {route.fqdn: route for route in topology.routes}

    def labels(fqdns: list[str]) -> str:
        return ", ".join(sorted(fqdn.split(".")[0] for fqdn in fqdns))

    parts: list[str] = []
    for status in (Status.DOWN, Status.DEGRADED):
        hit = [fqdn for fqdn, outcome in outcomes.items() if outcome.status is status]
        if hit:
            name = "dark" if status is Status.DOWN else "degraded"
            parts.append(f"{name}: {labels(hit)}")
    by_hosts: dict[tuple[str, ...], list[str]] = {}
    for fqdn, outcome in outcomes.items():
        if routes[fqdn].replicated and outcome.served_by:
            by_hosts.setdefault(outcome.served_by, []).append(fqdn)
    for hosts, fqdns in sorted(by_hosts.items()):
        parts.append(f"{labels(fqdns)} from {' and '.join(hosts)}")
    if not all(outcome.login for outcome in outcomes.values()):
        parts.append("sign-in fails")
    return "; ".join(parts) if parts else "every hostname up"
