"""Cloudflare's rules for tunnels, DNS records and load balancers, checked offline.

Each rule is broken once on an otherwise valid edge (the real load_balancer
plan, which has every kind of object) and must fail with the offending key
path and a fix. The real plans and renders of both modes must pass.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from pulumi.errors import RunError

from config import cloudflare_rules as rules
from config.cloudflare_inputs import RegisteredResource, check_registered, edge_from_resources
from config.edge_plan import plan_edge
from config.load import ConfigError, load
from config.refs import CATALOGUE_PATH
from render import render_stacks
from render.document import Rendered
from render.engine import ROOT
from render.stackconfig import read_stack_config
from tests.conftest import topology_of

MODES = ("replicas", "load_balancer")


def plan_in(mode: str) -> rules.Edge:
    return plan_edge(topology_of("kscloud1", {"kitestacks:ingressMode": mode})).edge()


@pytest.fixture(scope="module")
def edge() -> rules.Edge:
    return plan_in("load_balancer")


def only_problem(edge: rules.Edge) -> str:
    problems = rules.check(edge)
    assert len(problems) == 1, problems
    return problems[0]


def with_tunnel(edge: rules.Edge, index: int, **changes: object) -> rules.Edge:
    tunnels = list(edge.tunnels)
    tunnels[index] = replace(tunnels[index], **changes)
    return replace(edge, tunnels=tuple(tunnels))


def with_rule(edge: rules.Edge, index: int, **changes: object) -> rules.Edge:
    """Change rule `index` of the first tunnel (monk's, which serves every hostname)."""
    ingress = list(edge.tunnels[0].ingress)
    ingress[index] = replace(ingress[index], **changes)
    return with_tunnel(edge, 0, ingress=tuple(ingress))


def record_named(edge: rules.Edge, prefix: str) -> tuple[int, rules.DnsRecord]:
    index, record = next(
        (index, record)
        for index, record in enumerate(edge.records)
        if record.name.startswith(prefix)
    )
    return index, record


def with_record(edge: rules.Edge, prefix: str, **changes: object) -> rules.Edge:
    index, record = record_named(edge, prefix)
    records = list(edge.records)
    records[index] = replace(record, **changes)
    return replace(edge, records=tuple(records))


def with_pool(edge: rules.Edge, index: int, **changes: object) -> rules.Edge:
    pools = list(edge.pools)
    pools[index] = replace(pools[index], **changes)
    return replace(edge, pools=tuple(pools))


def with_monitor(edge: rules.Edge, **changes: object) -> rules.Edge:
    return replace(edge, monitors=(replace(edge.monitors[0], **changes), *edge.monitors[1:]))


def with_balancer(edge: rules.Edge, **changes: object) -> rules.Edge:
    balancers = (replace(edge.load_balancers[0], **changes), *edge.load_balancers[1:])
    return replace(edge, load_balancers=balancers)


@pytest.mark.parametrize("mode", MODES)
def test_plan_passes_rules(mode: str) -> None:
    assert rules.check(plan_in(mode)) == []


def registered(render: Rendered) -> list[RegisteredResource]:
    return [
        RegisteredResource(item.type, item.name, item.id, item.inputs)
        for item in render.run.registrations
    ]


def test_replicas_render_passes_rules(rendered: dict[str, Rendered]) -> None:
    edge = edge_from_resources("kitestacks.com", registered(rendered["kscloud1"]))
    assert len(edge.tunnels) == 1
    assert check_registered("kitestacks.com", rendered["kscloud1"].run.registrations) == []


def test_balanced_render_passes_rules(rendered_lb: dict[str, Rendered]) -> None:
    edge = edge_from_resources("kitestacks.com", registered(rendered_lb["kscloud1"]))
    assert len(edge.load_balancers) == 2
    assert check_registered("kitestacks.com", rendered_lb["kscloud1"].run.registrations) == []


def test_render_stops_on_broken_rule() -> None:
    # The program checks the plan before registering anything, so the offline
    # render fails with the message, as `pulumi preview` would.
    long_domain = ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 60]) + ".com"
    with pytest.raises(RunError, match=r"more than DNS allows \(253\)"):
        render_stacks(["kscloud1"], overrides={"kscloud1": {"kitestacks:domain": long_domain}})


def test_render_check_names_resource(rendered_lb: dict[str, Rendered]) -> None:
    edge = edge_from_resources("kitestacks.com", registered(rendered_lb["kscloud1"]))
    broken = with_balancer(edge, fallback_pool="missing")
    assert only_problem(broken).startswith(f"{edge.load_balancers[0].source}: fallback_pool")


