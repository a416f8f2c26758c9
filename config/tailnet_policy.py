"""The tailnet policy file, generated from the topology's private flows.

The policy uses `grants`, Tailscale's current access-control syntax, and a
`tests` block that the control server evaluates on every save, rejecting a
policy that breaks a required flow or opens a forbidden one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from config.topology import ADMINS, Topology

ADMIN_GROUP = "group:admins"


def host_tag(host: str) -> str:
    """Return the ACL tag of a host."""
    return f"tag:{host}"


def principal(source: str) -> str:
    """Return the policy principal of a flow source: the admin group or a host tag."""
    return ADMIN_GROUP if source == ADMINS else host_tag(source)


def policy(topology: Topology) -> dict[str, Any]:
    """Return the tailnet policy as a dict, with keys and lists sorted for quiet diffs."""
    site = topology.model.site
    hosts = sorted(topology.model.catalogue.hosts)

    ports: dict[tuple[str, str], set[int]] = defaultdict(set)
    for flow in topology.flows:
        ports[(principal(flow.source), host_tag(flow.destination))].add(flow.port)

    grants = [
        {"src": [source], "dst": [destination], "ip": [f"tcp:{port}" for port in sorted(numbers)]}
        for (source, destination), numbers in sorted(ports.items())
    ]

    document: dict[str, Any] = {
        "groups": {ADMIN_GROUP: sorted(site.admin_users)},
        "tagOwners": {host_tag(host): [ADMIN_GROUP] for host in hosts},
        "grants": grants,
        "tests": policy_tests(topology, ports),
    }
    return document


def policy_tests(
    topology: Topology, ports: dict[tuple[str, str], set[int]]
) -> list[dict[str, Any]]:
    """Return an accept test per required flow and deny tests for flows that must stay closed."""
    hosts = sorted(topology.model.catalogue.hosts)
    tests: list[dict[str, Any]] = []
    for source in hosts:
        tag = host_tag(source)
        accept = sorted(
            f"{destination}:{port}"
            for (principal_name, destination), numbers in ports.items()
            if principal_name == tag
            for port in numbers
        )
        deny = sorted(
            f"{host_tag(destination)}:{port}"
            for destination in hosts
            if destination != source
            for port in closed_ports(topology, destination)
            if port not in ports.get((tag, host_tag(destination)), set())
        )
        test: dict[str, Any] = {"src": tag, "proto": "tcp"}
        if accept:
            test["accept"] = accept
        if deny:
            test["deny"] = deny
        if accept or deny:
            tests.append(test)
    return tests


def closed_ports(topology: Topology, host: str) -> list[int]:
    """Return sensitive ports of a host that no flow may open by accident: SSH and databases."""
    ports = {22}
    for name in topology.placements[host]:
        spec = topology.service(name)
        if spec.published_port is not None and spec.public is None:
            ports.add(spec.published_port)
    return sorted(ports)


def policy_json(topology: Topology) -> str:
    """Return the policy as the JSON text the Tailscale API stores."""
    return json.dumps(policy(topology), indent=2, sort_keys=True) + "\n"
