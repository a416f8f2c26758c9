"""Offline evaluator of the network grants in a tailnet policy.

It decides whether source A may open port P on destination B from the
policy document alone, and runs the policy's own `tests` block through that
decision, so a policy bug fails the test suite before Tailscale's control
server receives the policy. It lives in config/ because it is pure Python with no Pulumi
import: the tests, the renderer and a policy pack can all use it.

It understands the subset of Tailscale's policy syntax that this project
generates and a little more: users, `group:`, `tag:`, `autogroup:member`,
`autogroup:tagged` and `*` as sources and destinations, and `ip` entries
such as `*`, `22`, `tcp:22`, `tcp:8000-8100` or `tcp:*`. Anything else (IP
addresses, host aliases, an `acls` section, application grants) raises
UnsupportedPolicyError, so a policy it cannot judge fails loudly instead of
passing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Protocols that a bare port entry such as "22" opens here. The generated
# policy always names tcp, so this reading never decides one of its results.
PORT_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
USER_LOGIN = re.compile(r"^[^@\s:*]+@[^@\s:*]+$")
TAG = re.compile(r"^tag:[A-Za-z0-9][A-Za-z0-9-]*$")
GROUP = re.compile(r"^group:[A-Za-z0-9][A-Za-z0-9._-]*$")
# The sections this evaluator reads. Any other access-control section could
# change the result, so its presence is an error.
KNOWN_SECTIONS = frozenset({"groups", "tagOwners", "grants", "tests"})


class UnsupportedPolicyError(ValueError):
    """A policy construct that the evaluator cannot judge."""


@dataclass(frozen=True, order=True)
class Access:
    """One connection: a source identity opening a port on a destination."""

    source: str
    destination: str
    port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination}:{self.port}/{self.protocol}"


@dataclass(frozen=True)
class TestResult:
    """The outcome of one destination of one entry of the policy's `tests` block."""

    access: Access
    expected: bool
    actual: bool

    @property
    def passed(self) -> bool:
        return self.expected == self.actual


@dataclass(frozen=True)
class PortRange:
    """One `ip` entry of a grant: a protocol (None for any) and a port range."""

    protocol: str | None
    first: int
    last: int

    def matches(self, protocol: str, port: int) -> bool:
        if self.protocol is None:
            if protocol not in PORT_PROTOCOLS:
                return False
        elif self.protocol != protocol:
            return False
        return self.first <= port <= self.last


def parse_port_range(entry: str) -> PortRange:
    """Parse an `ip` entry such as `*`, `22`, `tcp:22`, `tcp:8000-8100` or `udp:*`."""
    protocol, _, ports = entry.rpartition(":")
    if ports == "*":
        first, last = 0, 65535
    elif re.fullmatch(r"\d+", ports):
        first = last = int(ports)
    elif re.fullmatch(r"\d+-\d+", ports):
        low, high = ports.split("-")
        first, last = int(low), int(high)
    else:
        raise UnsupportedPolicyError(
            f"ip entry '{entry}': expected PORT, PORT-PORT or * after the colon"
        )
    if not 0 <= first <= last <= 65535:
        raise UnsupportedPolicyError(f"ip entry '{entry}': ports must be 0-65535, low to high")
    if protocol not in ("", "tcp", "udp", "sctp", "icmp"):
        raise UnsupportedPolicyError(f"ip entry '{entry}': unknown protocol '{protocol}'")
    return PortRange(protocol or None, first, last)


def parse_destination(text: str) -> tuple[str, int]:
    """Split a test destination such as `tag:monk:22` into the identity and the port."""
    identity, _, port = text.rpartition(":")
    if not identity or not port.isdigit():
        raise UnsupportedPolicyError(f"test destination '{text}': expected IDENTITY:PORT")
    return identity, int(port)


