"""The failure table ("What happens when things break"), row by row, in both ingress modes.

Each row is checked twice: against config/failures.py's model of what users
see, with the outcomes the architecture describes, and against the rendered
desired state, by routing every hostname through the rendered edge.
"""

from __future__ import annotations

import re

import pytest

from config.failures import (
    Failure,
    Outcome,
    Status,
    evaluate,
    failure_table,
    joined,
    summarize,
)
from config.topology import Topology
from docs.generate import failure_summary_table, marked_section
from render.document import Rendered
from render.engine import ROOT
from tests.conftest import topology_of
from tests.edge_simulation import RenderedEdge

MODES = ("replicas", "load_balancer")
REPLICATED = ("wiki", "www")
RUNBOOK_FIELDS = ("key", "title", "symptom", "cause", "action", "recovers_automatically")


def topology_in(mode: str) -> Topology:
    return topology_of("kscloud1", {"kitestacks:ingressMode": mode})


def row(topology: Topology, key: str) -> Failure:
    return next(failure for failure in failure_table(topology) if failure.key == key)


def outcomes_of(mode: str, key: str) -> dict[str, Outcome]:
    """Return the outcomes of one row, keyed by the hostname's first label."""
    topology = topology_in(mode)
    return {
        fqdn.split(".")[0]: outcome
        for fqdn, outcome in evaluate(topology, row(topology, key)).items()
    }


def single_host_labels(topology: Topology, host: str) -> set[str]:
    return {route.fqdn.split(".")[0] for route in topology.routes if route.hosts == (host,)}


@pytest.mark.parametrize("mode", MODES)
def test_table_rows_have_runbook_fields(mode: str) -> None:
    for failure in failure_table(topology_in(mode)):
        for name in RUNBOOK_FIELDS:
            value = getattr(failure, name)
            assert value is not None and value != "", f"{failure.key}.{name} is empty"


@pytest.mark.parametrize("mode", MODES)
def test_table_covers_architecture_rows(mode: str) -> None:
    keys = {failure.key for failure in failure_table(topology_in(mode))}
    assert {
        "monk-offline",
        "kscloud1-offline",
        "tunnel-down",
        "bookstack-db-crash",
        "portainer-lockout",
    } <= keys


@pytest.mark.parametrize("mode", MODES)
def test_monk_offline_keeps_portal_and_wiki(mode: str) -> None:
    outcomes = outcomes_of(mode, "monk-offline")
    for name in REPLICATED:
        assert outcomes[name].status is Status.UP, name
        assert outcomes[name].served_by == ("kscloud1",), name


@pytest.mark.parametrize("mode", MODES)
def test_monk_offline_darkens_monk_apps(mode: str) -> None:
    outcomes = outcomes_of(mode, "monk-offline")
    for name in single_host_labels(topology_in(mode), "monk"):
        assert outcomes[name].status is Status.DOWN, name


@pytest.mark.parametrize("mode", MODES)
def test_monk_offline_breaks_wiki_sign_in(mode: str) -> None:
    # Authentik's server runs only on monk, so the wiki's copy on kscloud1
    # loads but no user can sign in; the portal needs no sign-in.
    outcomes = outcomes_of(mode, "monk-offline")
    assert outcomes["wiki"].login is False
    assert outcomes["www"].login is True


@pytest.mark.parametrize("mode", MODES)
def test_monk_offline_recovers_automatically(mode: str) -> None:
    assert row(topology_in(mode), "monk-offline").recovers_automatically


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_offline_serves_apps_from_monk(mode: str) -> None:
    topology = topology_in(mode)
    outcomes = outcomes_of(mode, "kscloud1-offline")
    # Proxy-mode apps are served through Authentik's outpost, which needs its database.
    proxied = {route.fqdn.split(".")[0] for route in topology.routes if route.sso_mode == "proxy"}
    assert proxied
    for name in (single_host_labels(topology, "monk") - {"auth"} - proxied) | set(REPLICATED):
        assert outcomes[name].status is Status.UP, name
        assert outcomes[name].served_by == ("monk",), name
    for name in proxied:
        assert outcomes[name].status is Status.DOWN, name


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_offline_fails_logins(mode: str) -> None:
    outcomes = outcomes_of(mode, "kscloud1-offline")
    assert outcomes["git"].login is False
    assert outcomes["auth"].status is Status.DOWN


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_offline_needs_action(mode: str) -> None:
    assert not row(topology_in(mode), "kscloud1-offline").recovers_automatically


