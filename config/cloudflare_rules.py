"""The rules Cloudflare applies to tunnels, DNS records and load balancers, checked offline.

The edge is described in a small vocabulary (Tunnel, DnsRecord, Monitor, Pool,
LoadBalancer) that two producers fill: config/edge_plan.py from the topology,
before any resource is registered, and config/cloudflare_inputs.py from the
inputs that the program registered (the offline render). `check` returns
one `where: problem; fix` line per broken rule, so a config that Cloudflare
would reject fails with the key path, and a render that would be rejected
fails with the resource name.

Each rule names the document it comes from. Where the API accepts a value that
cannot work (a DNS record that a load balancer hides, an ingress rule that no
hostname reaches), the rule states so and names the behaviour it relies on.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Sources of the rules below.
CLOUDFLARED_INGRESS = "https://github.com/cloudflare/cloudflared/blob/master/ingress/ingress.go"
TUNNEL_CONFIG_API = (
    "https://developers.cloudflare.com/api/resources/zero_trust/subresources/tunnels/"
    "subresources/cloudflared/subresources/configurations/"
)
TUNNEL_CREATE_API = (
    "https://developers.cloudflare.com/api/resources/zero_trust/subresources/tunnels/"
    "subresources/cloudflared/methods/create"
)
TUNNEL_NAME_DOCS = "https://developers.cloudflare.com/workers/wrangler/commands/tunnel/"
CONNECTION_LIMITS = "https://developers.cloudflare.com/fundamentals/reference/connection-limits/"
DNS_TTL_DOCS = "https://developers.cloudflare.com/dns/manage-dns-records/reference/ttl/"
RFC1034_CNAME = "https://www.rfc-editor.org/rfc/rfc1034#section-3.6.2"
RFC1035_SIZES = "https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4"
LB_API_NAME = "https://developers.cloudflare.com/api/terraform/resources/load_balancers"
LB_TUNNEL_DOCS = (
    "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/"
    "routing-to-tunnel/public-load-balancers/"
)
LB_HOST_HEADER_DOCS = "https://developers.cloudflare.com/load-balancing/additional-options/override-http-host-headers/"
LB_QUICKSTART = "https://developers.cloudflare.com/load-balancing/get-started/quickstart/"
LB_MONITOR_REGIONS = "https://developers.cloudflare.com/load-balancing/monitors/"
MONITOR_LIMITS_SOURCE = (
    "terraform-provider-cloudflare 4.x, "
    "internal/sdkv2provider/schema_cloudflare_load_balancer_monitor.go"
)
POOL_SCHEMA_SOURCE = (
    "terraform-provider-cloudflare 5.x, internal/services/load_balancer_pool/schema.go"
)
STEERING_SOURCE = (
    "cloudflare-python, src/cloudflare/types/load_balancers/steering_policy.py "
    "(generated from Cloudflare's OpenAPI schema)"
)

TUNNEL_DOMAIN = "cfargotunnel.com"
CATCH_ALL_HOSTNAMES = ("", "*")
# cloudflared accepts these service schemes besides http_status:<code>.
SERVICE_SCHEMES = ("http", "https", "unix", "unix+tls", "tcp", "ssh", "rdp", "smb")
HTTP_STATUS_SERVICE = re.compile(r"^http_status:[1-5][0-9]{2}$")
MAX_LABEL_LENGTH = 63
# 255 octets on the wire is 253 characters in dotted text without the final dot.
MAX_NAME_LENGTH = 253
DNS_LABEL = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?)$")
AUTOMATIC_TTL = 1
MIN_TTL, MAX_TTL = 60, 86400
# Cloudflare returns 524 when the app has not started its response after 100 s,
# and only Enterprise zones can raise that limit.
PROXY_READ_TIMEOUT_SECONDS = 100
POOL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
CHECK_REGIONS = frozenset(
    {"WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS"}
)
STEERING_POLICIES = frozenset(
    {
        "off",
        "geo",
        "random",
        "dynamic_latency",
        "proximity",
        "least_outstanding_requests",
        "least_connections",
        "",
    }
)
# Monitor types open to accounts below Enterprise.
MONITOR_TYPES = frozenset({"http", "https", "tcp"})
# The lowest monitor interval that every plan accepts (Pro's minimum; Business
# allows 15 s and Enterprise 10 s).
MIN_MONITOR_INTERVAL = 60
MONITOR_TIMEOUT_RANGE = (1, 10)
MONITOR_RETRIES_RANGE = (1, 5)
EXPECTED_CODES = re.compile(r"^([1-5][0-9x]{2})(,\s*[1-5][0-9x]{2})*$")


@dataclass(frozen=True)
class Ingress:
    """One ingress rule of a remote-managed tunnel configuration."""

    service: str
    hostname: str = ""
    path: str = ""
    connect_timeout: int | None = None
    http_host_header: str | None = None
    no_tls_verify: bool = False
    source: str = ""


@dataclass(frozen=True)
class Tunnel:
    """A Cloudflare Tunnel and the ingress rules of its configuration."""

    id: str
    name: str
    config_src: str
    ingress: tuple[Ingress, ...]
    source: str


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record of the zone."""

    name: str
    type: str
    content: str
    proxied: bool
    ttl: int
    source: str


