"""docs/hosts.md stays true to the program: its flow table, URNs and config keys."""

from __future__ import annotations

import re

import pytest
import yaml

from config.topology import Topology
from docs.generate import flow_table, marked_section
from render.document import Rendered
from render.engine import ROOT
from tests.conftest import topology_of

DOC = ROOT / "docs" / "hosts.md"


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text()


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of("kscloud1")


def table_flows(table: str) -> set[tuple[str, str, int, str]]:
    """Return (from, to, port, service) of each row of a flow table."""
    rows: set[tuple[str, str, int, str]] = set()
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.add((cells[0], cells[1], int(cells[2]), cells[3]))
    return rows


def test_flow_table_matches_topology(topology: Topology) -> None:
    committed = marked_section(DOC, "flow table")
    assert committed == "\n".join(flow_table(topology)) + "\n", (
        "the flow table in docs/hosts.md differs from the model; run `make docs` and commit "
        "docs/hosts.md"
    )


def test_generated_flow_table_lists_flows(topology: Topology) -> None:
    derived = {(f.source, f.destination, f.port, f.service) for f in topology.flows}
    assert table_flows("\n".join(flow_table(topology))) == derived


def test_documented_urns_exist(text: str, rendered: dict[str, Rendered]) -> None:
    urns = set(re.findall(r"urn:pulumi:[^'\s`]+", text))
    known = {resource["urn"] for resource in rendered["kscloud1"].document["resources"]}
    assert urns
    assert urns - known == set()


def test_documented_keys_are_declared(text: str) -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    # Config keys, not the type tokens inside URNs (`::kitestacks:hetzner:...`).
    keys = set(re.findall(r"(?<![:\w])kitestacks:([A-Za-z]+)\b(?!:)", text))
    assert keys
    assert keys - set(declared) == set()


def test_documented_address_is_catalogue(text: str, topology: Topology) -> None:
    address = topology.tailnet_ip("kscloud1")
    assert f"ssh-keygen -R {address}" in text
    assert f"`{address}` in the admin console" in text


def test_readme_links_hosts_doc() -> None:
    assert "(docs/hosts.md)" in (ROOT / "README.md").read_text()