def test_rejects_last_rule_with_hostname(edge: rules.Edge) -> None:
    ingress = edge.tunnels[1].ingress[:-1]
    problems = rules.check(with_tunnel(edge, 1, ingress=ingress))
    assert any("last rule that matches every request" in problem for problem in problems)


def test_rejects_early_catch_all(edge: rules.Edge) -> None:
    catch_all = edge.tunnels[1].ingress[-1]
    ingress = (catch_all, *edge.tunnels[1].ingress)
    problems = rules.check(with_tunnel(edge, 1, ingress=ingress))
    assert any("rules after it are never used" in problem for problem in problems)


def test_rejects_duplicate_rule(edge: rules.Edge) -> None:
    ingress = edge.tunnels[1].ingress
    problem = only_problem(with_tunnel(edge, 1, ingress=(ingress[0], *ingress)))
    assert "second rule" in problem


def test_rejects_hostname_port(edge: rules.Edge) -> None:
    hostname = edge.tunnels[0].ingress[0].hostname
    problems = rules.check(with_rule(edge, 0, hostname=f"{hostname}:443"))
    assert any("has a port" in problem for problem in problems)


def test_rejects_inner_wildcard(edge: rules.Edge) -> None:
    problems = rules.check(with_rule(edge, 0, hostname="a.*.kitestacks.com"))
    assert any("wildcard after the first character" in problem for problem in problems)


def test_rejects_service_path(edge: rules.Edge) -> None:
    problem = only_problem(with_rule(edge, 0, service="http://authentik-server:9000/login"))
    assert problem.startswith("services.authentik-server.public: ")
    assert "has a path" in problem


def test_rejects_service_without_scheme(edge: rules.Edge) -> None:
    problem = only_problem(with_rule(edge, 0, service="authentik-server:9000"))
    assert "is not http_status:<code> or a URL" in problem


def test_rejects_long_connect_timeout(edge: rules.Edge) -> None:
    problem = only_problem(with_rule(edge, 0, connect_timeout=100))
    assert problem.startswith("services.authentik-server.public: connect_timeout 100 s")
    assert rules.CONNECTION_LIMITS in problem


def test_accepts_connect_timeout_below_limit(edge: rules.Edge) -> None:
    assert rules.check(with_rule(edge, 0, connect_timeout=99)) == []


def test_rejects_tls_skip_on_http(edge: rules.Edge) -> None:
    problem = only_problem(with_rule(edge, 0, no_tls_verify=True))
    assert "no_tls_verify applies only to https origins" in problem


def test_accepts_tls_skip_on_https(edge: rules.Edge) -> None:
    changed = with_rule(edge, 0, service="https://authentik-server:9443", no_tls_verify=True)
    assert rules.check(changed) == []


def test_rejects_local_config_src(edge: rules.Edge) -> None:
    problem = only_problem(with_tunnel(edge, 0, config_src="local"))
    assert "set config_src to 'cloudflare'" in problem


def test_rejects_duplicate_tunnel_names(edge: rules.Edge) -> None:
    problems = rules.check(with_tunnel(edge, 1, name=edge.tunnels[0].name))
    assert len(problems) == 2
    assert all("names are unique per account" in problem for problem in problems)


def test_rejects_empty_tunnel_name(edge: rules.Edge) -> None:
    assert "has no name" in only_problem(with_tunnel(edge, 1, name=" "))


def test_rejects_name_outside_zone(edge: rules.Edge) -> None:
    problems = rules.check(with_record(edge, "git.", name="git.example.org"))
    assert any(
        problem.startswith("services.forgejo.public.hostname: 'git.example.org' is outside")
        for problem in problems
    )


def test_rejects_long_label() -> None:
    problem = rules.name_problem(f"{'a' * 64}.kitestacks.com", "kitestacks.com")
    assert problem is not None
    assert "longer than 63" in problem


def test_accepts_63_character_label() -> None:
    assert rules.name_problem(f"{'a' * 63}.kitestacks.com", "kitestacks.com") is None


LONG_ZONE = ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 60]) + ".com"


def test_rejects_long_name() -> None:
    name = f"status.{LONG_ZONE}"
    assert len(name) == 254
    problem = rules.name_problem(name, LONG_ZONE)
    assert problem is not None
    assert "more than DNS allows (253)" in problem