class PolicyEvaluator:
    """Evaluate the `grants` of a tailnet policy for users, groups and tags."""

    def __init__(self, policy: Mapping[str, Any]) -> None:
        unknown = sorted(set(policy) - KNOWN_SECTIONS)
        if unknown:
            raise UnsupportedPolicyError(f"sections {', '.join(unknown)} are not evaluated offline")
        self.groups: dict[str, tuple[str, ...]] = {
            str(name): tuple(str(member) for member in members)
            for name, members in dict(policy.get("groups", {})).items()
        }
        self.tag_owners: dict[str, tuple[str, ...]] = {
            str(tag): tuple(str(owner) for owner in owners)
            for tag, owners in dict(policy.get("tagOwners", {})).items()
        }
        self.grants: list[tuple[tuple[str, ...], tuple[str, ...], tuple[PortRange, ...]]] = []
        for index, grant in enumerate(list(policy.get("grants", []))):
            item: Mapping[str, Any] = grant
            if "app" in item or "via" in item or "srcPosture" in item:
                raise UnsupportedPolicyError(
                    f"grants[{index}]: only network grants (ip) are evaluated"
                )
            sources = tuple(str(source) for source in item["src"])
            destinations = tuple(str(destination) for destination in item["dst"])
            for selector in (*sources, *destinations):
                self._check_selector(selector, f"grants[{index}]")
            ranges = tuple(parse_port_range(str(entry)) for entry in item["ip"])
            self.grants.append((sources, destinations, ranges))
        self.tests: list[Mapping[str, Any]] = list(policy.get("tests", []))

    def _check_selector(self, selector: str, where: str) -> None:
        if selector in ("*", "autogroup:member", "autogroup:tagged"):
            return
        if TAG.match(selector) or USER_LOGIN.match(selector):
            return
        if GROUP.match(selector):
            if selector not in self.groups:
                raise UnsupportedPolicyError(f"{where}: '{selector}' is not defined under groups")
            return
        raise UnsupportedPolicyError(f"{where}: selector '{selector}' is not evaluated offline")

    def members(self, identity: str) -> tuple[str, ...]:
        """Return the single identities that a source stands for: a group's users, else itself."""
        if GROUP.match(identity):
            if identity not in self.groups:
                raise UnsupportedPolicyError(f"'{identity}' is not defined under groups")
            return self.groups[identity]
        if TAG.match(identity) or USER_LOGIN.match(identity):
            return (identity,)
        raise UnsupportedPolicyError(f"identity '{identity}' is not a user, group or tag")

    def _check_destination(self, destination: str) -> None:
        if not (TAG.match(destination) or USER_LOGIN.match(destination)):
            raise UnsupportedPolicyError(f"destination '{destination}' is not a tag or a user")

    def selects(self, selector: str, identity: str) -> bool:
        """Return whether a grant's src or dst selector covers one user or tag."""
        if selector == "*":
            return True
        if selector == "autogroup:member":
            return USER_LOGIN.match(identity) is not None
        if selector == "autogroup:tagged":
            return TAG.match(identity) is not None
        if GROUP.match(selector):
            return identity in self.groups.get(selector, ())
        return selector == identity

    def allows(self, source: str, destination: str, port: int, protocol: str = "tcp") -> bool:
        """Return whether every member of `source` may open `port` on `destination`.

        A group source is allowed only if each of its users is, and an empty
        group is never allowed. A destination is a tag or a user's devices.
        """
        sources = self.members(source)
        self._check_destination(destination)
        if not sources:
            return False
        return all(self._allows_one(one, destination, port, protocol) for one in sources)

    def denies(self, source: str, destination: str, port: int, protocol: str = "tcp") -> bool:
        """Return whether no member of `source` may open `port` on `destination`."""
        sources = self.members(source)
        self._check_destination(destination)
        return not any(self._allows_one(one, destination, port, protocol) for one in sources)

    def _allows_one(self, source: str, destination: str, port: int, protocol: str) -> bool:
        if source == destination and TAG.match(source):
            # A device's traffic to itself never crosses the tailnet filter.
            return True
        return any(
            any(self.selects(selector, source) for selector in sources)
            and any(self.selects(selector, destination) for selector in destinations)
            and any(item.matches(protocol, port) for item in ranges)
            for sources, destinations, ranges in self.grants
        )

    def run_tests(self) -> list[TestResult]:
        """Evaluate every destination of the policy's `tests` block, in order."""
        results: list[TestResult] = []
        for index, test in enumerate(self.tests):
            source = str(test["src"])
            protocol = str(test.get("proto", "tcp"))
            for key, expected in (("accept", True), ("deny", False)):
                for text in test.get(key, []):
                    destination, port = parse_destination(str(text))
                    if expected:
                        actual = self.allows(source, destination, port, protocol)
                    else:
                        actual = not self.denies(source, destination, port, protocol)
                    access = Access(source, destination, port, protocol)
                    results.append(TestResult(access, expected, actual))
            if "accept" not in test and "deny" not in test:
                raise UnsupportedPolicyError(f"tests[{index}]: needs `accept` or `deny`")
        return results


def structural_problems(policy: Mapping[str, Any]) -> list[str]:
    """Return what makes a policy broader or less checkable than this project allows.

    A grant names no wildcard source, destination or port range. Every tag in
    a grant or test has an entry under `tagOwners`, every group is defined
    and has members, and a `tests` block exists.
    """
    problems: list[str] = []
    groups: Mapping[str, Sequence[str]] = policy.get("groups", {})
    owners: Mapping[str, Sequence[str]] = policy.get("tagOwners", {})
    for name, members in groups.items():
        if not members:
            problems.append(f"groups.{name}: empty group")
    named: list[tuple[str, str]] = []
    for index, grant in enumerate(policy.get("grants", [])):
        where = f"grants[{index}]"
        for key in ("src", "dst"):
            for selector in grant.get(key, []):
                if "*" in selector or selector.startswith("autogroup:"):
                    problems.append(f"{where}.{key}: '{selector}' is broader than one role")
                named.append((where, selector))
        for entry in grant.get("ip", []):
            if entry.endswith("*") or "-" in entry:
                problems.append(f"{where}.ip: '{entry}' opens more than one port")
    for index, test in enumerate(policy.get("tests", [])):
        where = f"tests[{index}]"
        named.append((where, str(test.get("src", ""))))
        for key in ("accept", "deny"):
            for text in test.get(key, []):
                named.append((where, str(text).rpartition(":")[0]))
    for where, selector in named:
        if TAG.match(selector) and selector not in owners:
            problems.append(f"{where}: '{selector}' has no entry under tagOwners")
        if GROUP.match(selector) and selector not in groups:
            problems.append(f"{where}: '{selector}' is not defined under groups")
    if not policy.get("tests"):
        problems.append("tests: missing; the control server checks nothing on save")
    return problems