@pytest.mark.parametrize("mode", MODES)
def test_tunnel_down_darkens_every_hostname(mode: str) -> None:
    outcomes = outcomes_of(mode, "tunnel-down")
    for name, outcome in outcomes.items():
        assert outcome.status is Status.DOWN, name


def test_monk_connector_down_keeps_replicas_up() -> None:
    # The shared tunnel's connector on kscloud1 reaches monk's apps over the tailnet.
    outcomes = outcomes_of("replicas", "cloudflared-monk-down")
    for name, outcome in outcomes.items():
        assert outcome.status is Status.UP, name


def test_monk_connector_down_darkens_monk_tunnel() -> None:
    # With a tunnel per host, monk's single-host hostnames point at monk's tunnel only.
    topology = topology_in("load_balancer")
    outcomes = outcomes_of("load_balancer", "cloudflared-monk-down")
    for name in single_host_labels(topology, "monk"):
        assert outcomes[name].status is Status.DOWN, name
    for name in REPLICATED:
        assert outcomes[name].served_by == ("kscloud1",), name


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_connector_down_keeps_everything_up(mode: str) -> None:
    outcomes = outcomes_of(mode, "cloudflared-kscloud1-down")
    for name, outcome in outcomes.items():
        assert outcome.status is Status.UP, name
        assert outcome.served_by == ("monk",), name


def test_bookstack_db_crash_degrades_replicas() -> None:
    # Requests that reach monk's connector get monk's broken copy.
    outcomes = outcomes_of("replicas", "bookstack-db-crash")
    assert outcomes["wiki"].status is Status.DEGRADED
    assert outcomes["wiki"].served_by == ("kscloud1",)


def test_bookstack_db_crash_fails_over() -> None:
    # The monitor's /status request fails on monk, so the wiki fails over.
    outcomes = outcomes_of("load_balancer", "bookstack-db-crash")
    assert outcomes["wiki"].status is Status.UP
    assert outcomes["wiki"].served_by == ("kscloud1",)


@pytest.mark.parametrize("mode", MODES)
def test_bookstack_db_crash_spares_other_apps(mode: str) -> None:
    outcomes = outcomes_of(mode, "bookstack-db-crash")
    for name, outcome in outcomes.items():
        if name != "wiki":
            assert outcome.status is Status.UP, name


@pytest.mark.parametrize("mode", MODES)
def test_portainer_lockout_affects_portainer_only(mode: str) -> None:
    outcomes = outcomes_of(mode, "portainer-lockout")
    assert outcomes["portainer"].status is Status.DOWN
    for name, outcome in outcomes.items():
        if name != "portainer":
            assert outcome.status is Status.UP, name


def test_failover_serves_first_host_only() -> None:
    outcomes = outcomes_of("load_balancer", "portainer-lockout")
    assert outcomes["wiki"].served_by == ("monk",)
    assert outcomes["www"].served_by == ("kscloud1", "monk")


def test_replicas_mode_notes_failover_gap() -> None:
    outcomes = outcomes_of("replicas", "portainer-lockout")
    assert outcomes["wiki"].served_by == ("kscloud1", "monk")
    assert any("load_balancer" in note for note in outcomes["wiki"].notes)


@pytest.fixture(scope="module")
def edges(
    rendered: dict[str, Rendered], rendered_lb: dict[str, Rendered]
) -> dict[str, RenderedEdge]:
    return {
        "replicas": RenderedEdge(rendered, topology_in("replicas")),
        "load_balancer": RenderedEdge(rendered_lb, topology_in("load_balancer")),
    }


@pytest.mark.parametrize("mode", MODES)
def test_render_agrees_with_every_row(mode: str, edges: dict[str, RenderedEdge]) -> None:
    topology = topology_in(mode)
    edge = edges[mode]
    for failure in failure_table(topology):
        for fqdn, outcome in evaluate(topology, failure).items():
            served = edge.serve(fqdn, failure)
            assert served.status is outcome.status, f"{failure.key}: {fqdn}"
            assert served.served_by == outcome.served_by, f"{failure.key}: {fqdn}"


