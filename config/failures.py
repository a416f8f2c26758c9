"""The failure table: what users see when a part of KiteStacks breaks, derived from the model.

Each Failure names what is down. `evaluate` answers, for every public
hostname, whether Cloudflare can still serve it and whether single sign-on
still works, from the same topology the program deploys. The tests hold each
row of the table in both ingress modes, and the runbook is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from config import refs
from config.topology import IDENTITY_SERVICE, Route, Topology, values_of


class Status(Enum):
    """How a public hostname behaves during a failure."""

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
    tunnel_down: bool = False
    # (service, host) copies that are broken while their host runs.
    broken: frozenset[tuple[str, str]] = frozenset()
    recovers_automatically: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one public hostname does during a failure."""

    fqdn: str
    status: Status
    served_by: tuple[str, ...]
    # False when the app needs single sign-on and Authentik cannot log anyone in.
    login: bool
    notes: tuple[str, ...] = field(default=())


def failure_table(topology: Topology) -> tuple[Failure, ...]:
    """Return the failure table of the model, one row per way the homelab breaks."""
    site = topology.model.site
    upstream = site.upstream_host
    home = next(host for host in topology.model.catalogue.hosts if host != upstream)
    identity = site.identity_host
    kscloud_fix = (
        f"Restart {upstream}. To keep logins working while it is down, set "
        f"`pulumi config set kitestacks:identityHost {home}` on both stacks and run "
        f"`pulumi up` for {upstream}, then {home}, which runs Authentik's database and "
        f"Redis on {home}."
        if identity == upstream
        else f"Restart {upstream}; logins keep working because Authentik's database runs on {home}."
    )
    return (
        Failure(
            key=f"{home}-offline",
            title=f"{home} offline",
            symptom=f"Apps that run only on {home} are unreachable; the portal and the wiki "
            f"are still served from {upstream}.",
            cause=f"Power, network or hardware failure at home; {home}'s tunnel connector is gone.",
            action=f"Nothing to do for the portal and the wiki: Cloudflare sends their traffic "
            f"to {upstream}. Bring {home} back to restore the other apps.",
            down_hosts=frozenset({home}),
            recovers_automatically=True,
        ),
        Failure(
            key=f"{upstream}-offline",
            title=f"{upstream} offline",
            symptom="Every app still loads through the tunnel connector on "
            f"{home}, but Authentik logins fail while its database is unreachable."
            if identity == upstream
            else f"Every app still loads through {home}; logins keep working.",
            cause=f"The Hetzner server is stopped, or {upstream} left the tailnet.",
            action=kscloud_fix,
            down_hosts=frozenset({upstream}),
        ),
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
        Failure(
            key="bookstack-db-crash",
            title="BookStack database crashes",
            symptom=f"The wiki shows a database error for requests that reach {home}'s copy.",
            cause=f"The bookstack-db container on {home} stopped or its data is corrupt.",
            action="On the affected host run `docker restart bookstack-db && "
            "docker restart bookstack`.",
            broken=frozenset({("bookstack-db", home)}),
        ),
        Failure(
            key="portainer-lockout",
            title="Portainer lockout",
            symptom="Containers cannot be managed from the web; every app keeps running.",
            cause="Portainer's admin password is lost or its session store is broken.",
            action="Reset the admin password with Portainer's helper image: stop the "
            "portainer container, run `docker run --rm -v portainer-data:/data "
            "portainer/helper-reset-password`, then start portainer again.",
            broken=frozenset({("portainer", home)}),
        ),
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
    return tuple(host for host in topology.connector_hosts if host not in failure.down_hosts)


def serving_hosts(topology: Topology, failure: Failure, route: Route, connector: str) -> str | None:
    """Return the host whose copy answers requests that reach `connector`, or None."""
    if topology.model.site.ingress_mode == "replicas":
        url = topology.replicas_origin_url(route)
        target = connector if url.startswith(f"http://{route.service}:") else route.hosts[0]
    else:
        # With a tunnel per host, a host's tunnel serves only the copies on that host.
        if connector not in route.hosts:
            return None
        target = connector
    return target if healthy(topology, failure, route.service, target) else None


def evaluate(topology: Topology, failure: Failure) -> dict[str, Outcome]:
    """Return what every public hostname does during `failure`."""
    mode = topology.model.site.ingress_mode
    login = identity_works(topology, failure)
    outcomes: dict[str, Outcome] = {}
    for route in topology.routes:
        connectors = connectors_up(topology, failure)
        answers = {
            connector: serving_hosts(topology, failure, route, connector)
            for connector in connectors
        }
        served_by = tuple(sorted({host for host in answers.values() if host is not None}))
        if mode == "replicas":
            # Cloudflare hands each request to any connector that is up, so a
            # connector that forwards to a broken copy makes some requests fail.
            relevant = list(answers.values())
        else:
            # Load balancer health monitors steer traffic away from unhealthy pools.
            relevant = [answer for answer in answers.values() if answer is not None] or [None]
        if not served_by:
            status = Status.DOWN
        elif any(answer is None for answer in relevant):
            status = Status.DEGRADED
        else:
            status = Status.UP
        needs_login = route.sso_mode in ("oidc", "proxy") or route.service == IDENTITY_SERVICE
        outcomes[route.fqdn] = Outcome(
            fqdn=route.fqdn,
            status=status,
            served_by=served_by,
            login=login or not needs_login,
        )
    return outcomes
