"""The tailnet policy file, generated from the topology's private flows.

Every host joins the tailnet with a tag named after it (`tag:monk`,
`tag:kscloud1`), and the admins' own devices are covered by `group:admins`.
The policy uses `grants`, Tailscale's current access-control syntax, with
exactly one `tcp:PORT` entry per derived flow and no wildcard.

One flow table drives both the grants and the `tests` block. Each required
flow gets an accept test. The other ports that matter on a host are SSH, the
Docker API ports and every port a container listens on or publishes, and
each gets a deny test for every identity that has no flow to it. Tailscale's
control server runs the tests on every save and rejects a policy that fails
one, and config/tailnet_eval.py runs the same tests offline.

SSH is plain OpenSSH on tcp:22, not Tailscale SSH (the policy has no `ssh`
section, and kscloud1 joins with `--ssh=false`). The Docker provider and the
readiness command log in with the deploy user's SSH keys, so a shell needs
both a grant and a key: a stolen tailnet session alone opens nothing.
Tailscale SSH would accept the tailnet identity alone, and its check mode
prompts for a browser login, which an unattended `pulumi up` cannot answer.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from config.model import DNS_LABEL, Model
from config.tailnet_eval import Access
from config.topology import ADMINS, SSH_PORT, Topology

ADMIN_GROUP = "group:admins"
# The Docker engine's TCP API. The engines here are managed over SSH only, so
# the policy keeps these closed and its tests check that explicitly.
DOCKER_API_PORTS = (2375, 2376)
# A Tailscale login: `name@example.com`, or `name@github` for GitHub accounts.
LOGIN = re.compile(r"^[^@\s:*]+@[^@\s:*]+$")
SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|"
    r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=* ?.*$"
)


def host_tag(host: str) -> str:
    """Return the ACL tag of a host."""
    return f"tag:{host}"


def principal(source: str) -> str:
    """Return the grant source of a flow source: the admin group or a host tag."""
    return ADMIN_GROUP if source == ADMINS else host_tag(source)


def identities(topology: Topology, source: str) -> tuple[str, ...]:
    """Return the identities that policy tests use for a flow source.

    Tests name each admin login instead of the group. A user source is
    checked against that user's own devices, which a grant to the group must
    open. With a group source, the control server would pick the member.
    """
    if source == ADMINS:
        return tuple(sorted(topology.model.site.admin_users))
    return (host_tag(source),)


@dataclass(frozen=True)
class FlowTable:
    """Every connection the policy must accept, and every one it must deny."""

    required: tuple[Access, ...]
    forbidden: tuple[Access, ...]


def candidate_ports(topology: Topology, host: str) -> set[int]:
    """Return the ports of a host that the policy must decide on explicitly."""
    ports = {SSH_PORT, *DOCKER_API_PORTS}
    for name in topology.placements[host]:
        spec = topology.service(name)
        ports |= {port for port in (spec.port, spec.published_port) if port is not None}
        if spec.metrics is not None:
            ports |= {spec.metrics.port, topology.metrics_host_port(name)}
    # A port that a flow opens anywhere is checked on every host, so a grant
    # to the wrong host fails a test too.
    ports |= {flow.port for flow in topology.flows}
    return ports


def flow_table(topology: Topology) -> FlowTable:
    """Return the required and forbidden connections, both sorted."""
    required = {
        Access(identity, host_tag(flow.destination), flow.port)
        for flow in topology.flows
        for identity in identities(topology, flow.source)
    }
    sources = [ADMINS, *sorted(topology.model.catalogue.hosts)]
    every_identity = [identity for source in sources for identity in identities(topology, source)]
    forbidden = {
        Access(identity, host_tag(host), port)
        for host in topology.model.catalogue.hosts
        for port in candidate_ports(topology, host)
        for identity in every_identity
        if identity != host_tag(host)
    }
    return FlowTable(tuple(sorted(required)), tuple(sorted(forbidden - required)))


def grants(topology: Topology) -> list[dict[str, Any]]:
    """Return one grant per source and destination, listing each derived port."""
    ports: dict[tuple[str, str], set[int]] = defaultdict(set)
    for flow in topology.flows:
        ports[(principal(flow.source), host_tag(flow.destination))].add(flow.port)
    return [
        {"src": [source], "dst": [destination], "ip": [f"tcp:{port}" for port in sorted(numbers)]}
        for (source, destination), numbers in sorted(ports.items())
    ]


def policy_tests(table: FlowTable) -> list[dict[str, Any]]:
    """Return one test per source identity: its required flows and its closed ports."""
    accept: dict[str, list[Access]] = defaultdict(list)
    deny: dict[str, list[Access]] = defaultdict(list)
    for access in table.required:
        accept[access.source].append(access)
    for access in table.forbidden:
        deny[access.source].append(access)
    tests: list[dict[str, Any]] = []
    for source in sorted(set(accept) | set(deny)):
        test: dict[str, Any] = {"src": source, "proto": "tcp"}
        if accept[source]:
            test["accept"] = [f"{item.destination}:{item.port}" for item in accept[source]]
        if deny[source]:
            test["deny"] = [f"{item.destination}:{item.port}" for item in deny[source]]
        tests.append(test)
    return tests


def policy(topology: Topology) -> dict[str, Any]:
    """Return the tailnet policy as a dict, with keys and lists sorted for quiet diffs."""
    site = topology.model.site
    hosts = sorted(topology.model.catalogue.hosts)
    return {
        "groups": {ADMIN_GROUP: sorted(site.admin_users)},
        # Admins tag the hosts: the API key that creates kscloud1's auth key
        # belongs to an admin, and monk is tagged by hand when it joins.
        "tagOwners": {host_tag(host): [ADMIN_GROUP] for host in hosts},
        "grants": grants(topology),
        "tests": policy_tests(flow_table(topology)),
    }


def policy_json(topology: Topology) -> str:
    """Return the policy as the JSON text the Tailscale API stores."""
    return json.dumps(policy(topology), indent=2, sort_keys=True) + "\n"


def check_tailnet(model: Model) -> list[str]:
    """Return the config problems that would make the policy or the cloud host unusable."""
    site = model.site
    problems: list[str] = []

    for host in model.catalogue.hosts:
        if not DNS_LABEL.match(host):
            problems.append(
                f"hosts.{host}: '{host}' cannot be a Tailscale tag and hostname; use "
                "lowercase letters, digits and inner hyphens"
            )
    if not model.is_upstream:
        return problems

    stack = f"--stack {site.stack}"
    users_key = f"{site.project}:adminUsers"
    if not site.admin_users:
        problems.append(
            f"{users_key}: empty; the tailnet policy grants SSH to these Tailscale logins "
            "and its tests need at least one; run "
            f"`pulumi config set --path '{users_key}[0]' you@github {stack}`"
        )
    for index, login in enumerate(site.admin_users):
        if not LOGIN.match(login):
            problems.append(
                f"{users_key}[{index}]: '{login}' is not a Tailscale login; write it as "
                "shown in the admin console, for example you@github or you@example.com"
            )

    keys_key = f"{site.project}:adminSshKeys"
    if not site.admin_ssh_keys:
        problems.append(
            f"{keys_key}: empty; the cloud host would have no key to log in with; run "
            f"`pulumi config set --path '{keys_key}[0]' \"$(cat ~/.ssh/id_ed25519.pub)\" {stack}`"
        )
    for index, key in enumerate(site.admin_ssh_keys):
        if not SSH_PUBLIC_KEY.match(key):
            problems.append(
                f"{keys_key}[{index}]: not an OpenSSH public key; paste one line of a .pub "
                "file, such as `ssh-ed25519 AAAA... you@laptop`"
            )

    labels = site.tailnet_domain.split(".")
    if len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
        problems.append(
            f"{site.project}:tailnetDomain: '{site.tailnet_domain}' is not a domain name; "
            "set the MagicDNS name from the admin console, for example tail1234.ts.net"
        )
    return problems