def test_simulation_detects_wrong_target(edges: dict[str, RenderedEdge]) -> None:
    # The simulation must be able to disagree: a wiki rule pointing at monk's
    # tailnet address would leave the wiki dark when monk is offline.
    edge = edges["replicas"]
    topology = edge.topology
    rules = edge.ingress[edge.tunnel_of_host["monk"]]
    wiki = next(rule for rule in rules if rule.get("hostname", "").startswith("wiki."))
    original = wiki["service"]
    wiki["service"] = f"http://{topology.tailnet_ip('monk')}:80"
    try:
        served = edge.serve(wiki["hostname"], row(topology, "monk-offline"))
    finally:
        wiki["service"] = original
    assert served.status is Status.DOWN


DOCS = ROOT / "docs" / "edge.md"
TABLE_ROW = re.compile(r"^\| (?P<title>[^|]+?) \| (?P<replicas>[^|]+?) \| (?P<balanced>[^|]+?) \|$")


def table_rows(text: str) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        match = TABLE_ROW.match(line)
        if match:
            rows[match.group("title")] = (match.group("replicas"), match.group("balanced"))
    return rows


def generated_failure_table() -> str:
    by_mode = {mode: topology_in(mode) for mode in MODES}
    return "\n".join(failure_summary_table(by_mode)) + "\n"


def test_docs_table_matches_model() -> None:
    committed = marked_section(DOCS, "failure table")
    assert committed == generated_failure_table(), (
        "the failure table in docs/edge.md differs from the model; run `make docs` and commit "
        "docs/edge.md"
    )


def test_generated_table_summarizes_each_row() -> None:
    generated = table_rows(generated_failure_table())
    replicas, balanced = topology_in("replicas"), topology_in("load_balancer")
    for failure in failure_table(replicas):
        assert failure.title in generated, f"no row for {failure.title}"
        expected = (
            summarize(replicas, evaluate(replicas, failure)),
            summarize(balanced, evaluate(balanced, row(balanced, failure.key))),
        )
        assert generated[failure.title] == expected, failure.title


# Phrases with which a symptom claims that every app or hostname still works.
ALL_UP_CLAIMS = ("every app loads", "every app still loads", "every hostname stays up")


@pytest.mark.parametrize("mode", MODES)
def test_symptoms_claim_no_dark_app_loads(mode: str) -> None:
    topology = topology_in(mode)
    for failure in failure_table(topology):
        outcomes = evaluate(topology, failure)
        dark = [fqdn for fqdn, outcome in outcomes.items() if outcome.status is Status.DOWN]
        if not dark:
            continue
        for claim in ALL_UP_CLAIMS:
            assert claim not in failure.symptom.lower(), f"{failure.key}: {dark} are down"


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_offline_names_dark_hostnames(mode: str) -> None:
    topology = topology_in(mode)
    failure = row(topology, "kscloud1-offline")
    unreachable = failure.symptom.split(" unreachable.")[0]
    for fqdn, outcome in evaluate(topology, failure).items():
        if outcome.status is Status.DOWN:
            assert fqdn in unreachable, f"{fqdn} is down but not named"
        else:
            assert fqdn not in unreachable, f"{fqdn} loads but is named unreachable"


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_offline_deploys_monk_only(mode: str) -> None:
    # The kscloud1 stack's Docker provider cannot reach a server that is down.
    action = row(topology_in(mode), "kscloud1-offline").action
    assert "pulumi up --stack monk" in action
    assert "--stack kscloud1" not in action
    assert "pulumi up` for kscloud1" not in action


def test_kscloud1_offline_with_identity_on_monk() -> None:
    topology = topology_of("kscloud1", {"kitestacks:identityHost": "monk"})
    failure = row(topology, "kscloud1-offline")
    outcomes = evaluate(topology, failure)
    assert all(outcome.status is Status.UP for outcome in outcomes.values())
    assert failure.symptom.startswith("Every app loads")
    assert "sign-in keeps working" in failure.symptom


@pytest.mark.parametrize("mode", MODES)
def test_kscloud1_connector_down_claims_no_tailnet_rule(mode: str) -> None:
    # Every public app on kscloud1 also runs on monk, so no ingress rule
    # reaches kscloud1 over the tailnet.
    topology = topology_in(mode)
    assert single_host_labels(topology, "kscloud1") == set()
    symptom = row(topology, "cloudflared-kscloud1-down").symptom
    assert "over the tailnet" not in symptom


def test_joined_lists_in_english() -> None:
    assert joined([]) == ""
    assert joined(["a"]) == "a"
    assert joined(["a", "b"]) == "a and b"
    assert joined(["a", "b", "c"]) == "a, b and c"
