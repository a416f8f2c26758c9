"""The generated docs: the committed copies are current, and each states what the model derives."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from config.failures import evaluate, failure_table
from config.topology import ADMINS
from docs import generate
from docs.generate import (
    SECTION_END,
    SectionError,
    architecture,
    documents,
    failover_behaviour,
    flow_edges,
    hostnames,
    marked_sections,
    node_id,
    runbook,
    section_start,
    site_topology,
    stale,
    tunnels,
    with_sections,
)
from render.engine import ROOT
from tests.conftest import require_tool, topology_of

MERMAID_CHECK = ROOT / "tools" / "mermaid-check"
LOAD_BALANCER = {"kitestacks:ingressMode": "load_balancer"}


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return documents(site_topology())


def test_committed_docs_match_model(generated: dict[Path, str]) -> None:
    for path, text in generated.items():
        relative = path.relative_to(ROOT)
        assert path.exists(), f"{relative} is missing; run `make docs` and commit it"
        committed = path.read_text(encoding="utf-8")
        assert committed == text, (
            f"{relative} differs from what the model generates; run `make docs` and commit "
            "the result"
        )


def test_stale_lists_changed_and_missing_files(tmp_path: Path) -> None:
    current = tmp_path / "current.md"
    current.write_text("same\n")
    changed = tmp_path / "changed.md"
    changed.write_text("old\n")
    missing = tmp_path / "missing.md"
    result = stale({current: "same\n", changed: "new\n", missing: "text\n"})
    assert result == [changed, missing]


def test_check_mode_writes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "architecture.md"
    target.write_text("outdated\n")
    topology = site_topology()
    monkeypatch.setattr(generate, "site_topology", lambda: topology)
    monkeypatch.setattr(generate, "documents", lambda topology: {target: "fresh\n"})
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    assert generate.main(["--check"]) == 1
    assert target.read_text() == "outdated\n"
    assert generate.main([]) == 0
    assert target.read_text() == "fresh\n"
    assert generate.main(["--check"]) == 0


def test_section_rewrite_keeps_prose(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    start = section_start("flow table")
    guide.write_text(f"Intro.\n\n{start}\n| old |\n{SECTION_END}\n\nOutro.\n")
    text = with_sections(guide, {"flow table": ["| new |", "| rows |"]})
    assert text == f"Intro.\n\n{start}\n| new |\n| rows |\n{SECTION_END}\n\nOutro.\n"


def test_section_rewrite_is_stable(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(f"{section_start('flow table')}\n| old |\n{SECTION_END}\n")
    once = with_sections(guide, {"flow table": ["| new |"]})
    guide.write_text(once)
    assert with_sections(guide, {"flow table": ["| new |"]}) == once


def test_missing_start_marker_names_file(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text("| a hand-written table |\n")
    with pytest.raises(SectionError, match=r"guide\.md: the line .* is missing"):
        with_sections(guide, {"flow table": ["| new |"]})


def test_missing_end_marker_names_file(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(f"{section_start('flow table')}\n| old |\n")
    with pytest.raises(SectionError, match=r"guide\.md: `<!-- end generated -->` is missing"):
        with_sections(guide, {"flow table": ["| new |"]})


def test_guides_have_generated_sections(generated: dict[Path, str]) -> None:
    for path, sections in marked_sections(site_topology()).items():
        for name, lines in sections.items():
            expected = f"{section_start(name)}\n" + "\n".join(lines) + f"\n{SECTION_END}"
            assert expected in generated[path], f"{path.name}: {name}"


def test_diagram_has_subgraph_per_host() -> None:
    topology = site_topology()
    text = architecture(topology)
    for host in topology.model.catalogue.hosts:
        assert f"subgraph {node_id('host', host)}[" in text


def test_diagram_has_every_container() -> None:
    topology = site_topology()
    text = architecture(topology)
    for host, services in topology.placements.items():
        for service in services:
            assert f"    {node_id(host, service)}[" in text, f"{service} on {host} is missing"


def test_diagram_has_edge_per_flow() -> None:
    topology = site_topology()
    text = architecture(topology)
    edges = flow_edges(topology)
    for flow in topology.flows:
        source = node_id(ADMINS) if flow.source == ADMINS else node_id("host", flow.source)
        target = node_id(flow.destination, flow.service)
        ports = ", ".join(str(port) for port in sorted(edges[(source, target)]))
        assert f'{source} -->|"tcp {ports}"| {target}' in text


def test_flow_edge_labels_carry_ports() -> None:
    topology = site_topology()
    edges = flow_edges(topology)
    for flow in topology.flows:
        source = node_id(ADMINS) if flow.source == ADMINS else node_id("host", flow.source)
        assert flow.port in edges[(source, node_id(flow.destination, flow.service))]


def test_diagram_links_connectors_to_tunnel() -> None:
    topology = site_topology()
    text = architecture(topology)
    for tunnel, hosts in tunnels(topology).items():
        for host in hosts:
            assert f"{node_id(tunnel)} -.-|" in text
            assert f"| {node_id(host, 'cloudflared')}" in text


def test_replicas_mode_shares_one_tunnel() -> None:
    topology = site_topology()
    assert list(tunnels(topology).values()) == [topology.connector_hosts]


def test_load_balancer_mode_has_tunnel_per_host() -> None:
    topology = topology_of("kscloud1", LOAD_BALANCER)
    hosts = sorted(host for members in tunnels(topology).values() for host in members)
    assert hosts == sorted(topology.connector_hosts)
    assert all(len(members) == 1 for members in tunnels(topology).values())


def test_hostname_table_has_row_per_route() -> None:
    topology = site_topology()
    rows = [line for line in hostnames(topology).splitlines() if line.startswith("| ")]
    assert len(rows) == len(topology.routes) + 1
    for route in topology.routes:
        matching = [row for row in rows if row.startswith(f"| {route.fqdn} |")]
        assert len(matching) == 1, f"{route.fqdn} has no single row"
        assert f"| {route.service} | {', '.join(route.hosts)} | {route.sso_mode} |" in matching[0]


def test_single_host_route_names_its_host() -> None:
    topology = site_topology()
    single = [route for route in topology.routes if not route.replicated]
    assert single, "the catalogue has no single-host route to check"
    for route in single:
        assert failover_behaviour(topology, route).startswith(
            f"single host: served by {route.hosts[0]}"
        )


def test_replicas_mode_says_both_copies_serve() -> None:
    topology = site_topology()
    replicated = [route for route in topology.routes if route.replicated]
    assert replicated, "the catalogue has no replicated route to check"
    for route in replicated:
        assert failover_behaviour(topology, route).startswith("both copies serve")


def test_load_balancer_mode_describes_policy() -> None:
    topology = topology_of("kscloud1", LOAD_BALANCER)
    for route in topology.routes:
        if not route.replicated:
            continue
        text = failover_behaviour(topology, route)
        assert text.startswith(f"{route.policy}:"), f"{route.fqdn}: {text}"


def test_failover_names_first_host_as_primary() -> None:
    topology = topology_of("kscloud1", LOAD_BALANCER)
    failover = [route for route in topology.routes if route.policy == "failover"]
    assert failover, "the catalogue has no failover route to check"
    for route in failover:
        text = failover_behaviour(topology, route)
        assert text.startswith(f"failover: {route.hosts[0]} serves, {route.hosts[1]} takes over")


def test_runbook_has_section_per_failure() -> None:
    topology = site_topology()
    text = runbook(topology)
    for failure in failure_table(topology):
        assert f"\n## {failure.title}\n" in text
        assert f"- **Symptom:** {failure.symptom}" in text
        assert f"- **What to do:** {failure.action}" in text


def test_runbook_rows_follow_evaluate() -> None:
    topology = site_topology()
    text = runbook(topology)
    sections = text.split("\n## ")[1:]
    failures = failure_table(topology)
    assert len(sections) == len(failures)
    for failure, section in zip(failures, sections, strict=True):
        for fqdn, outcome in evaluate(topology, failure).items():
            served = ", ".join(outcome.served_by) or "nobody"
            assert f"| {fqdn} | {outcome.status.value} | {served} |" in section, (
                f"{failure.title}: {fqdn}"
            )


def test_runbook_marks_automatic_recovery() -> None:
    topology = site_topology()
    text = runbook(topology)
    sections = text.split("\n## ")[1:]
    for failure, section in zip(failure_table(topology), sections, strict=True):
        expected = "yes" if failure.recovers_automatically else "no"
        assert f"- **Recovers automatically:** {expected}" in section


def test_mermaid_parses(generated: dict[Path, str], tmp_path: Path) -> None:
    node = require_tool("node")
    if not (MERMAID_CHECK / "node_modules" / "mermaid").is_dir():
        message = (
            "Mermaid's parser is not installed; run "
            "`npm ci --prefix tools/mermaid-check` to run this test"
        )
        if os.environ.get("KITESTACKS_REQUIRE_VALIDATORS"):
            pytest.fail(message)
        pytest.skip(message)
    files: list[str] = []
    for path, text in generated.items():
        copy = tmp_path / path.name
        copy.write_text(text, encoding="utf-8")
        files.append(str(copy))
    result = subprocess.run(
        [node, str(MERMAID_CHECK / "check.mjs"), *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 Mermaid diagrams checked, 0 invalid" in result.stdout


def test_mermaid_check_rejects_bad_diagram(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (MERMAID_CHECK / "node_modules" / "mermaid").is_dir():
        pytest.skip("Mermaid's parser is not installed; see test_mermaid_parses")
    broken = tmp_path / "broken.md"
    broken.write_text("```mermaid\nflowchart LR\n  a -->|label| (\n```\n")
    result = subprocess.run(
        [node, str(MERMAID_CHECK / "check.mjs"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "invalid Mermaid diagram" in result.stderr