def test_accepts_253_character_name() -> None:
    name = f"books.{LONG_ZONE}"
    assert len(name) == 253
    assert rules.name_problem(name, LONG_ZONE) is None


def test_rejects_record_beside_balancer(edge: rules.Edge) -> None:
    balancer = edge.load_balancers[0]
    _, record = record_named(edge, "git.")
    shadowed = replace(record, name=balancer.name, source="services.x.public.hostname")
    problems = rules.check(replace(edge, records=(*edge.records, shadowed)))
    owners = [problem for problem in problems if "exactly one owner" in problem]
    assert len(owners) == 1
    assert owners[0].startswith(f"{balancer.source}: '{balancer.name}' is already owned")


def test_rejects_duplicate_records(edge: rules.Edge) -> None:
    _, record = record_named(edge, "git.")
    problems = rules.check(replace(edge, records=(*edge.records, record)))
    assert any("exactly one owner" in problem for problem in problems)


def test_rejects_proxied_ttl(edge: rules.Edge) -> None:
    problem = only_problem(with_record(edge, "git.", ttl=300))
    assert problem.startswith("services.forgejo.public.hostname: a proxied record")


def test_rejects_unproxied_short_ttl(edge: rules.Edge) -> None:
    problems = rules.check(with_record(edge, "git.", proxied=False, ttl=30))
    assert any("ttl 30 is outside 60..86400" in problem for problem in problems)


def test_rejects_unproxied_tunnel_record(edge: rules.Edge) -> None:
    problem = only_problem(with_record(edge, "git.", proxied=False))
    assert "only works proxied" in problem


def test_rejects_record_to_wrong_tunnel(edge: rules.Edge) -> None:
    kscloud1 = edge.tunnels[1]
    changed = with_record(edge, "git.", content=rules.tunnel_target(kscloud1.id))
    problems = rules.check(changed)
    assert any("has no ingress rule for 'git.kitestacks.com'" in p for p in problems)


def test_rejects_record_to_unknown_tunnel(edge: rules.Edge) -> None:
    changed = with_record(edge, "git.", content=rules.tunnel_target("other"))
    problems = rules.check(changed)
    assert any("is not a tunnel of this program" in problem for problem in problems)


def test_rejects_unreached_rule(edge: rules.Edge) -> None:
    index, _ = record_named(edge, "git.")
    records = edge.records[:index] + edge.records[index + 1 :]
    problem = only_problem(replace(edge, records=records))
    assert problem.startswith("services.forgejo.public: no DNS record or load balancer pool")


def test_rejects_slow_monitor_interval(edge: rules.Edge) -> None:
    problem = only_problem(with_monitor(edge, interval=30))
    assert "below 60 s" in problem


def test_rejects_long_monitor_timeout(edge: rules.Edge) -> None:
    problems = rules.check(with_monitor(edge, timeout=11))
    assert any("timeout 11 s is outside 1..10 s" in problem for problem in problems)


def test_rejects_zero_retries(edge: rules.Edge) -> None:
    assert "retries 0 is outside 1..5" in only_problem(with_monitor(edge, retries=0))


def test_rejects_interval_within_retries(edge: rules.Edge) -> None:
    problem = only_problem(with_monitor(edge, interval=60, timeout=10, retries=5))
    assert "not longer than (retries + 1) x timeout = 60 s" in problem


def test_rejects_enterprise_monitor_type(edge: rules.Edge) -> None:
    assert "needs an Enterprise account" in only_problem(with_monitor(edge, type="icmp_ping"))


def test_rejects_monitor_without_host(edge: rules.Edge) -> None:
    assert "exactly one Host header" in only_problem(with_monitor(edge, host_header=()))


def test_rejects_bad_expected_codes(edge: rules.Edge) -> None:
    assert "expected_codes 'ok'" in only_problem(with_monitor(edge, expected_codes="ok"))


def test_accepts_code_range(edge: rules.Edge) -> None:
    assert rules.check(with_monitor(edge, expected_codes="2xx")) == []


def test_rejects_pool_without_origins(edge: rules.Edge) -> None:
    problems = rules.check(with_pool(edge, 0, origins=()))
    assert any("the pool has no origin" in problem for problem in problems)


def test_rejects_pool_name(edge: rules.Edge) -> None:
    problem = only_problem(with_pool(edge, 0, name="wiki monk"))
    assert "may hold only letters, digits, hyphens and underscores" in problem


def test_rejects_pool_without_monitor(edge: rules.Edge) -> None:
    assert "never fails over" in only_problem(with_pool(edge, 0, monitor=None))