@dataclass(frozen=True)
class Monitor:
    """A load balancer health monitor."""

    id: str
    type: str
    path: str
    host_header: tuple[str, ...]
    expected_codes: str
    interval: int
    timeout: int
    retries: int
    source: str


@dataclass(frozen=True)
class PoolOrigin:
    """One origin (endpoint) of a pool."""

    name: str
    address: str
    host_header: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class Pool:
    """A load balancer pool."""

    id: str
    name: str
    origins: tuple[PoolOrigin, ...]
    monitor: str | None
    check_regions: tuple[str, ...] | None
    minimum_origins: int
    source: str


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer, which owns its hostname like a DNS record would."""

    name: str
    default_pools: tuple[str, ...]
    fallback_pool: str
    steering_policy: str
    proxied: bool
    source: str


@dataclass(frozen=True)
class Edge:
    """Everything the program requests from Cloudflare in one zone."""

    zone: str
    tunnels: tuple[Tunnel, ...] = ()
    records: tuple[DnsRecord, ...] = ()
    monitors: tuple[Monitor, ...] = ()
    pools: tuple[Pool, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    # Problems found while reading resources, such as a config of no tunnel.
    problems: tuple[str, ...] = field(default=())


def tunnel_target(tunnel_id: str) -> str:
    """Return the CNAME target and pool origin address of a tunnel."""
    return f"{tunnel_id}.{TUNNEL_DOMAIN}"


def tunnel_of_target(target: str) -> str | None:
    """Return the tunnel id of a `<id>.cfargotunnel.com` target, or None."""
    suffix = f".{TUNNEL_DOMAIN}"
    if target.endswith(suffix) and "." not in target.removesuffix(suffix):
        return target.removesuffix(suffix)
    return None


def check(edge: Edge) -> list[str]:
    """Return every broken rule of the edge as `where: problem; fix` lines."""
    problems = list(edge.problems)
    for tunnel in edge.tunnels:
        problems += check_tunnel(tunnel)
    problems += check_tunnel_names(edge)
    problems += check_names(edge)
    problems += check_owners(edge)
    for record in edge.records:
        problems += check_record(edge, record)
    for monitor in edge.monitors:
        problems += check_monitor(monitor)
    for pool in edge.pools:
        problems += check_pool(edge, pool)
    for balancer in edge.load_balancers:
        problems += check_load_balancer(edge, balancer)
    problems += check_unreached_rules(edge)
    return problems


def check_tunnel(tunnel: Tunnel) -> list[str]:
    """Check one tunnel's configuration as cloudflared validates it.

    Source: cloudflared's ingress validation (CLOUDFLARED_INGRESS): the last
    rule must match every request (no hostname, or "*", and no path), only the
    last rule may do so, a hostname has no port and at most one leading
    wildcard, and a service is http_status:<code> or a URL with a scheme and a
    host but no path. The configuration API (TUNNEL_CONFIG_API) applies only to
    remotely managed tunnels, whose config_src is "cloudflare" (TUNNEL_CREATE_API).
    """
    problems: list[str] = []
    if tunnel.config_src != "cloudflare":
        problems.append(
            f"{tunnel.source}: config_src is '{tunnel.config_src}', so Cloudflare ignores "
            "the ingress rules sent through the API; set config_src to 'cloudflare'"
        )
    if not tunnel.ingress:
        problems.append(
            f"{tunnel.source}: the tunnel has no ingress rules; add the catch-all rule "
            "`http_status:404` at least"
        )
        return problems
    last = len(tunnel.ingress) - 1
    seen: Counter[tuple[str, str]] = Counter()
    for index, rule in enumerate(tunnel.ingress):
        where = rule.source or f"{tunnel.source}.ingress[{index}]"
        catch_all = rule.hostname in CATCH_ALL_HOSTNAMES and not rule.path
        if index == last and not catch_all:
            problems.append(
                f"{where}: the last ingress rule matches only '{rule.hostname}{rule.path}', "
                "but cloudflared requires a last rule that matches every request; "
                "append a rule with no hostname and no path, such as http_status:404"
            )
        if index != last and catch_all:
            problems.append(
                f"{where}: this rule matches every request, so the rules after it are "
                "never used; give it a hostname or move it to the end"
            )
        problems += check_ingress_rule(where, rule)
        seen[(rule.hostname, rule.path)] += 1
        if rule.hostname and seen[(rule.hostname, rule.path)] == 2:
            problems.append(
                f"{where}: a second rule for '{rule.hostname}{rule.path}' is never used, "
                "because cloudflared takes the first match; remove one"
            )
    return problems


def check_ingress_rule(where: str, rule: Ingress) -> list[str]:
    """Check the hostname, service and origin settings of one ingress rule."""
    problems: list[str] = []
    if ":" in rule.hostname:
        problems.append(f"{where}: hostname '{rule.hostname}' has a port; remove it")
    if rule.hostname.rfind("*") > 0:
        problems.append(
            f"{where}: hostname '{rule.hostname}' has a wildcard after the first "
            "character; cloudflared allows only a leading `*.`"
        )
    service = rule.service
    scheme = ""
    if not HTTP_STATUS_SERVICE.match(service):
        parts = urlsplit(service)
        scheme = parts.scheme
        if scheme not in SERVICE_SCHEMES or not (parts.hostname or scheme.startswith("unix")):
            problems.append(
                f"{where}: service '{service}' is not http_status:<code> or a URL with a "
                f"scheme ({', '.join(SERVICE_SCHEMES)}) and a host; fix the origin URL"
            )
        elif parts.path not in ("", "/") and not scheme.startswith("unix"):
            problems.append(
                f"{where}: service '{service}' has a path, which cloudflared rejects "
                "because it keeps the request's own path; remove the path"
            )
    if rule.connect_timeout is not None and not (
        0 < rule.connect_timeout < PROXY_READ_TIMEOUT_SECONDS
    ):
        problems.append(
            f"{where}: connect_timeout {rule.connect_timeout} s never takes effect, because "
            f"Cloudflare answers 524 after {PROXY_READ_TIMEOUT_SECONDS} s without a response "
            f"({CONNECTION_LIMITS}); use whole seconds between 1 and "
            f"{PROXY_READ_TIMEOUT_SECONDS - 1}"
        )
    if rule.no_tls_verify and scheme not in ("https", "unix+tls"):
        problems.append(
            f"{where}: no_tls_verify applies only to https origins and '{service}' is "
            "not one; remove no_tls_verify"
        )
    return problems


def check_tunnel_names(edge: Edge) -> list[str]:
    """Check that tunnel names are set and unique in the account.

    Source: TUNNEL_NAME_DOCS ("Must be unique within your account"); the API
    returns 409 with code 1013 for a second tunnel of the same name.
    """
    problems: list[str] = []
    counts = Counter(tunnel.name for tunnel in edge.tunnels)
    for tunnel in edge.tunnels:
        if not tunnel.name.strip():
            problems.append(f"{tunnel.source}: the tunnel has no name; give it one")
        elif counts[tunnel.name] > 1:
            problems.append(
                f"{tunnel.source}: tunnel name '{tunnel.name}' is used by "
                f"{counts[tunnel.name]} tunnels, but names are unique per account; rename one"
            )
    return problems


def name_problem(name: str, zone: str) -> str | None:
    """Return why a DNS name cannot exist in the zone, or None.

    Source: RFC1035_SIZES (labels of at most 63 octets, names of at most 255
    octets on the wire). A record or load balancer is created in the zone that
    zone_id names, so its name is the zone's apex or ends in `.<zone>`.
    """
    if len(name) > MAX_NAME_LENGTH:
        return f"'{name}' is {len(name)} characters long, more than DNS allows ({MAX_NAME_LENGTH})"
    for label in name.split("."):
        if len(label) > MAX_LABEL_LENGTH:
            return f"label '{label}' of '{name}' is longer than {MAX_LABEL_LENGTH} characters"
        if not DNS_LABEL.match(label):
            return f"'{name}' has an empty or invalid label '{label}'"
    if name != zone and not name.endswith(f".{zone}"):
        return f"'{name}' is outside the zone {zone}"
    return None


def check_names(edge: Edge) -> list[str]:
    """Check every hostname the edge publishes: records, load balancers, ingress rules."""
    problems: list[str] = []
    named: list[tuple[str, str]] = [(record.source, record.name) for record in edge.records]
    named += [(balancer.source, balancer.name) for balancer in edge.load_balancers]
    for tunnel in edge.tunnels:
        named += [
            (rule.source or tunnel.source, rule.hostname)
            for rule in tunnel.ingress
            if rule.hostname not in CATCH_ALL_HOSTNAMES
        ]
    checked: set[str] = set()
    for source, name in named:
        # A record and its ingress rule share the name: report it once.
        if name in checked:
            continue
        checked.add(name)
        problem = name_problem(name, edge.zone)
        if problem is not None:
            problems.append(
                f"{source}: {problem}; choose a valid hostname inside {edge.zone}, or a "
                "shorter domain"
            )
    return problems


def check_owners(edge: Edge) -> list[str]:
    """Check that every hostname has exactly one owner: a DNS record or a load balancer.

    Sources: RFC1034_CNAME ("If a CNAME RR is present at a node, no other data
    should be present") and LB_API_NAME (a load balancer takes precedence over
    a DNS record of the same name, which is then not used).
    """
    owners: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record in edge.records:
        owners[record.name].append(("DNS record", record.source))
    for balancer in edge.load_balancers:
        owners[balancer.name].append(("load balancer", balancer.source))
    problems: list[str] = []
    for name, found in sorted(owners.items()):
        first_kind, first_source = found[0]
        for _, source in found[1:]:
            problems.append(
                f"{source}: '{name}' is already owned by {first_kind} {first_source}, and a "
                "name has exactly one owner (a load balancer hides a DNS record of its "
                "name); remove one"
            )
    return problems


def check_record(edge: Edge, record: DnsRecord) -> list[str]:
    """Check a DNS record's TTL and, for a tunnel CNAME, its tunnel and ingress rule.

    Sources: DNS_TTL_DOCS (proxied records always have the automatic TTL, sent
    as 1; DNS-only records take 60 s to one day) and cloudflared's rule
    matching (CLOUDFLARED_INGRESS), which sends a hostname without its own rule
    to the catch-all.
    """
    problems: list[str] = []
    if record.proxied and record.ttl != AUTOMATIC_TTL:
        problems.append(
            f"{record.source}: a proxied record has the automatic TTL, but ttl is "
            f"{record.ttl}; set ttl to {AUTOMATIC_TTL}"
        )
    if not record.proxied and record.ttl != AUTOMATIC_TTL and not MIN_TTL <= record.ttl <= MAX_TTL:
        problems.append(
            f"{record.source}: ttl {record.ttl} is outside {MIN_TTL}..{MAX_TTL}; "
            f"use {AUTOMATIC_TTL} (automatic) or a value in that range"
        )
    tunnel_id = tunnel_of_target(record.content) if record.type == "CNAME" else None
    if tunnel_id is None:
        return problems
    if not record.proxied:
        problems.append(
            f"{record.source}: a CNAME to {TUNNEL_DOMAIN} only works proxied, because "
            "only Cloudflare's proxy routes that name into the tunnel; set proxied"
        )
    tunnel = tunnel_by_id(edge, tunnel_id)
    if tunnel is None:
        problems.append(
            f"{record.source}: '{record.content}' is not a tunnel of this program; point "
            "the record at one of its tunnels"
        )
    elif not routes_hostname(tunnel, record.name):
        problems.append(
            f"{record.source}: tunnel '{tunnel.name}' has no ingress rule for "
            f"'{record.name}', so every request gets the catch-all; add the rule or "
            "point the record at the tunnel that serves it"
        )
    return problems


def check_monitor(monitor: Monitor) -> list[str]:
    """Check a health monitor against the documented limits.

    Sources: LB_QUICKSTART allows HTTP, HTTPS and TCP monitors below
    Enterprise, with a 60 s minimum interval on Pro. MONITOR_LIMITS_SOURCE
    limits the timeout to 1..10 s and retries to 1..5, and wants an interval
    longer than (retries + 1) * timeout. LB_TUNNEL_DOCS: a monitor of a tunnel
    origin needs a Host header.
    """
    problems: list[str] = []
    where = monitor.source
    if monitor.type not in MONITOR_TYPES:
        problems.append(
            f"{where}: monitor type '{monitor.type}' needs an Enterprise account; "
            f"use one of {', '.join(sorted(MONITOR_TYPES))}"
        )
    if monitor.type in ("http", "https"):
        if not monitor.path.startswith("/"):
            problems.append(f"{where}: path '{monitor.path}' must start with '/'")
        if not EXPECTED_CODES.match(monitor.expected_codes):
            problems.append(
                f"{where}: expected_codes '{monitor.expected_codes}' is not a code or "
                "range such as 200 or 2xx; set one"
            )
        if len(monitor.host_header) != 1:
            problems.append(
                f"{where}: an HTTP monitor of a tunnel origin needs exactly one Host "
                "header, the public hostname that the tunnel routes; set header Host"
            )
    if monitor.interval < MIN_MONITOR_INTERVAL:
        problems.append(
            f"{where}: interval {monitor.interval} s is below {MIN_MONITOR_INTERVAL} s, "
            f"the minimum below the Business plan; use at least {MIN_MONITOR_INTERVAL}"
        )
    low, high = MONITOR_TIMEOUT_RANGE
    if not low <= monitor.timeout <= high:
        problems.append(f"{where}: timeout {monitor.timeout} s is outside {low}..{high} s")
    low, high = MONITOR_RETRIES_RANGE
    if not low <= monitor.retries <= high:
        problems.append(f"{where}: retries {monitor.retries} is outside {low}..{high}")
    if monitor.interval <= (monitor.retries + 1) * monitor.timeout:
        problems.append(
            f"{where}: interval {monitor.interval} s is not longer than (retries + 1) x "
            f"timeout = {(monitor.retries + 1) * monitor.timeout} s; raise the interval"
        )
    return problems


def check_pool(edge: Edge, pool: Pool) -> list[str]:
    """Check a pool: name, origins, Host headers, monitor and health check regions.

    Sources: POOL_SCHEMA_SOURCE (name characters, check_regions values),
    LB_TUNNEL_DOCS (a tunnel origin is `<id>.cfargotunnel.com` with the app's
    hostname as Host header), LB_HOST_HEADER_DOCS (one Host header per origin,
    a subdomain of a zone of the account) and LB_MONITOR_REGIONS (probes from
    every data center, which a null check_regions requests, are Enterprise only).
    """
    problems: list[str] = []
    where = pool.source
    if not POOL_NAME.match(pool.name):
        problems.append(
            f"{where}: pool name '{pool.name}' may hold only letters, digits, hyphens "
            "and underscores; rename it"
        )
    if not pool.origins:
        problems.append(f"{where}: the pool has no origin; add at least one")
    if pool.minimum_origins > max(len(pool.origins), 1) or pool.minimum_origins < 1:
        problems.append(
            f"{where}: minimum_origins {pool.minimum_origins} can never be met by "
            f"{len(pool.origins)} origins; lower it"
        )
    for index, origin in enumerate(pool.origins):
        problems += check_pool_origin(edge, f"{where}.origins[{index}]", origin)
    if pool.monitor is None:
        problems.append(
            f"{where}: the pool has no monitor, so Cloudflare never marks it unhealthy "
            "and never fails over; attach a monitor"
        )
    elif not any(monitor.id == pool.monitor for monitor in edge.monitors):
        problems.append(f"{where}: monitor '{pool.monitor}' does not exist; attach one that does")
    if pool.check_regions is None:
        problems.append(
            f"{where}: check_regions is unset, which means every data center, an "
            "Enterprise-only option; list regions such as WEU"
        )
    else:
        unknown = sorted(set(pool.check_regions) - CHECK_REGIONS)
        if unknown or not pool.check_regions:
            problems.append(
                f"{where}: check_regions {list(pool.check_regions)} must be a non-empty "
                f"list of {', '.join(sorted(CHECK_REGIONS))}"
            )
    return problems


def check_pool_origin(edge: Edge, where: str, origin: PoolOrigin) -> list[str]:
    """Check one pool origin that points at a tunnel."""
    problems: list[str] = []
    if len(origin.host_header) > 1:
        problems.append(f"{where}: an origin takes one Host header, not {len(origin.host_header)}")
    for host in origin.host_header:
        problem = name_problem(host, edge.zone)
        if problem is not None:
            problems.append(f"{where}: Host header {problem}; use a hostname of the zone")
    tunnel_id = tunnel_of_target(origin.address)
    if tunnel_id is None:
        return problems
    tunnel = tunnel_by_id(edge, tunnel_id)
    if tunnel is None:
        problems.append(
            f"{where}: '{origin.address}' is not a tunnel of this program; use one of its tunnels"
        )
    elif len(origin.host_header) != 1:
        problems.append(
            f"{where}: a tunnel origin needs the app's hostname as its Host header, "
            "because the tunnel routes by hostname; set header hosts"
        )
    elif not routes_hostname(tunnel, origin.host_header[0]):
        problems.append(
            f"{where}: tunnel '{tunnel.name}' has no ingress rule for "
            f"'{origin.host_header[0]}'; add the rule or use the tunnel that serves it"
        )
    return problems


def check_load_balancer(edge: Edge, balancer: LoadBalancer) -> list[str]:
    """Check a load balancer's pools, fallback pool, steering policy and proxying.

    Sources: STEERING_SOURCE (steering policies) and LB_TUNNEL_DOCS (tunnel
    origins carry traffic only for the proxied load balancers of the same
    account). The fallback pool must also be one of the default pools. The
    project requires this so that the last resort is a pool whose copy is
    deployed and monitored like the others.
    """
    problems: list[str] = []
    where = balancer.source
    pool_ids = {pool.id for pool in edge.pools}
    if not balancer.default_pools:
        problems.append(f"{where}: default_pools is empty; list the pools in failover order")
    for pool_id in balancer.default_pools:
        if pool_id not in pool_ids:
            problems.append(f"{where}: default pool '{pool_id}' does not exist; create it")
    duplicates = sorted(pool for pool, n in Counter(balancer.default_pools).items() if n > 1)
    if duplicates:
        problems.append(f"{where}: default_pools lists {duplicates} twice; list each pool once")
    if balancer.fallback_pool not in balancer.default_pools:
        problems.append(
            f"{where}: fallback_pool '{balancer.fallback_pool}' is not one of the default "
            "pools; use the last pool of the failover order"
        )
    if balancer.steering_policy not in STEERING_POLICIES:
        problems.append(
            f"{where}: steering_policy '{balancer.steering_policy}' is not one of "
            f"{', '.join(sorted(policy for policy in STEERING_POLICIES if policy))}"
        )
    tunnel_pools = [
        pool
        for pool in edge.pools
        if pool.id in balancer.default_pools
        and any(tunnel_of_target(origin.address) for origin in pool.origins)
    ]
    if tunnel_pools and not balancer.proxied:
        problems.append(
            f"{where}: a load balancer with tunnel origins must be proxied, because a "
            f"DNS-only answer would hand visitors a {TUNNEL_DOMAIN} name; set proxied"
        )
    for pool in tunnel_pools:
        for origin in pool.origins:
            if origin.host_header and origin.host_header[0] != balancer.name:
                problems.append(
                    f"{pool.source}: origin '{origin.name}' sends Host "
                    f"'{origin.host_header[0]}' for load balancer '{balancer.name}', so the "
                    "tunnel serves another app; use the load balancer's hostname"
                )
    return problems


def check_unreached_rules(edge: Edge) -> list[str]:
    """Check that every ingress hostname is reachable: a DNS record or a pool sends it there."""
    reached: set[tuple[str, str]] = set()
    for record in edge.records:
        tunnel_id = tunnel_of_target(record.content)
        if tunnel_id is not None:
            reached.add((tunnel_id, record.name))
    for pool in edge.pools:
        for origin in pool.origins:
            tunnel_id = tunnel_of_target(origin.address)
            if tunnel_id is not None and origin.host_header:
                reached.add((tunnel_id, origin.host_header[0]))
    return [
        f"{rule.source or tunnel.source}: no DNS record or load balancer pool sends "
        f"'{rule.hostname}' to tunnel '{tunnel.name}', so the rule is never used; "
        "remove it or publish the hostname"
        for tunnel in edge.tunnels
        for rule in tunnel.ingress
        if rule.hostname not in CATCH_ALL_HOSTNAMES and (tunnel.id, rule.hostname) not in reached
    ]


def tunnel_by_id(edge: Edge, tunnel_id: str) -> Tunnel | None:
    return next((tunnel for tunnel in edge.tunnels if tunnel.id == tunnel_id), None)


def routes_hostname(tunnel: Tunnel, hostname: str) -> bool:
    """Return whether a rule other than the catch-all matches the hostname."""
    for rule in tunnel.ingress:
        if rule.hostname == hostname:
            return True
        if rule.hostname.startswith("*.") and hostname.endswith(rule.hostname[1:]):
            return True
    return False
