"""Rules for the Hetzner firewall, the Cloudflare tunnel and the tailnet policy."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy.resources import (
    HCLOUD_FIREWALL,
    TAILNET_KEY,
    TAILNET_POLICY,
    TUNNEL,
    TUNNEL_CONFIG,
    Context,
    Resource,
    Unknown,
    Violation,
    as_list,
    as_mapping,
    items_of,
    reveal,
    strings_of,
)

# Sources a firewall may open TCP to: private, shared (CGNAT, which Tailscale
# uses), loopback and link-local ranges. Anything else is on the internet.
NON_INTERNET_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
    )
)
NON_INTERNET_V6 = tuple(
    ipaddress.IPv6Network(network) for network in ("fc00::/7", "fe80::/10", "::1/128")
)


def is_internet(source: str) -> bool | None:
    """Return whether a firewall source range reaches beyond private networks; None if invalid."""
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv4Network):
        return not any(network.subnet_of(allowed) for allowed in NON_INTERNET_V4)
    return not any(network.subnet_of(allowed) for allowed in NON_INTERNET_V6)


def check_firewall(resource: Resource, context: Context) -> list[str]:
    """Check that the Hetzner firewall opens no inbound TCP port to the internet."""
    if resource.type != HCLOUD_FIREWALL:
        return []
    messages: list[str] = []
    for index, rule in enumerate(items_of(resource.inputs.get("rules"))):
        if rule.get("direction") != "in" or rule.get("protocol") != "tcp":
            continue
        for source in strings_of(rule.get("sourceIps")):
            internet = is_internet(source)
            if internet is None:
                messages.append(
                    f"rules[{index}] has source '{source}', which is not an IP range; "
                    "write one such as 100.64.0.0/10"
                )
            elif internet:
                messages.append(
                    f"rules[{index}] opens TCP port {rule.get('port', 'any')} to {source}, "
                    "which is on the internet; reach the host over the tailnet instead"
                )
    return messages


def is_catch_all(rule: Mapping[str, Any]) -> bool:
    """Return whether a tunnel ingress rule matches every request."""
    return rule.get("hostname") in (None, "", "*") and rule.get("path") in (None, "")


def check_tunnel_catch_all(resource: Resource, context: Context) -> list[str]:
    """Check that the tunnel's ingress rules end with exactly one catch-all rule."""
    if resource.type != TUNNEL_CONFIG:
        return []
    ingresses = items_of(as_mapping(reveal(resource.inputs.get("config"))).get("ingresses"))
    fix = "end the rules with one that has only service http_status:404"
    if not ingresses:
        return [f"has no ingress rules; {fix}"]
    messages = [
        f"ingresses[{index}] matches every request but is not the last rule, so the rules "
        "after it never match; move it to the end"
        for index, rule in enumerate(ingresses[:-1])
        if is_catch_all(rule)
    ]
    if not is_catch_all(ingresses[-1]):
        messages.append(
            f"the last ingress rule ({ingresses[-1].get('hostname')}) is not a catch-all, "
            f"and Cloudflare rejects such a configuration; {fix}"
        )
    return messages


def check_tunnel_config_source(resource: Resource, context: Context) -> list[str]:
    """Check that the tunnel is managed from Cloudflare from the start."""
    if resource.type != TUNNEL:
        return []
    source = reveal(resource.inputs.get("configSrc"))
    if source == "cloudflare" or isinstance(source, Unknown):
        return []
    return [
        f"has config_src '{source or 'local'}', and changing it later replaces the tunnel "
        "with a new id and token; set config_src to cloudflare"
    ]


def tailnet_policy(resource: Resource) -> tuple[Mapping[str, Any] | None, str | None]:
    """Return the parsed policy of a tailnet Acl, or the reason it cannot be parsed."""
    text = reveal(resource.inputs.get("acl"))
    if not isinstance(text, str):
        return None, None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"the policy is not valid JSON ({error}); write it as JSON"
    if not isinstance(document, dict):
        return None, "the policy is not a JSON object; write it as one"
    return as_mapping(document), None