def test_rejects_all_data_centers(edge: rules.Edge) -> None:
    assert "Enterprise-only" in only_problem(with_pool(edge, 0, check_regions=None))


def test_rejects_unknown_region(edge: rules.Edge) -> None:
    assert "check_regions ['MARS']" in only_problem(with_pool(edge, 0, check_regions=("MARS",)))


def test_rejects_origin_without_host(edge: rules.Edge) -> None:
    origin = replace(edge.pools[0].origins[0], host_header=())
    problems = rules.check(with_pool(edge, 0, origins=(origin,)))
    assert any("needs the app's hostname as its Host header" in p for p in problems)


def test_rejects_origin_host_of_other_app(edge: rules.Edge) -> None:
    origin = replace(edge.pools[0].origins[0], host_header=("git.kitestacks.com",))
    problems = rules.check(with_pool(edge, 0, origins=(origin,)))
    assert any("so the tunnel serves another app" in problem for problem in problems)


def test_rejects_fallback_outside_pools(edge: rules.Edge) -> None:
    problem = only_problem(with_balancer(edge, fallback_pool="elsewhere"))
    assert problem.startswith("services.bookstack.public.policy: fallback_pool 'elsewhere'")


def test_rejects_unknown_steering(edge: rules.Edge) -> None:
    assert "steering_policy 'failover'" in only_problem(
        with_balancer(edge, steering_policy="failover")
    )


def test_rejects_missing_pool(edge: rules.Edge) -> None:
    pools = (*edge.load_balancers[0].default_pools, "ghost")
    assert "default pool 'ghost' does not exist" in only_problem(
        with_balancer(edge, default_pools=pools)
    )


def test_rejects_empty_pool_list(edge: rules.Edge) -> None:
    problems = rules.check(with_balancer(edge, default_pools=()))
    assert any("default_pools is empty" in problem for problem in problems)


def test_rejects_unproxied_balancer(edge: rules.Edge) -> None:
    assert "must be proxied" in only_problem(with_balancer(edge, proxied=False))


def test_reads_provider_defaults() -> None:
    monitor = RegisteredResource(
        "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor", "m", "1", {}
    )
    edge = edge_from_resources("kitestacks.com", [monitor])
    assert edge.monitors[0].interval == 60
    assert edge.monitors[0].expected_codes == "200"


def test_rejects_config_of_unknown_tunnel() -> None:
    config = RegisteredResource(
        "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
        "stray-ingress",
        "1",
        {"tunnelId": "nope", "config": {"ingresses": [{"service": "http_status:404"}]}},
    )
    problem = only_problem(edge_from_resources("kitestacks.com", [config]))
    assert problem.startswith("stray-ingress: configures tunnel 'nope'")


def load_with(catalogue: str, mode: str = "replicas") -> None:
    config = read_stack_config(ROOT, "kscloud1")
    values = dict(config.values)
    values["kitestacks:ingressMode"] = mode
    load(config.project, "kscloud1", values, catalogue_text=catalogue)


def test_load_rejects_long_connect_timeout() -> None:
    text = CATALOGUE_PATH.read_text().replace("connect_timeout: 30", "connect_timeout: 120", 1)
    with pytest.raises(ConfigError) as raised:
        load_with(text)
    # The model stops it first, at the same limit the Cloudflare rule enforces.
    assert raised.value.problems == [
        "services.forgejo.public.origin.connect_timeout: 120 is above the maximum 99; "
        "use a smaller value"
    ]


def test_load_rejects_unrouted_host() -> None:
    # karakeep on kscloud1 only: kscloud1 runs a connector, so move cloudflared off it.
    text = CATALOGUE_PATH.read_text().replace(
        "image: docker.io/cloudflare/cloudflared:2025.8.1\n    hosts: [monk, kscloud1]",
        "image: docker.io/cloudflare/cloudflared:2025.8.1\n    hosts: [monk]",
    )
    text = text.replace(
        "image: ghcr.io/karakeep-app/karakeep:0.31.0\n    hosts: [monk]",
        "image: ghcr.io/karakeep-app/karakeep:0.31.0\n    hosts: [kscloud1]",
    )
    with pytest.raises(ConfigError) as raised:
        load_with(text, mode="load_balancer")
    assert (
        "services.karakeep.hosts[0]: load_balancer mode reaches each copy of a public service "
        "through its host's own tunnel, but kscloud1 runs no cloudflared; add kscloud1 to "
        "services.cloudflared.hosts or remove it here"
    ) in raised.value.problems