def entries(section: Any, *keys: str) -> Iterator[tuple[str, str]]:
    """Yield (path, entry) of every string under `keys` in each item of a policy section."""
    for index, item in enumerate(as_list(section)):
        for key in keys:
            value = as_mapping(item).get(key)
            values: Sequence[Any] = [value] if isinstance(value, str) else as_list(value)
            for position, entry in enumerate(values):
                if isinstance(entry, str):
                    yield f"[{index}].{key}[{position}]", entry


def check_tailnet_wildcard(resource: Resource, context: Context) -> list[str]:
    """Check that no grant, ACL or SSH rule of the tailnet policy uses the `*` wildcard."""
    if resource.type != TAILNET_POLICY:
        return []
    policy, problem = tailnet_policy(resource)
    if policy is None:
        return [problem] if problem else []
    messages: list[str] = []
    for section in ("grants", "acls", "ssh"):
        for path, entry in entries(policy.get(section), "src", "dst"):
            if entry == "*" or entry.startswith("*:"):
                messages.append(
                    f"{section}{path} is '{entry}', which matches every device; name the "
                    "group or tag"
                )
    for path, entry in entries(policy.get("grants"), "ip"):
        if entry == "*":
            messages.append(
                f"grants{path} is '*', which opens every port and protocol; list the ports "
                "such as tcp:22"
            )
    return messages


def tag_of(entry: str) -> str | None:
    """Return the tag of a policy entry such as `tag:monk` or `tag:monk:22`, or None."""
    if not entry.startswith("tag:"):
        return None
    return ":".join(entry.split(":")[:2])


def owned_tags(policy: Mapping[str, Any] | None) -> set[str]:
    """Return the tags declared in a policy's tagOwners."""
    return set(as_mapping((policy or {}).get("tagOwners")))


def check_tailnet_tags_owned(resource: Resource, context: Context) -> list[str]:
    """Check that every tag the tailnet policy uses is declared in its tagOwners."""
    if resource.type != TAILNET_POLICY:
        return []
    policy, _ = tailnet_policy(resource)
    if policy is None:
        return []
    used: dict[str, str] = {}
    for section in ("grants", "acls", "ssh"):
        for path, entry in entries(policy.get(section), "src", "dst"):
            used.setdefault(tag_of(entry) or "", f"{section}{path}")
    for path, entry in entries(policy.get("tests"), "src", "accept", "deny"):
        used.setdefault(tag_of(entry) or "", f"tests{path}")
    used.pop("", None)
    owned = owned_tags(policy)
    return [
        f"{where} uses {tag}, which tagOwners does not declare; add {tag} to tagOwners"
        for tag, where in sorted(used.items())
        if tag not in owned
    ]


def check_tailnet_tests(resource: Resource, context: Context) -> list[str]:
    """Check that the tailnet policy carries tests for the control server to run."""
    if resource.type != TAILNET_POLICY:
        return []
    policy, _ = tailnet_policy(resource)
    if policy is None or policy.get("tests"):
        return []
    return [
        "the policy has no tests, so the control server accepts a policy that breaks a "
        "required flow; add accept and deny tests"
    ]


def check_tailnet_key_tags(resources: Sequence[Resource], context: Context) -> list[Violation]:
    """Check that every auth key's tags are owned by a tailnet policy of the same stack."""
    owned: set[str] = set()
    for resource in resources:
        if resource.type == TAILNET_POLICY:
            owned |= owned_tags(tailnet_policy(resource)[0])
    return [
        Violation(
            resource.urn,
            "tailnet-tags-owned",
            f"carries {tag}, which no tailnet policy of this stack owns, so Tailscale "
            "rejects the key; add the tag to tagOwners",
        )
        for resource in resources
        if resource.type == TAILNET_KEY
        for tag in strings_of(resource.inputs.get("tags"))
        if tag not in owned
    ]
